//! The house's tidiness, checked as rust-analyzer's `tidy` does: every source module of
//! every crate of the workspace is named in ARCHITECTURE.md's code map, every `*.rs` the
//! map names exists, and no source file outside tests grows past ~800 lines unless the
//! allow-list below says why, nor any function past ~120 lines unless its own list
//! says why. It reads files only; it starts nothing.

use std::path::{Path, PathBuf};

/// The workspace's root (this crate is `node/`).
pub(super) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("node/ sits in the workspace")
        .to_path_buf()
}

/// The source directories of the workspace's crates, read from the root `Cargo.toml`'s
/// `members` (so a new crate is checked without editing this test).
pub(super) fn source_dirs(root: &Path) -> Vec<PathBuf> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    let line = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .expect("a members line");
    line.split('"')
        .skip(1)
        .step_by(2)
        .map(|member| root.join(member).join("src"))
        .collect()
}

pub(super) fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("a readable source directory")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<PathBuf> {
    let root = root();
    let mut files = Vec::new();
    for dir in source_dirs(&root) {
        rust_files(&dir, &mut files);
    }
    assert!(files.len() > 50, "the workspace's sources were not found");
    files
}

/// A unit-test file (`tests.rs`, or under a `tests/` directory inside `src/`).
fn is_test(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "tests.rs")
        || path.components().any(|c| c.as_os_str() == "tests")
}

#[test]
fn every_module_is_in_the_code_map() {
    let root = root();
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut missing = Vec::new();
    for path in sources() {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a file name");
        // A crate's root is its section of the map; a `mod.rs` is named by its directory.
        let name = match stem {
            "lib" | "main" => continue,
            "mod" => path
                .parent()
                .and_then(|p| p.file_name())
                .and_then(|s| s.to_str())
                .expect("a directory name")
                .to_owned(),
            _ if is_test(&path) => continue,
            _ => stem.to_owned(),
        };
        let named = [
            format!("`{name}.rs`"),
            format!("/{name}.rs`"),
            format!("`{name}`"),
            format!("`{name}/`"),
            format!("/{name}/`"),
        ]
        .iter()
        .any(|form| map.contains(form.as_str()));
        if !named {
            missing.push(
                path.strip_prefix(&root)
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
            );
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map does not name these modules: {missing:?}"
    );
}

#[test]
fn every_file_the_code_map_names_exists() {
    let root = root();
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut all = sources();
    for dir in [
        "crates/palabre-core",
        "crates/palabre-store",
        "crates/palabre-net",
        "web",
        "node",
        "bench",
    ] {
        let tests = root.join(dir).join("tests");
        if tests.is_dir() {
            rust_files(&tests, &mut all);
        }
    }
    let mut stale = Vec::new();
    for quoted in map.split('`').skip(1).step_by(2) {
        let Some(name) = quoted.strip_suffix(".rs") else {
            continue;
        };
        if name.contains(char::is_whitespace) {
            continue;
        }
        let file = format!("{name}.rs");
        let exists = all.iter().any(|p| {
            let p = p.to_string_lossy();
            p.ends_with(&format!("/{file}"))
        });
        if !exists {
            stale.push(file);
        }
    }
    assert!(
        stale.is_empty(),
        "ARCHITECTURE.md names files that do not exist: {stale:?}"
    );
}

/// Source files allowed past the limit, each with its reason.
const LONG_FILES: &[(&str, &str)] = &[(
    "crates/palabre-core/src/shuffle.rs",
    "one proof (a verifiable shuffle): prover and verifier side by side, step for step",
)];

/// About where a file stops reading as one idea (rust-analyzer's habit).
const MAX_LINES: usize = 800;

#[test]
fn no_source_file_is_too_long() {
    let root = root();
    let mut long = Vec::new();
    for path in sources() {
        if is_test(&path) {
            continue;
        }
        let rel = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let lines = std::fs::read_to_string(&path)
            .expect("a readable file")
            .lines()
            .count();
        if lines > MAX_LINES && !LONG_FILES.iter().any(|(p, _)| *p == rel) {
            long.push(format!("{rel} ({lines} lines)"));
        }
    }
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines and not in LONG_FILES (split it, or say why not): {long:?}"
    );
}

