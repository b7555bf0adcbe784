//! Backups: a consistent snapshot of the whole store — every sled tree, whatever its
//! name, so trees added later are carried too — and of the few files of a data directory
//! the caller hands over (the authority key, the settings), in one self-checking file;
//! and the way back to a store.
//!
//! Consistency comes from `SledStorage::snapshot_gate`: every method that writes holds it
//! for reading while it writes and flushes; a snapshot holds it for writing while it
//! reads every tree, so no write is half in a backup. Reads (the API) go on meanwhile;
//! writes wait for the snapshot to end.
//!
//! Which files a data directory holds, where a backup is written, and how a running
//! node is asked for one are the node's business (`node/src/backup.rs`).
//!
//! # Format, version 1
//!
//! ```text
//! "palabre-backup 1\n"          what this file is, and the format's version (ASCII)
//! header JSON, on one line       {"created_at_ms":…,"producer":"palabre 0.1.0","authority":"<hex>"}
//! records, each one tag byte then its fields (integers big-endian):
//!   'F' a file    u16 name length, name (UTF-8), u32 Unix mode, u64 length, contents
//!   'T' a tree    u16 name length, name (bytes, as sled names it)
//!   'E' an entry  u32 key length, key, u32 value length, value (of the last tree)
//!   'Z' the end   u64 files, u64 trees, u64 entries
//! SHA-256 of every byte above (32 bytes)
//! ```
//!
//! Files come first, then the trees in name order, each with its entries in key order.
//! A reader checks the checksum before it believes anything else, then the counts of
//! the end record, so a truncated or altered file is refused as a whole.

use std::fs;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::RwLockReadGuard;

use sha2::{Digest, Sha256};

use crate::{SledStorage, StoreConfig, StoreError};

/// The version this code writes, and the newest it reads.
pub const BACKUP_VERSION: u32 = 1;

const MAGIC: &str = "palabre-backup";
const CHECKSUM_BYTES: u64 = 32;
/// Bounds on what a reader accepts, whatever the file says.
const MAX_HEADER_BYTES: u64 = 4096;
const MAX_FILE_BYTES: u64 = 1024 * 1024;
const MAX_FILES: u64 = 64;
/// A restore flushes after this many entries. Entries are inserted one by one: sled's
/// batches keep far more in memory (a 57 MB backup: 960 MB resident with batches of
/// 10,000, 57 MB one by one, and faster).
const RESTORE_FLUSH_EVERY: u64 = 10_000;

const FILE: u8 = b'F';
const TREE: u8 = b'T';
const ENTRY: u8 = b'E';
const END: u8 = b'Z';

/// A file of the data directory carried in a backup beside the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupFile {
    /// A plain file name (no directory).
    pub name: String,
    /// Its Unix permission bits (the authority key's 0600 comes back as it was).
    pub mode: u32,
    pub bytes: Vec<u8>,
}

/// What a backup says about itself, on its second line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupHeader {
    pub created_at_ms: u64,
    /// The program that wrote it, e.g. `palabre 0.1.0`.
    pub producer: String,
    /// The authority whose node this is (hex), for people choosing a file.
    pub authority: String,
}

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub version: u32,
    pub header: BackupHeader,
    /// The files' names, in the order written.
    pub files: Vec<String>,
    pub n_trees: u64,
    pub n_entries: u64,
    /// The size of the backup file.
    pub n_bytes: u64,
}

/// A store restored from a backup, and the files that came with it (for the caller to
/// put back where they belong).
#[derive(Debug)]
pub struct Restored {
    pub summary: BackupSummary,
    pub files: Vec<BackupFile>,
}

