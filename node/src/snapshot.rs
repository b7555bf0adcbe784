//! A snapshot of the whole node as it stands: the files of its data directory that hold
//! state (`home::BACKED_UP_FILES`) and every tree of its store, written by the store
//! (`palabre_store::SledStorage::snapshot`, whose format and checksum are documented
//! there).
//!
//! Both ways of taking a backup use it: `palabre backup` opening the store itself
//! (`backup.rs`) and a serving node answering on its control socket (`control.rs`).
//! Where the bytes go, and restoring them, are theirs.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;
use palabre_core::crypto::PublicKey;
use palabre_store::{BackupFile, BackupHeader, BackupSummary, SledStorage};

use crate::clock::now_ms;
use crate::home::BACKED_UP_FILES;

/// The backed-up files present in `dir`, with their modes.
pub fn data_files(dir: &Path) -> anyhow::Result<Vec<BackupFile>> {
    let mut files = Vec::new();
    for name in BACKED_UP_FILES {
        let path = dir.join(name);
        match fs::read(&path) {
            Ok(bytes) => files.push(BackupFile {
                name: name.to_owned(),
                mode: fs::metadata(&path)?.permissions().mode() & 0o777,
                bytes,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    Ok(files)
}

/// Writes a snapshot of the node whose data directory is `dir` and store `storage`.
pub fn write_snapshot(
    storage: &SledStorage,
    dir: &Path,
    authority: &PublicKey,
    out: &mut dyn Write,
) -> anyhow::Result<BackupSummary> {
    let header = BackupHeader {
        created_at_ms: now_ms(),
        producer: format!("palabre {}", env!("CARGO_PKG_VERSION")),
        authority: authority.to_hex(),
    };
    Ok(storage.snapshot(&header, &data_files(dir)?, out)?)
}
