//! `palabre backup` and `palabre restore`: the whole node — the files of its data
//! directory that hold state (`home::BACKED_UP_FILES`) and every tree of its store — in
//! one file, and back.
//!
//! While `palabre serve` runs it holds the store's lock, so `backup` asks it through its
//! control socket (`control.rs`) and the node streams the snapshot; when no node answers
//! there, `backup` opens the store itself. Either way the snapshot is the store's
//! (`palabre_store::SledStorage::snapshot`: consistent, the format and its checksum are
//! documented there), and the file is written under a temporary name, mode 0600 (it
//! holds the authority key), checked whole, and only then renamed to its name.
//!
//! `restore` checks the whole file before it writes anything, rebuilds the directory in
//! a staging directory inside it, checks the town's log against its signed head, and
//! only then moves it into place; on any failure the staging directory goes.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use palabre_core::record::Record;
use palabre_store::{BackupSummary, Storage, restore_backup, verify_backup};

use crate::control::{self, Answer, Request};
use crate::home::{Home, STORE};
use crate::snapshot::write_snapshot;

/// The staging directory of a restore, inside the data directory.
const STAGING: &str = ".restore-partial";

/// Where a snapshot came from.
enum Source {
    RunningNode,
    Store,
}

/// `palabre backup --data DIR --out FILE`.
pub fn backup(data: &Path, out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        bail!(
            "{} already exists: give a new name (a backup never replaces a file)",
            out.display()
        );
    }
    let name = out
        .file_name()
        .with_context(|| format!("{} is not a file name", out.display()))?;
    let tmp = out.with_file_name(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let started = Instant::now();
    let written = write_checked(&tmp, out, |file| take(data, file));
    let (source, summary) = match written {
        Ok(done) => done,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let from = match source {
        Source::RunningNode => "the running node",
        Source::Store => "the store (no node was running)",
    };
    println!(
        "Backup of {} written to {}: {} files, {} trees, {} entries, {} bytes, from {from} in {} ms.",
        summary.header.authority,
        out.display(),
        summary.files.len(),
        summary.n_trees,
        summary.n_entries,
        summary.n_bytes,
        started.elapsed().as_millis()
    );
    Ok(())
}

/// Writes `tmp` (mode 0600) with `fill`, checks it as a backup, renames it to `out`.
fn write_checked(
    tmp: &Path,
    out: &Path,
    fill: impl FnOnce(&mut fs::File) -> anyhow::Result<Source>,
) -> anyhow::Result<(Source, BackupSummary)> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    let source = fill(&mut file)?;
    file.sync_all()?;
    drop(file);
    let summary = verify_backup(tmp).with_context(|| match source {
        Source::RunningNode => "the node stopped sending the backup half-way (see its log)",
        Source::Store => "the backup just written does not read back",
    })?;
    fs::rename(tmp, out).with_context(|| format!("renaming to {}", out.display()))?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::File::open(parent)?.sync_all()?;
    }
    Ok((source, summary))
}

/// Asks the running node for a snapshot; opens the store itself when none answers.
fn take(data: &Path, file: &mut fs::File) -> anyhow::Result<Source> {
    if let Some(stream) = control::connect(data)? {
        from_node(stream, file)?;
        return Ok(Source::RunningNode);
    }
    if !data.join(STORE).is_dir() || !data.join("authority.key").is_file() {
        bail!(
            "{} is not a Palabre data directory (no store or no authority.key): nothing to back up",
            data.display()
        );
    }
    let home = Home::open_or_create(data)?;
    let storage = home.open_store()?;
    write_snapshot(&storage, data, &home.key.public_key(), file)?;
    Ok(Source::Store)
}

/// Sends the request, reads the answer line, and copies the backup that follows.
fn from_node(mut stream: UnixStream, file: &mut fs::File) -> anyhow::Result<()> {
    // A node busy with writes answers at once; a stalled one is given up on.
    stream.set_read_timeout(Some(control::STALLED_CLIENT))?;
    let mut request = serde_json::to_vec(&Request::Backup)?;
    request.push(b'\n');
    stream.write_all(&request)?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    (&mut reader)
        .take(control::MAX_LINE_BYTES)
        .read_line(&mut line)
        .context("reading the node's answer")?;
    let answer: Answer = serde_json::from_str(&line)
        .with_context(|| format!("the node answered something else than expected: {line:?}"))?;
    if !answer.ok {
        bail!(
            "the node refused: {}",
            answer.error.unwrap_or_else(|| "no reason given".into())
        );
    }
    std::io::copy(&mut reader, file).context("receiving the backup from the node")?;
    Ok(())
}