impl SledStorage {
    /// Held while a method writes: a snapshot waits for it, and it waits for a snapshot.
    /// Every method that writes takes it first (after its own commit lock, if any) and
    /// keeps it until its flush returns. Never taken twice by one thread.
    pub(crate) fn writing(&self) -> RwLockReadGuard<'_, ()> {
        self.snapshot_gate.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes a backup of every tree of the store, with `files`, to `out`, while no
    /// write runs. `out` sees the whole backup, checksum included, or an error.
    pub fn snapshot(
        &self,
        header: &BackupHeader,
        files: &[BackupFile],
        out: &mut dyn Write,
    ) -> Result<BackupSummary, StoreError> {
        let mut out = Hashing::new(BufWriter::new(out));
        let head = serde_json::json!({
            "created_at_ms": header.created_at_ms,
            "producer": header.producer,
            "authority": header.authority,
        });
        write!(out, "{MAGIC} {BACKUP_VERSION}\n{head}\n")?;
        for f in files {
            check_file_name(&f.name)?;
            out.write_all(&[FILE])?;
            write_name(&mut out, f.name.as_bytes())?;
            out.write_all(&f.mode.to_be_bytes())?;
            out.write_all(&(f.bytes.len() as u64).to_be_bytes())?;
            out.write_all(&f.bytes)?;
        }
        let (n_trees, n_entries) = {
            // Every writer flushes before it lets go of the gate: with the gate held,
            // the trees are exactly what is on disk, and stay so until it is released.
            let _quiet = self
                .snapshot_gate
                .write()
                .unwrap_or_else(|e| e.into_inner());
            let mut names = self.db.tree_names();
            names.sort();
            let mut n_entries = 0u64;
            for name in &names {
                let tree = self.db.open_tree(name)?;
                out.write_all(&[TREE])?;
                write_name(&mut out, name)?;
                for kv in tree.iter() {
                    let (k, v) = kv?;
                    out.write_all(&[ENTRY])?;
                    write_bytes(&mut out, &k)?;
                    write_bytes(&mut out, &v)?;
                    n_entries += 1;
                }
            }
            (names.len() as u64, n_entries)
        };
        out.write_all(&[END])?;
        for n in [files.len() as u64, n_trees, n_entries] {
            out.write_all(&n.to_be_bytes())?;
        }
        let (mut inner, digest, n_bytes) = out.finish();
        inner.write_all(&digest)?;
        inner.flush()?;
        Ok(BackupSummary {
            version: BACKUP_VERSION,
            header: header.clone(),
            files: files.iter().map(|f| f.name.clone()).collect(),
            n_trees,
            n_entries,
            n_bytes: n_bytes + CHECKSUM_BYTES,
        })
    }
}

/// Reads a whole backup and checks it (checksum, structure, counts) without writing
/// anything.
pub fn verify_backup(from: &Path) -> Result<BackupSummary, StoreError> {
    read_backup(from, &mut |_| Ok(()))
}

/// Rebuilds a sled store at `store_dir`, which must not exist, from a backup, and hands
/// back the files it carries. The whole file is checked before anything is written; if
/// anything fails, `store_dir` is removed again.
pub fn restore_backup(from: &Path, store_dir: &Path) -> Result<Restored, StoreError> {
    if store_dir.exists() {
        return Err(StoreError::RestoreTargetExists(store_dir.to_path_buf()));
    }
    // Checksum and structure first: a damaged file fails here, before any write.
    verify_backup(from)?;
    let restored = write_store(from, store_dir);
    if restored.is_err() {
        let _ = fs::remove_dir_all(store_dir);
    }
    restored
}

fn write_store(from: &Path, store_dir: &Path) -> Result<Restored, StoreError> {
    let db = sled::Config::new()
        .path(store_dir)
        .cache_capacity(StoreConfig::default().cache_capacity_bytes)
        .flush_every_ms(None)
        .create_new(true)
        .open()?;
    let mut tree: Option<sled::Tree> = None;
    let mut written = 0u64;
    let mut files = Vec::new();
    let summary = read_backup(from, &mut |record| {
        match record {
            Record::File(f) => files.push(f),
            Record::Tree(name) => tree = Some(db.open_tree(name)?),
            Record::Entry(k, v) => {
                let t = tree
                    .as_ref()
                    .ok_or_else(|| damaged("an entry before any tree"))?;
                t.insert(k, v)?;
                written += 1;
                if written.is_multiple_of(RESTORE_FLUSH_EVERY) {
                    db.flush()?;
                }
            }
        }
        Ok(())
    })?;
    db.flush()?;
    Ok(Restored { summary, files })
}

/// One record of a backup, as read.
enum Record {
    File(BackupFile),
    Tree(Vec<u8>),
    Entry(Vec<u8>, Vec<u8>),
}

