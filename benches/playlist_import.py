#!/usr/bin/env python3
"""Times `skipless playlist import` and `export` of a long M3U8 on the fixture corpus.

Usage: python3 benches/playlist_import.py [--entries 10000] [--bin target/release/skipless]

The playlist mixes relative paths with #EXTINF, percent-encoded file:// URIs and one entry in ten
that is not in the library (each reported by line). Prints wall time and peak RSS of the import,
the export's time, and checks that importing the export gives the same entries.
"""
import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, cwd):
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    peak_kb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return out, seconds, peak_kb


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--bin", default=os.path.join(ROOT, "target/release/skipless"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        music = os.path.join(tmp, "music dir")
        shutil.copytree(os.path.join(ROOT, "tests/fixtures/corpus"), music)
        skipless = [args.bin, "--data-dir", os.path.join(tmp, "data"), "--config", "/dev/null"]
        subprocess.run(skipless + ["scan", music], check=True, capture_output=True)
        files = sorted(f for f in os.listdir(music) if not f.endswith(".txt"))
        lines = ["#EXTM3U"]
        for i in range(args.entries):
            name = files[i % len(files)]
            if i % 10 == 9:
                lines += [f"#EXTINF:180,Someone - Missing {i}", f"music dir/missing-{i}.flac"]
            elif i % 2 == 0:
                lines += [f"#EXTINF:100,Artist - {name}", f"music dir/{name}"]
            else:
                lines.append("file://" + urllib.parse.quote(os.path.join(music, name)))
        playlist = os.path.join(tmp, "long.m3u8")
        with open(playlist, "w") as f:
            f.write("\n".join(lines) + "\n")

        out, seconds, peak_kb = run(skipless + ["playlist", "import", playlist], tmp)
        summary = [l for l in (out.stdout + out.stderr).splitlines() if not l.startswith("  line")]
        print(f"import of {args.entries} entries: {seconds:.3f} s wall, peak RSS {peak_kb / 1024:.1f} MB")
        print("  " + " / ".join(summary))
        exported = os.path.join(tmp, "out.m3u8")
        _, seconds, _ = run(skipless + ["playlist", "export", "long", "--out", exported], tmp)
        print(f"export: {seconds:.3f} s wall")
        run(skipless + ["playlist", "import", exported, "--name", "again"], tmp)
        listing = subprocess.run(skipless + ["playlist", "list", "--json"], capture_output=True, text=True, check=True)
        print("round trip:", "same entries" if listing.stdout.count(f'"entries":{args.entries}') == 2 else listing.stdout)


if __name__ == "__main__":
    main()
