//! The imports run one way: every `crate::` path in `src/` must follow an arrow listed under
//! "Allowed imports" in `ARCHITECTURE.md`, and every module must be listed there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The arrows of `ARCHITECTURE.md`: lines "- `module` → `other`, `other`" (or "→ nothing").
fn allowed_arrows() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("Allowed imports"))
        .expect("ARCHITECTURE.md has an \"Allowed imports\" section");
    let mut arrows = BTreeMap::new();
    for line in section.lines() {
        let Some(rest) = line.strip_prefix("- `") else {
            continue;
        };
        let (module, targets) = rest
            .split_once("` → ")
            .expect("an arrow line reads \"- `a` → `b`, `c`\"");
        let targets: BTreeSet<String> = targets.split('`').skip(1).step_by(2).map(str::to_owned).collect();
        assert!(
            arrows.insert(module.to_owned(), targets).is_none(),
            "{module} listed twice"
        );
    }
    arrows
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None` for `lib.rs` and `main.rs`).
fn module_of(file: &Path) -> Option<String> {
    let relative = file.strip_prefix(root().join("src")).unwrap();
    let first = relative.components().next()?.as_os_str().to_string_lossy().into_owned();
    let name = first.trim_end_matches(".rs").to_owned();
    (name != "lib" && name != "main").then_some(name)
}

/// How deep a file of `src/` sits in the module tree: `headless.rs` and `app/mod.rs` are 1,
/// `app/queue.rs` is 2. A chain of that many `super::` names the crate root.
fn depth_of(file: &Path) -> usize {
    let relative = file.strip_prefix(root().join("src")).unwrap();
    let parts = relative.components().count();
    if relative.file_name().is_some_and(|n| n == "mod.rs") {
        parts - 1
    } else {
        parts
    }
}

/// `text` with its comments (`//` to the line's end, `/* */` however nested) blanked out and its
/// lines kept; a `//` inside a string literal (a `file://` URL) is code.
fn code_of(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut code = bytes.to_vec();
    let (mut i, mut in_string, mut block) = (0, false, 0usize);
    let blank = |code: &mut Vec<u8>, from: usize, to: usize| {
        for byte in &mut code[from..to.min(bytes.len())] {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
    };
    while i < bytes.len() {
        let next = bytes.get(i + 1).copied();
        if block > 0 {
            match (bytes[i], next) {
                (b'*', Some(b'/')) => {
                    block -= 1;
                    blank(&mut code, i, i + 2);
                    i += 1;
                }
                (b'/', Some(b'*')) => {
                    block += 1;
                    blank(&mut code, i, i + 2);
                    i += 1;
                }
                _ => blank(&mut code, i, i + 1),
            }
            i += 1;
            continue;
        }
        match (bytes[i], in_string) {
            (b'\\', true) => i += 1,
            (b'"', _) => in_string = !in_string,
            // A character literal ('"' or '\''), not a lifetime.
            (b'\'', false) if bytes.get(i + 2) == Some(&b'\'') => i += 2,
            (b'\'', false) if next == Some(b'\\') => i += 3,
            (b'/', false) if next == Some(b'/') => {
                let end = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                blank(&mut code, i, end);
                i = end;
                continue;
            }
            (b'/', false) if next == Some(b'*') => {
                block = 1;
                blank(&mut code, i, i + 2);
                i += 2;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    String::from_utf8_lossy(&code).into_owned()
}

/// The leading identifier of `text`.
fn ident(text: &str) -> String {
    text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

/// The modules named by `crate::` paths in the code of `text` (comments left out), and by
/// `super::` chains that reach the crate root from a file `depth` modules deep, with the line
/// of each. Braced lists (`use crate::{a::X, b::{Y, Z}};`) count the first name of each item.
fn crate_paths(text: &str, depth: usize) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let text = &code_of(text);
    for (number, code) in text.lines().enumerate() {
        // Each maximal chain of `super::`; one as long as the file is deep reaches the root, and
        // a longer one, from an inline module (`mod tests`), does too.
        let mut at = 0;
        while let Some(found_at) = code[at..].find("super::") {
            let start = at + found_at;
            let mut end = start;
            while code[end..].starts_with("super::") {
                end += "super::".len();
            }
            let joined = code[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c == ':' || c.is_alphanumeric() || c == '_');
            // `super::*` names no module (in a file one deep, an inline `mod tests` uses it).
            let name = ident(&code[end..]);
            if !joined && (end - start) / "super::".len() >= depth && !name.is_empty() {
                found.push((number + 1, name));
            }
            at = end;
        }
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if rest.starts_with('{') {
                // A list may span lines: read on through the text until it closes.
                let start =
                    text.lines().take(number).map(|l| l.len() + 1).sum::<usize>() + (code.len() - rest.len()) + 1;
                let mut depth = 0usize;
                let mut item = String::new();
                for c in text[start..].chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            let name = ident(item.trim());
                            if !name.is_empty() {
                                found.push((number + 1, name));
                            }
                            item.clear();
                            continue;
                        }
                        _ => {}
                    }
                    item.push(c);
                }
                let name = ident(item.trim());
                if !name.is_empty() {
                    found.push((number + 1, name));
                }
            } else {
                found.push((number + 1, ident(rest)));
            }
        }
    }
    found
}

