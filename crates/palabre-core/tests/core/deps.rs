//! Architecture invariant: palabre-core depends on no IO crate.

#[test]
fn core_depends_on_no_io_crate() {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "palabre-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).expect("cargo tree prints UTF-8");
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        crates.contains(&"ed25519-dalek"),
        "the tree was read: {tree}"
    );
    const FORBIDDEN: [&str; 14] = [
        "tokio",
        "sled",
        "libp2p",
        "axum",
        "hyper",
        "tower",
        "mio",
        "async-std",
        "reqwest",
        "rand",
        "getrandom",
        "chrono",
        "time",
        "std-clock",
    ];
    for name in FORBIDDEN {
        assert!(
            !crates.contains(&name),
            "palabre-core must not depend on {name}:\n{tree}"
        );
    }
}