/// Checks the magic line and the checksum, then reads every record into `sink`.
fn read_backup(
    from: &Path,
    sink: &mut dyn FnMut(Record) -> Result<(), StoreError>,
) -> Result<BackupSummary, StoreError> {
    let mut file = fs::File::open(from)?;
    let n_bytes = file.metadata()?.len();
    let version = read_magic(&mut BufReader::new(&mut file))?;
    if n_bytes < CHECKSUM_BYTES {
        return Err(damaged("the file is too short to hold its checksum"));
    }
    let body_len = n_bytes - CHECKSUM_BYTES;
    {
        let mut file = fs::File::open(from)?;
        let mut hasher = Hashing::new(io::sink());
        io::copy(&mut (&mut file).take(body_len), &mut hasher)?;
        let mut stored = [0u8; CHECKSUM_BYTES as usize];
        file.read_exact(&mut stored)?;
        let (_, digest, _) = hasher.finish();
        if digest[..] != stored {
            return Err(damaged(
                "its checksum does not match: the file is truncated or was altered",
            ));
        }
    }
    let mut r = Counting {
        inner: BufReader::new(fs::File::open(from)?.take(body_len)),
        n: 0,
    };
    read_magic(&mut r)?;
    let header = read_header(&mut r)?;
    let mut names = Vec::new();
    let (mut n_trees, mut n_entries) = (0u64, 0u64);
    loop {
        match read_u8(&mut r)? {
            FILE => {
                if names.len() as u64 >= MAX_FILES {
                    return Err(damaged("too many files"));
                }
                let name = String::from_utf8(read_name(&mut r)?)
                    .map_err(|_| damaged("a file name is not UTF-8"))?;
                check_file_name(&name)?;
                let mode = read_u32(&mut r)?;
                let len = read_u64(&mut r)?;
                if len > MAX_FILE_BYTES {
                    return Err(damaged("a file is larger than any a data directory holds"));
                }
                let bytes = read_exactly(&mut r, len)?;
                names.push(name.clone());
                sink(Record::File(BackupFile { name, mode, bytes }))?;
            }
            TREE => {
                n_trees += 1;
                sink(Record::Tree(read_name(&mut r)?))?;
            }
            ENTRY => {
                if n_trees == 0 {
                    return Err(damaged("an entry before any tree"));
                }
                let len = u64::from(read_u32(&mut r)?);
                let k = read_exactly(&mut r, len)?;
                let len = u64::from(read_u32(&mut r)?);
                let v = read_exactly(&mut r, len)?;
                n_entries += 1;
                sink(Record::Entry(k, v))?;
            }
            END => {
                let counts = [read_u64(&mut r)?, read_u64(&mut r)?, read_u64(&mut r)?];
                if counts != [names.len() as u64, n_trees, n_entries] {
                    return Err(damaged("its counts do not match what it holds"));
                }
                if r.n != body_len {
                    return Err(damaged("bytes follow its end"));
                }
                let summary = BackupSummary {
                    version,
                    header,
                    files: names,
                    n_trees,
                    n_entries,
                    n_bytes,
                };
                return Ok(summary);
            }
            other => return Err(damaged(&format!("unknown record tag {other}"))),
        }
    }
}

fn damaged(why: &str) -> StoreError {
    StoreError::DamagedBackup(why.to_owned())
}

/// Reads `palabre-backup <version>\n`; refuses other files and newer versions.
fn read_magic(r: &mut dyn Read) -> Result<u32, StoreError> {
    let line = read_line(r, 32).map_err(|_| StoreError::NotABackup)?;
    let version = line
        .strip_prefix(MAGIC)
        .and_then(|v| v.strip_prefix(' '))
        .and_then(|v| v.parse::<u32>().ok())
        .ok_or(StoreError::NotABackup)?;
    if version == 0 || version > BACKUP_VERSION {
        return Err(StoreError::BackupVersion(version));
    }
    Ok(version)
}