#[test]
fn imports_follow_the_arrows_of_the_architecture() {
    let arrows = allowed_arrows();
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    files.sort();
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(f)).collect();
    let unlisted: Vec<&String> = modules.iter().filter(|m| !arrows.contains_key(*m)).collect();
    assert!(
        unlisted.is_empty(),
        "modules missing from ARCHITECTURE.md: {unlisted:?}"
    );
    let mut broken = Vec::new();
    for file in &files {
        let Some(module) = module_of(file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, target) in crate_paths(&text, depth_of(file)) {
            if target == module || target == "self" {
                continue;
            }
            if !arrows[&module].contains(&target) {
                broken.push(format!(
                    "{}:{line}: {module} → {target}",
                    file.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "imports against the arrows of ARCHITECTURE.md:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_arrows_have_no_cycle() {
    let arrows = allowed_arrows();
    // Depth-first search for a path back to the start.
    fn reaches(arrows: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str, seen: &mut BTreeSet<String>) -> bool {
        arrows.get(from).is_some_and(|targets| {
            targets
                .iter()
                .any(|t| t == to || (seen.insert(t.clone()) && reaches(arrows, t, to, seen)))
        })
    }
    for module in arrows.keys() {
        assert!(
            !reaches(&arrows, module, module, &mut BTreeSet::new()),
            "the arrows of ARCHITECTURE.md make a cycle through {module}"
        );
    }
}

#[test]
fn the_checker_sees_braced_and_plain_paths() {
    let text = "use crate::{\n    db::{X, Y},\n    track,\n};\n// crate::tui in a comment\nlet x = crate::fmt::y();";
    let found = crate_paths(text, 1);
    let names: Vec<(usize, &str)> = found.iter().map(|(l, n)| (*l, n.as_str())).collect();
    assert_eq!(names, [(1, "db"), (1, "track"), (6, "fmt")]);
}

#[test]
fn the_checker_sees_paths_after_a_url_and_super_paths_to_the_root() {
    let text = "let u = \"file://x\"; let c = '\"'; crate::db::open(); // crate::tui\nuse super::super::db;\nuse super::queue;";
    let names = |depth| -> Vec<(usize, String)> { crate_paths(text, depth) };
    assert_eq!(names(2), [(1, "db".to_owned()), (2, "db".to_owned())]);
    // One level up from a file two deep is its own folder; from one deep, the root.
    assert_eq!(
        names(1),
        [(1, "db".to_owned()), (2, "db".to_owned()), (3, "queue".to_owned())]
    );
}

/// Comments inside a braced list hide no name, nor do block comments, and a chain of `super::`
/// longer than the file is deep (from an inline `mod tests`) reaches the root too.
#[test]
fn the_checker_sees_past_comments_and_out_of_inline_modules() {
    let text = "use crate::{\n    // a note\n    player::Engine, /* x */ tui::App,\n};\n/* crate::fmt\n in a block */\nuse super::super::super::log;";
    let found = crate_paths(text, 2);
    let names: Vec<(usize, &str)> = found.iter().map(|(l, n)| (*l, n.as_str())).collect();
    assert_eq!(names, [(1, "player"), (1, "tui"), (7, "log")]);
}

/// The modules a file's public `use` re-exports from other top-level modules, with the line of
/// each: a path through such a re-export would hide an arrow.
fn reexports(text: &str, module: &str) -> Vec<(usize, String)> {
    code_of(text)
        .lines()
        .enumerate()
        .filter_map(|(number, line)| {
            let line = line.trim_start().strip_prefix("pub")?;
            let line = if line.starts_with('(') {
                &line[line.find(')')? + 1..]
            } else {
                line
            };
            let target = ident(line.trim_start().strip_prefix("use crate::")?);
            (target != module).then_some((number + 1, target))
        })
        .collect()
}

#[test]
fn no_module_re_exports_another() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut found = Vec::new();
    for file in &files {
        let Some(module) = module_of(file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, target) in reexports(&text, &module) {
            found.push(format!(
                "{}:{line}: {module} re-exports {target}",
                file.strip_prefix(root()).unwrap().display()
            ));
        }
    }
    assert!(found.is_empty(), "re-exports that hide an arrow:\n{}", found.join("\n"));
    assert_eq!(
        reexports(
            "pub(crate) use crate::library::scan::Reread;\npub use crate::app::X;\nuse crate::db;",
            "app"
        ),
        [(1, "library".to_owned())]
    );
}