/// `palabre restore --from FILE --data DIR`.
pub fn restore(from: &Path, data: &Path) -> anyhow::Result<()> {
    if data.exists() {
        let mut held: Vec<String> = fs::read_dir(data)
            .with_context(|| format!("reading {}", data.display()))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        if !held.is_empty() {
            held.sort();
            let what = if held.iter().any(|n| n == STORE) {
                "it already holds a store"
            } else {
                "it is not empty"
            };
            bail!(
                "{} cannot be restored into: {what} ({}). Restore into a new or empty \
                 directory; nothing was changed.",
                data.display(),
                held.join(", ")
            );
        }
    }
    // The whole file is checked before anything is created.
    let summary =
        verify_backup(from).with_context(|| format!("{} cannot be restored", from.display()))?;
    let created = !data.exists();
    if created {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data)
            .with_context(|| format!("creating {}", data.display()))?;
    }
    let staging = data.join(STAGING);
    let restored = restore_into(from, &staging).and_then(|log| {
        move_into_place(&staging, data)?;
        Ok(log)
    });
    let log = match restored {
        Ok(log) => log,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            if created {
                let _ = fs::remove_dir(data);
            }
            return Err(e);
        }
    };
    // A directory made beforehand (by systemd, by hand) becomes its owner's only, as the
    // node requires (home.rs).
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(data, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("chmod 700 {}", data.display()))?;
    }
    println!(
        "Restored {} into {}: {} files, {} trees, {} entries (backup of {}).",
        from.display(),
        data.display(),
        summary.files.len(),
        summary.n_trees,
        summary.n_entries,
        summary.header.authority,
    );
    println!("{log}");
    Ok(())
}

/// Rebuilds the data directory in `staging` and checks the town's own log against its
/// signed head; says what it found.
fn restore_into(from: &Path, staging: &Path) -> anyhow::Result<String> {
    fs::DirBuilder::new().mode(0o700).create(staging)?;
    let restored = restore_backup(from, &staging.join(STORE))?;
    for f in &restored.files {
        let path = staging.join(&f.name);
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(f.mode & 0o777)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        out.write_all(&f.bytes)?;
        out.sync_all()?;
    }
    if !restored.files.iter().any(|f| f.name == "authority.key") {
        bail!("the backup holds no authority.key: it is not a node's backup");
    }
    let home = Home::open_or_create(staging)?;
    let storage = home.open_store()?;
    let me = home.key.public_key();
    let size = storage.log_size(&me);
    let Some(head) = storage.latest_head(&me)? else {
        return Ok(format!("This town's log ({me}) is empty."));
    };
    let root = storage.root_at(&me, size);
    if head.head.authority != me
        || head.verify().is_err()
        || head.head.size != size
        || root != Some(head.head.root)
    {
        bail!(
            "the restored log of {me} does not match its signed head (size {} root {}; \
             the log holds {size} entries): the backup is not usable",
            head.head.size,
            head.head.root
        );
    }
    storage.flush()?;
    Ok(format!(
        "This town's log: {size} entries under its signed head, root {}.",
        head.head.root
    ))
}

/// Moves everything restored from `staging` into `data`, the store last, then removes
/// `staging`.
fn move_into_place(staging: &Path, data: &Path) -> anyhow::Result<()> {
    let mut names: Vec<PathBuf> = fs::read_dir(staging)?
        .map(|e| e.map(|e| PathBuf::from(e.file_name())))
        .collect::<Result<_, _>>()?;
    // The files first: a directory with a store but no key would make a new key.
    names.sort_by_key(|n| n == Path::new(STORE));
    for name in names {
        fs::rename(staging.join(&name), data.join(&name))
            .with_context(|| format!("moving {} into {}", name.display(), data.display()))?;
    }
    fs::remove_dir(staging)?;
    fs::File::open(data)?.sync_all()?;
    Ok(())
}
