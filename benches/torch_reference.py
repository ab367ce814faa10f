"""PyTorch reference for `cargo bench --bench train`: the same model, shapes, loss and optimiser.

Run by hand (not part of CI):

    pip install torch numpy
    python3 benches/torch_reference.py            # 2 threads, like the Rust bench on 2 cores
    SKIPLESS_BENCH_STEPS=10 python3 benches/torch_reference.py --threads 1
    python3 benches/torch_reference.py --compare  # both, interleaved, with the ratio table

`--compare` runs `cargo bench --bench train` (the fused step) and this model shape by shape, on 1
and 2 threads, alternating the two `--rounds` times so that both see the same machine (shared
cloud cores drift by tens of percent within minutes), and prints the best wall time of each with
skipless / PyTorch.

The model follows src/recommend/model.rs: item embeddings are the sum of id, artist, album, genre
and year embeddings; learned positions and a skip embedding; 2 post-LayerNorm causal Transformer
blocks with a ReLU FFN; a Linear + GELU (tanh) head scored against the item embeddings. The loss
is the sampled softmax over the batch's distinct next-item targets plus 128 random items, plus the
skip-contrastive InfoNCE term (cosine / 0.1 against the session's skipped tracks), with AdamW
(lr 1e-3, weight decay 0.01). Each line prints wall and process CPU time per step like the Rust
bench.

The default model (`DefaultModel`, `default_loss`) adds a gap-bucket input embedding and scores
`h.e_j + sum_k (w_k + u_k.h) f_kj + 2 p_j` over 17 history features and the finish prior p with
the full softmax and the not-to-recommend term, as src/recommend/step does; it trains as the
Transformer's stage does (lr 3e-3, the embedding tables at lr 0 but in the clipping norm,
gradients clipped to norm 1).
"""

import argparse
import math
import os
import random
import re
import subprocess
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MASKED = -1e9
MAX_NEGATIVES = 64


class SeqModel(nn.Module):
    def __init__(self, n_items, features, d, layers, heads, ffn, max_len, dropout):
        super().__init__()
        self.d, self.heads, self.dropout = d, heads, dropout
        self.register_buffer("features", features)  # [V + 1, 4]
        sizes = [int(features[:, k].max()) + 1 for k in range(4)]
        self.item = nn.Embedding(n_items + 1, d)
        self.side = nn.ModuleList(nn.Embedding(n, d) for n in sizes)
        self.position = nn.Embedding(max_len, d)
        self.skip = nn.Embedding(2, d)
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            self.blocks.append(
                nn.ModuleDict(
                    dict(
                        q=nn.Linear(d, d), k=nn.Linear(d, d), v=nn.Linear(d, d), o=nn.Linear(d, d),
                        ln1=nn.LayerNorm(d), ffn1=nn.Linear(d, ffn), ffn2=nn.Linear(ffn, d), ln2=nn.LayerNorm(d),
                    )
                )
            )
        self.head = nn.Linear(d, d)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)

    def embed(self, ids):
        e = self.item(ids)
        f = self.features[ids]
        for k, table in enumerate(self.side):
            e = e + table(f[..., k])
        return e

    def attention(self, x, blk, mask):
        b, t, d = x.shape
        h, dh = self.heads, d // self.heads
        q, k, v = (blk[n](x).view(b, t, h, dh).transpose(1, 2) for n in "qkv")
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + mask, dim=-1)
        return blk["o"]((w @ v).transpose(1, 2).reshape(b, t, d))

    def encode(self, inputs, skips):
        b, t, d = inputs.shape
        x = inputs + self.position.weight[:t] + self.skip(skips)
        x = F.dropout(x, self.dropout, self.training)
        mask = torch.triu(torch.full((t, t), MASKED), diagonal=1)
        for blk in self.blocks:
            a = F.dropout(self.attention(x, blk, mask), self.dropout, self.training)
            x = blk["ln1"](x + a)
            f = blk["ffn2"](torch.relu(blk["ffn1"](x)))
            x = blk["ln2"](x + F.dropout(f, self.dropout, self.training))
        return F.gelu(self.head(x), approximate="tanh")