fn read_header(r: &mut dyn Read) -> Result<BackupHeader, StoreError> {
    let line = read_line(r, MAX_HEADER_BYTES)?;
    let v: serde_json::Value =
        serde_json::from_str(&line).map_err(|_| damaged("its header is not JSON"))?;
    let text = |k: &str| v[k].as_str().map(str::to_owned);
    Ok(BackupHeader {
        created_at_ms: v["created_at_ms"]
            .as_u64()
            .ok_or_else(|| damaged("its header has no date"))?,
        producer: text("producer").unwrap_or_default(),
        authority: text("authority").unwrap_or_default(),
    })
}

/// A line of at most `max` bytes, without its `\n`.
fn read_line(r: &mut dyn Read, max: u64) -> Result<String, StoreError> {
    let mut line = Vec::new();
    loop {
        let b = read_u8(r)?;
        if b == b'\n' {
            break;
        }
        line.push(b);
        if line.len() as u64 > max {
            return Err(damaged("a header line is too long"));
        }
    }
    String::from_utf8(line).map_err(|_| damaged("a header line is not UTF-8"))
}

/// A plain file name: no directory, no way out of the data directory.
fn check_file_name(name: &str) -> Result<(), StoreError> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if plain {
        Ok(())
    } else {
        Err(damaged(&format!("{name:?} is not a plain file name")))
    }
}

fn write_name(out: &mut dyn Write, name: &[u8]) -> io::Result<()> {
    let len = u16::try_from(name.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a name longer than 64 KiB"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(name)
}

fn write_bytes(out: &mut dyn Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a value larger than 4 GiB"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(bytes)
}

/// Reads exactly `n` bytes, growing the buffer as they come (a length is not trusted
/// with an allocation before the bytes are there).
fn read_exactly(r: &mut dyn Read, n: u64) -> Result<Vec<u8>, StoreError> {
    let mut v = Vec::new();
    r.take(n).read_to_end(&mut v)?;
    if v.len() as u64 != n {
        return Err(damaged("it ends in the middle of a record"));
    }
    Ok(v)
}

fn read_array<const N: usize>(r: &mut dyn Read) -> Result<[u8; N], StoreError> {
    let mut b = [0u8; N];
    r.read_exact(&mut b).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => damaged("it ends in the middle of a record"),
        _ => StoreError::Io(e),
    })?;
    Ok(b)
}

fn read_u8(r: &mut dyn Read) -> Result<u8, StoreError> {
    Ok(read_array::<1>(r)?[0])
}

fn read_u32(r: &mut dyn Read) -> Result<u32, StoreError> {
    Ok(u32::from_be_bytes(read_array(r)?))
}

fn read_u64(r: &mut dyn Read) -> Result<u64, StoreError> {
    Ok(u64::from_be_bytes(read_array(r)?))
}

fn read_name(r: &mut dyn Read) -> Result<Vec<u8>, StoreError> {
    let len = u16::from_be_bytes(read_array(r)?);
    read_exactly(r, u64::from(len))
}