/// Functions allowed past [`MAX_FN_LINES`], each with its reason: `(file, fn, reason)`.
const LONG_FUNCTIONS: &[(&str, &str, &str)] = &[
    (
        "crates/palabre-core/src/admission.rs",
        "check",
        "the admission table: one short arm per event kind calling that kind's rules; split, the table would no longer read as one",
    ),
    (
        "crates/palabre-core/src/audit/opening.rs",
        "check",
        "the opening's checks in PROTOCOL.md's order (chains, seal_final, shares, result), each a few lines",
    ),
    (
        "node/src/demo.rs",
        "seed",
        "the demo's content, data written as code: one consultation after the other",
    ),
    (
        "node/src/demo.rs",
        "seed_secret",
        "the secret example's ceremony replayed in order: declaration, consultation, deals, key, layout",
    ),
    (
        "node/src/commands/serve.rs",
        "serve",
        "the node's start-up step by step, in the order OPERATIONS.md describes it",
    ),
    (
        "web/src/site/charts.rs",
        "draw",
        "one arm per ballot method's chart; each method's drawing is short",
    ),
    (
        "web/src/staff/draft/mod.rs",
        "build",
        "the draft form read field by field into a consultation body, in the form's order",
    ),
    (
        "bench/src/replbench.rs",
        "propagation",
        "a benchmark's measured steps in order, each printed as it is taken",
    ),
    (
        "bench/src/bench.rs",
        "measure",
        "a benchmark's measured steps in order, each printed as it is taken",
    ),
    (
        "bench/src/bench.rs",
        "closed_log",
        "a benchmark's fixture: a closed consultation's whole log, built in order",
    ),
    (
        "bench/src/secretbench.rs",
        "run",
        "a benchmark's measured steps in order, each printed as it is taken",
    ),
    (
        "bench/src/staffbench.rs",
        "measure",
        "a benchmark's measured steps in order, each printed as it is taken",
    ),
];

/// About where a function stops reading as one step (issue 16: ~120 lines).
const MAX_FN_LINES: usize = 120;

/// Every `fn` of `text` with a body, outside its `#[cfg(test)]` module: (name, lines from
/// its signature to its closing brace at the same indentation).
fn functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("#[cfg(test)]") {
            break;
        }
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let after_qualifiers = trimmed
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("pub ")
            .trim_start_matches("async ")
            .trim_start_matches("const ");
        let Some(rest) = after_qualifiers.strip_prefix("fn ") else {
            continue;
        };
        if line.trim_end().ends_with(';') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let close = format!("{}}}", " ".repeat(indent));
        if let Some(end) = lines[i + 1..].iter().position(|l| l.trim_end() == close) {
            out.push((name, end + 2));
        }
    }
    out
}

#[test]
fn no_function_is_too_long() {
    let root = root();
    let mut long = Vec::new();
    for path in sources() {
        if is_test(&path) {
            continue;
        }
        let rel = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&path).expect("a readable file");
        for (name, lines) in functions(&text) {
            let allowed = LONG_FUNCTIONS
                .iter()
                .any(|(p, f, _)| *p == rel && *f == name);
            if lines > MAX_FN_LINES && !allowed {
                long.push(format!("{rel}: fn {name} ({lines} lines)"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "over {MAX_FN_LINES} lines and not in LONG_FUNCTIONS (split it, or say why not): {long:?}"
    );
}

/// The function finder finds what it should: a checker that cannot see a long function
/// would always pass.
#[test]
fn the_function_finder_measures_bodies() {
    let text = "fn a() {\n    x;\n}\n\npub(crate) async fn b(\n    y: u8,\n) -> u8 {\n    y\n}\ntrait T {\n    fn c(&self);\n}\n#[cfg(test)]\nmod tests {\n    fn d() {\n    }\n}\n";
    assert_eq!(
        functions(text),
        vec![("a".to_owned(), 3), ("b".to_owned(), 5)]
    );
}