def normalize(x):
    return x / torch.sqrt((x * x).sum(-1, keepdim=True) + 1e-8)


def loss_fn(model, batch, n_items, negatives_n, tau=0.1, lam=1.0):
    ids, skips = batch["ids"], batch["skips"]
    b, t = ids.shape
    k = batch["negatives"].shape[1]
    targets = batch["rec_targets"]
    candidates = torch.unique(torch.cat([targets, torch.randint(0, n_items, (negatives_n,))]))
    slots = torch.searchsorted(candidates, targets)
    all_ids = torch.cat([ids.flatten(), batch["positives"].flatten(), batch["negatives"].flatten(), candidates + 1])
    rows = model.embed(all_ids)
    inputs = rows[: b * t].view(b, t, -1)
    pos_e = rows[b * t : 2 * b * t].view(b, t, -1)
    neg_e = rows[2 * b * t : 2 * b * t + b * k].view(b, k, -1)
    items = rows[2 * b * t + b * k :]
    hidden = model.encode(inputs, skips)
    h = hidden.reshape(b * t, -1)[batch["rec_positions"]]
    rec = F.cross_entropy(h @ items.T, slots)
    a, p, n = normalize(hidden), normalize(pos_e), normalize(neg_e)
    pos = (a * p).sum(-1, keepdim=True)
    neg = a @ n.transpose(1, 2)
    logits = torch.cat([pos, neg], -1) / tau + batch["cl_mask"]
    per_position = torch.logsumexp(logits, -1) - pos.squeeze(-1) / tau
    valid = batch["cl_valid"]
    cl = (per_position * valid).sum() / valid.sum().clamp(min=1.0)
    return rec + lam * cl


def make_batch(n_items, t, rng):
    """128 random sessions of t + 1 plays (40% skipped), one row each, as the Rust bench builds."""
    rows = []
    for _ in range(128):
        plays = [(rng.randrange(1, n_items + 1), rng.random() < 0.4) for _ in range(t + 1)]
        negatives = []
        for item, skipped in plays:
            if skipped and item not in negatives and len(negatives) < MAX_NEGATIVES:
                negatives.append(item)
        next_listen, upcoming = [0] * len(plays), 0
        for g in range(len(plays) - 1, -1, -1):
            next_listen[g] = upcoming
            if not plays[g][1]:
                upcoming = plays[g][0]
        rows.append((plays, negatives, next_listen))
    k = max(1, max(len(r[1]) for r in rows))
    b = len(rows)
    ids = np.zeros((b, t), np.int64)
    skips = np.zeros((b, t), np.int64)
    positives = np.zeros((b, t), np.int64)
    negatives = np.zeros((b, k), np.int64)
    cl_mask = np.full((b, t, k + 1), MASKED, np.float32)
    cl_valid = np.zeros((b, t), np.float32)
    rec_positions, rec_targets = [], []
    for r, (plays, negs, next_listen) in enumerate(rows):
        negatives[r, : len(negs)] = negs
        for i in range(t):
            ids[r, i], skips[r, i] = plays[i][0], int(plays[i][1])
            if not plays[i + 1][1]:
                rec_positions.append(r * t + i)
                rec_targets.append(plays[i + 1][0] - 1)
            positive = 0 if plays[i][1] else next_listen[i]
            usable = [j for j, n in enumerate(negs) if n != positive]
            if positive and usable:
                positives[r, i] = positive
                cl_valid[r, i] = 1.0
                cl_mask[r, i, 0] = 0.0
                cl_mask[r, i, [1 + j for j in usable]] = 0.0
    as_t = torch.from_numpy
    return dict(
        ids=as_t(ids), skips=as_t(skips), positives=as_t(positives), negatives=as_t(negatives),
        cl_mask=as_t(cl_mask), cl_valid=as_t(cl_valid),
        rec_positions=torch.tensor(rec_positions), rec_targets=torch.tensor(rec_targets),
    )


N_FEATURES = 17
GAP_BUCKETS = 8
# The served finish term's weight: training adds the finish prior to the logits with it.
FINISH_PRIOR_WEIGHT = 2.0


