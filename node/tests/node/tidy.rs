//! The house's tidiness, checked as rust-analyzer's `tidy` does: every source module of
//! every crate of the workspace is named in ARCHITECTURE.md's code map, every `*.rs` the
//! map names exists, and no source file outside tests grows past ~800 lines unless the
//! allow-list below says why. It reads files only; it starts nothing.

use std::path::{Path, PathBuf};

/// The workspace's root (this crate is `node/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("node/ sits in the workspace")
        .to_path_buf()
}

/// The source directories of the workspace's crates, read from the root `Cargo.toml`'s
/// `members` (so a new crate is checked without editing this test).
fn source_dirs(root: &Path) -> Vec<PathBuf> {
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

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
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
const LONG_FILES: &[(&str, &str)] = &[
    (
        "crates/palabre-core/src/event.rs",
        "every event body and its checks in one place: the wire format's single definition",
    ),
    (
        "crates/palabre-core/src/shuffle.rs",
        "one proof (a verifiable shuffle): prover and verifier side by side, step for step",
    ),
    (
        "crates/palabre-net/src/shell.rs",
        "the swarm actor and its libp2p behaviour, codec and hello in one file; the actor's handle_* split made it longer, and moving the behaviour and codec to their own module is left to issue 16",
    ),
    (
        "web/src/api.rs",
        "the API's handlers beside its route table; the typed refusals of issue 16 point 4 will shrink it",
    ),
];

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