/// A writer that hashes and counts what goes through it.
struct Hashing<W: Write> {
    inner: W,
    hasher: Sha256,
    n: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            n: 0,
        }
    }

    fn finish(self) -> (W, [u8; 32], u64) {
        (self.inner, self.hasher.finalize().into(), self.n)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.n += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that counts what it gave.
struct Counting<R: Read> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use palabre_core::admission::Clock;
    use palabre_core::crypto::SecretKey;
    use palabre_core::event::{AuthorityBody, Body, CredentialBody, Event, Kind};
    use palabre_core::head::TreeHead;
    use palabre_core::ids::Hash;
    use palabre_core::record::Record;

    use super::*;
    use crate::{CommitItem, Storage, stored_event};

    const T0: u64 = 1_900_000_000_000;

    fn town() -> SecretKey {
        SecretKey::from_seed(&[100; 32])
    }

    fn code(n: u32) -> Hash {
        Hash::of(&n.to_be_bytes())
    }

    fn open(dir: &Path) -> SledStorage {
        SledStorage::open(dir, StoreConfig::default()).expect("open")
    }

    fn commit(s: &SledStorage, body: Body, consume_invitation: Option<Hash>) {
        let event = Event {
            author: town().public_key(),
            created_at_ms: T0,
            body,
        }
        .sign(&town())
        .expect("valid test event");
        let k = town();
        let out = s
            .commit(
                vec![CommitItem {
                    log: k.public_key(),
                    event,
                    consume_invitation,
                }],
                Clock::Live { now_ms: T0 },
                &|h: TreeHead| h.sign(&k),
            )
            .expect("commit");
        assert!(out.results.iter().all(Result::is_ok), "{:?}", out.results);
    }

    /// A town with its declaration, `n_codes` invitations and `n_redeemed` of them
    /// redeemed (a credential and its code consumed in one commit, as the node does).
    fn town_store(dir: &Path, n_codes: u32, n_redeemed: u32) -> SledStorage {
        let s = open(dir);
        commit(
            &s,
            Body::Authority(AuthorityBody {
                name: "Ville".into(),
                code: "01001".into(),
                addresses: vec![],
                encryption_key: None,
                encryption_pok: None,
            }),
            None,
        );
        let codes: Vec<Hash> = (0..n_codes).map(code).collect();
        s.add_invitations(&codes).expect("invitations");
        for n in 0..n_redeemed {
            redeem(&s, n);
        }
        s
    }

    fn redeem(s: &SledStorage, n: u32) {
        let mut seed = [7u8; 32];
        seed[..4].copy_from_slice(&n.to_le_bytes());
        let subject = SecretKey::from_seed(&seed).public_key();
        commit(
            s,
            Body::Credential(CredentialBody {
                subject,
                replaces: None,
            }),
            Some(code(n)),
        );
    }

    fn files() -> Vec<BackupFile> {
        vec![
            BackupFile {
                name: "authority.key".into(),
                mode: 0o600,
                bytes: b"00ff\n".to_vec(),
            },
            BackupFile {
                name: "palabre.toml".into(),
                mode: 0o644,
                bytes: b"name = \"Ville\"\n".to_vec(),
            },
        ]
    }

    fn header() -> BackupHeader {
        BackupHeader {
            created_at_ms: T0,
            producer: "palabre test".into(),
            authority: town().public_key().to_hex(),
        }
    }

    /// A tree's name and its entries.
    type Dumped = (Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>);

    /// Every tree's name and contents.
    fn dump(s: &SledStorage) -> Vec<Dumped> {
        let mut names = s.db.tree_names();
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let tree = s.db.open_tree(&name).expect("tree");
                let kvs = tree
                    .iter()
                    .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("read"))
                    .collect();
                (name.to_vec(), kvs)
            })
            .collect()
    }

    fn backup_file(s: &SledStorage, path: &Path) -> BackupSummary {
        let mut f = fs::File::create(path).expect("create");
        s.snapshot(&header(), &files(), &mut f).expect("snapshot")
    }

    #[test]
    fn a_backup_restores_every_tree_and_file() {
        let tmp = tempfile::tempdir().expect("tmp");
        let s = town_store(&tmp.path().join("a"), 5, 3);
        // Trees outside commits, and one this code has never heard of, come along too.
        s.db.open_tree("added_later")
            .and_then(|t| t.insert(b"k", b"v"))
            .expect("a new tree");
        let path = tmp.path().join("a.backup");
        let written = backup_file(&s, &path);
        assert_eq!(written.n_bytes, fs::metadata(&path).expect("stat").len());
        assert_eq!(verify_backup(&path).expect("verify"), written);
        assert!(
            written.n_trees >= 17 && written.n_entries > 0,
            "{written:?}"
        );

        let restored = restore_backup(&path, &tmp.path().join("b")).expect("restore");
        assert_eq!(restored.summary, written);
        assert_eq!(restored.files, files());
        let r = open(&tmp.path().join("b"));
        assert_eq!(dump(&r), dump(&s));
        let me = town().public_key();
        assert_eq!(r.log_size(&me), 4);
        assert_eq!(
            r.latest_head(&me).expect("head"),
            s.latest_head(&me).expect("head")
        );
        let c = r.invitation_counts().expect("counts");
        assert_eq!((c.issued, c.redeemed), (5, 3));
    }

    #[test]
    fn a_damaged_or_truncated_backup_is_refused_and_leaves_nothing() {
        let tmp = tempfile::tempdir().expect("tmp");
        let s = town_store(&tmp.path().join("a"), 3, 1);
        let path = tmp.path().join("a.backup");
        backup_file(&s, &path);
        let good = fs::read(&path).expect("read");
        let target = tmp.path().join("b");
        let refused = |bytes: &[u8]| -> StoreError {
            let bad = tmp.path().join("bad.backup");
            fs::write(&bad, bytes).expect("write");
            let e = restore_backup(&bad, &target).expect_err("a bad backup is refused");
            assert!(!target.exists(), "nothing is left behind ({e})");
            e
        };
        for len in [good.len() - 1, good.len() - 32, good.len() / 2, 40, 18] {
            let e = refused(&good[..len]);
            assert!(matches!(e, StoreError::DamagedBackup(_)), "{len}: {e}");
        }
        let mut flipped = good.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 1;
        assert!(matches!(refused(&flipped), StoreError::DamagedBackup(_)));
        let mut longer = good.clone();
        longer.push(0);
        assert!(matches!(refused(&longer), StoreError::DamagedBackup(_)));
        assert!(matches!(refused(b""), StoreError::NotABackup));
        assert!(matches!(refused(b"[peer]\n"), StoreError::NotABackup));
        let mut newer = good.clone();
        newer[15] = b'2';
        assert!(matches!(refused(&newer), StoreError::BackupVersion(2)));
        // A checksum that holds over wrong counts (a writer's bug, not the disk's).
        let mut miscounted = good[..good.len() - 32].to_vec();
        let last_count = miscounted.len() - 1;
        miscounted[last_count] ^= 1;
        let digest: [u8; 32] = Sha256::digest(&miscounted).into();
        miscounted.extend_from_slice(&digest);
        assert!(matches!(refused(&miscounted), StoreError::DamagedBackup(_)));
        // And the good one still restores.
        restore_backup(&path, &target).expect("restore");
    }

    #[test]
    fn a_backup_is_restored_only_into_a_new_store() {
        let tmp = tempfile::tempdir().expect("tmp");
        let s = town_store(&tmp.path().join("a"), 1, 0);
        let path = tmp.path().join("a.backup");
        backup_file(&s, &path);
        let target = tmp.path().join("b");
        fs::create_dir(&target).expect("mkdir");
        let e = restore_backup(&path, &target).expect_err("refused");
        assert!(matches!(e, StoreError::RestoreTargetExists(_)), "{e}");
        assert!(target.exists());
    }

    /// Snapshots taken while commits run never hold half of one: every restored store
    /// has a head for exactly its log, and as many codes used as credentials.
    #[test]
    fn a_snapshot_never_holds_half_a_commit() {
        let tmp = tempfile::tempdir().expect("tmp");
        let n_codes = 3_000;
        let s = Arc::new(town_store(&tmp.path().join("a"), n_codes, 0));
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (s, stop) = (Arc::clone(&s), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) && n < n_codes {
                    redeem(&s, n);
                    n += 1;
                }
                n
            })
        };
        let me = town().public_key();
        let mut seen = Vec::new();
        for i in 0..6 {
            let path = tmp.path().join(format!("{i}.backup"));
            backup_file(&s, &path);
            let dir = tmp.path().join(format!("r{i}"));
            restore_backup(&path, &dir).expect("restore");
            let r = open(&dir);
            let size = r.log_size(&me);
            let head = r.latest_head(&me).expect("read").expect("a head");
            assert_eq!(head.head.size, size, "the head is of the log as it was");
            assert_eq!(r.root_at(&me, size), Some(head.head.root));
            let entries = r.entries(&me, 0, size).expect("entries");
            let credentials = entries
                .into_iter()
                .map(|b| stored_event(b).expect("an event"))
                .filter(|e| e.kind() == Kind::Credential)
                .count() as u64;
            let used = r.invitation_counts().expect("counts").redeemed;
            assert_eq!(used, credentials, "a code is used with its credential");
            seen.push(size);
        }
        stop.store(true, Ordering::Relaxed);
        let written = writer.join().expect("the writer does not panic");
        assert!(written > 0);
        // The snapshots were taken while the log grew, not before or after.
        assert!(seen.windows(2).any(|w| w[0] < w[1]), "{seen:?}");
    }
}