def default_step_setup(n_items=4517, b=16, t=50, seed=0):
    """The default model's batch: 16 cross-session rows of 50 plays, every position with a next play
    a query (45% of them skipped: the not-to-recommend term), and each query's 17 history features
    and finish prior over the catalogue. The features are made here, outside the timed step, while the Rust step
    rebuilds them from its timeline inside the step: the comparison favours PyTorch."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, n_items + 1, (b, t), generator=g)
    skips = (torch.rand(b, t, generator=g) < 0.45).long()
    gaps = torch.randint(0, GAP_BUCKETS, (b, t), generator=g)
    q_at = torch.arange(b * t)
    q_target = torch.randint(0, n_items, (b * t,), generator=g)
    q_skipped = torch.rand(b * t, generator=g) < 0.45
    feats = torch.zeros(b * t, N_FEATURES, n_items)
    played = torch.rand(n_items, generator=g) < 0.6
    for k in range(N_FEATURES):
        if k in (0, 5, 6, 13, 16):  # co-occurrence, in-session flags, same artist and album: sparse
            cols = torch.randint(0, n_items, (b * t, 8), generator=g)
            feats[torch.arange(b * t)[:, None], k, cols] = 1.0
        else:  # per-track history: dense over the tracks played so far
            feats[:, k, :] = torch.rand(b * t, n_items, generator=g) * played
    prior = (torch.rand(b * t, n_items, generator=g) - 0.5) * played
    return dict(
        ids=ids, skips=skips, gaps=gaps, q_at=q_at, q_target=q_target, q_skipped=q_skipped,
        features=feats, finish_prior=prior,
    )


class DefaultModel(SeqModel):
    """SeqModel with the default model's additions: a gap-bucket input embedding and the history
    features' weights w [K] and context map U [K, d]."""

    def __init__(self, n_items, features, d, layers, heads, ffn, max_len, dropout):
        super().__init__(n_items, features, d, layers, heads, ffn, max_len, dropout)
        self.gap = nn.Embedding(GAP_BUCKETS, d)
        nn.init.normal_(self.gap.weight, std=0.02)
        self.w = nn.Parameter(torch.zeros(N_FEATURES))
        self.u = nn.Parameter(torch.zeros(N_FEATURES, d))


def default_loss(model, batch, n_items, ntr_lambda=0.5):
    """Full softmax of h.e_j + sum_k (w_k + u_k.h) f_kj + 2 finish_prior_j; cross-entropy where the
    next play was finished, -log(1 - p) of the skipped track where it was skipped."""
    ids = batch["ids"]
    b, t = ids.shape
    inputs = model.embed(ids) + model.gap(batch["gaps"])
    hidden = model.encode(inputs, batch["skips"])
    h = hidden.reshape(b * t, -1)[batch["q_at"]]
    items = model.embed(torch.arange(1, n_items + 1))
    context = model.w + h @ model.u.T
    logits = (
        h @ items.T
        + torch.einsum("qk,qkv->qv", context, batch["features"])
        + FINISH_PRIOR_WEIGHT * batch["finish_prior"]
    )
    nll = torch.logsumexp(logits, -1) - logits.gather(1, batch["q_target"][:, None]).squeeze(1)
    skipped = batch["q_skipped"]
    rec = nll[~skipped].mean()
    ntr = -torch.log1p(-torch.exp(-nll[skipped]).clamp(max=1 - 1e-6)).mean()
    return rec + ntr_lambda * ntr


def train_default_steps(steps, n_items=4517):
    """The Transformer's stage of `skipless train`: lr 3e-3, the item and side-feature tables at
    learning rate 0 (their gradients computed all the same: they count in the clipping norm),
    gradients clipped to norm 1."""
    torch.manual_seed(1)
    model = DefaultModel(n_items, features_of(n_items), 64, 2, 2, 64, 50, 0.2)
    model.train()
    tables = [model.item.weight, *(side.weight for side in model.side)]
    rest = [p for p in model.parameters() if all(p is not t for t in tables)]
    params = tables + rest
    opt = torch.optim.AdamW(
        [dict(params=tables, lr=0.0), dict(params=rest)], lr=3e-3, weight_decay=0.01
    )
    batch = default_step_setup(n_items)
    wall, cpu = [], []
    for step in range(steps + 2):
        start, start_cpu = time.perf_counter(), time.process_time()
        loss = default_loss(model, batch, n_items)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step >= 2:
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    print(
        f"train default model d=64 layers=2 heads=2 T=50 B=16 items={n_items} full softmax+17 features+finish prior+NTR: "
        f"{np.median(wall) * 1e3:.1f} ms/step wall, {np.median(cpu) * 1e3:.1f} ms/step cpu (median of {steps})",
        flush=True,
    )
    return float(np.median(wall) * 1e3)


def features_of(n_items):
    """The Rust bench's catalogue: artist i/10, album i/12, genre i%20, year 1960 + i%60 in 5-year buckets."""
    i = torch.arange(n_items)
    f = torch.stack([i // 10 + 1, i // 12 + 1, i % 20 + 1, 1 + (1960 + i % 60 - 1950) // 5], 1)
    return torch.cat([torch.zeros(1, 4, dtype=torch.long), f])


def train_steps(heads, t, n_items, steps):
    """Times `steps` training steps; prints the bench line and returns the median wall ms/step."""
    torch.manual_seed(1)
    rng = random.Random(0)
    model = SeqModel(n_items, features_of(n_items), 64, 2, heads, 64, t, 0.2)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    batch = make_batch(n_items, t, rng)
    wall, cpu = [], []
    for step in range(steps + 2):
        start, start_cpu = time.perf_counter(), time.process_time()
        loss = loss_fn(model, batch, n_items, 128)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step >= 2:
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    print(
        f"train d=64 layers=2 heads={heads} T={t} B=128 items={n_items} neg=128+CL: "
        f"{np.median(wall) * 1e3:.1f} ms/step wall, {np.median(cpu) * 1e3:.1f} ms/step cpu (median of {steps})",
        flush=True,
    )
    return float(np.median(wall) * 1e3)


SHAPES = [(2, 50, 10_000), (1, 50, 10_000), (2, 200, 100_000)]


def skipless_step_ms(words, threads, steps):
    """The fused step's median wall ms/step from `cargo bench --bench train -- WORDS` on `threads` threads."""
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), SKIPLESS_BENCH_STEPS=str(steps))
    out = subprocess.run(
        ["cargo", "bench", "--quiet", "--bench", "train", "--", *words],
        env=env, capture_output=True, text=True, check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    ).stdout
    match = re.search(r"([0-9.]+) ms/step wall", out)
    if not match:
        raise SystemExit(f"no step time in the Rust bench's output:\n{out}")
    return float(match.group(1))


def compare(rounds, steps):
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for heads, t, n_items in SHAPES:
            shape_steps = steps if t <= 50 else max(1, (steps + 2) // 3)
            ours, theirs = [], []
            for _ in range(rounds):
                ours.append(skipless_step_ms(["step", f"heads={heads}", f"T={t}", "neg=128"], threads, shape_steps))
                theirs.append(train_steps(heads, t, n_items, shape_steps))
            rows.append((threads, f"SASRec heads={heads} T={t} items={n_items}", min(ours), min(theirs)))
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(skipless_step_ms(["default"], threads, steps))
            theirs.append(train_default_steps(steps))
        rows.append((threads, "default model T=50 B=16 items=4517", min(ours), min(theirs)))
    print()
    print("| threads | shape | skipless ms/step | PyTorch ms/step | ratio |")
    print("|---|---|---|---|---|")
    for threads, shape, ours, theirs in rows:
        print(f"| {threads} | {shape} | {ours:.1f} | {theirs:.1f} | {ours / theirs:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compare", action="store_true", help="also run the Rust bench, interleaved, and print ratios")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    steps = max(1, int(os.environ.get("SKIPLESS_BENCH_STEPS", "10")))
    if args.compare:
        compare(args.rounds, steps)
        return
    torch.set_num_threads(args.threads)
    for heads, t, n_items in SHAPES:
        train_steps(heads, t, n_items, steps if t <= 50 else (steps + 2) // 3)
    train_default_steps(steps)


if __name__ == "__main__":
    main()
