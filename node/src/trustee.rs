//! What a town keeps secret as a trustee of secret ballots (SECRET-BALLOTS.md §4.2): its
//! long-lived encryption key `e` (file `trustee.key`, beside `authority.key` and handled
//! the same way: hex of a 32-byte seed, mode 0600, created on first start, in backups),
//! and, per consultation it is a trustee of, its own share of its deal and then its
//! combined share `x_j` (file `trustee-shares.json`, mode 0600, in backups).
//!
//! `e` is drawn from the seed with core's `seeded_scalar(SEED_KEY, seed, 0)`; its public
//! part `E = e·B` and the proof of knowledge the `authority` event carries are core's
//! (`proofs::SchnorrProof`, ctx = the authority key). Deciding when to deal, complain or
//! combine is the ceremony's (`ceremony.rs`); every rule of what is valid is core's.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use palabre_core::crypto::PublicKey;
use palabre_core::dkg::Secret;
use palabre_core::event::secret::{Point, ProofPair};
use palabre_core::group::{self, RistrettoPoint, tags};
use palabre_core::ids::EventId;
use palabre_core::secret::build;
use serde::{Deserialize, Serialize};

/// The trustee key's file in the data directory.
pub const KEY_FILE: &str = "trustee.key";
/// The shares' file in the data directory.
pub const SHARES_FILE: &str = "trustee-shares.json";

/// Reads a 32-byte seed written as hex in a 0600 file, creating it from the operating
/// system's randomness when it does not exist (`authority.key` and `trustee.key`).
pub fn seed_file(path: &Path) -> anyhow::Result<[u8; 32]> {
    if !path.exists() {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness for a key: {e}"))?;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        writeln!(f, "{}", hex::encode(seed))?;
        f.sync_all()?;
    }
    refuse_if_readable(path)?;
    let text = fs::read_to_string(path)?;
    hex::decode(text.trim())
        .ok()
        .and_then(|v| v.try_into().ok())
        .with_context(|| format!("{} does not hold a 64-character hex key", path.display()))
}

/// Refuses a secret file that others than its owner can read.
fn refuse_if_readable(path: &Path) -> anyhow::Result<()> {
    let mode = fs::metadata(path)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by others (mode {mode:o}); run: chmod 600 {}",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

/// A fresh 32-byte seed for one proof or one deal.
pub fn fresh_seed() -> anyhow::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(seed)
}

/// The town's trustee encryption key.
pub struct TrusteeKey {
    secret: Secret,
    public: RistrettoPoint,
}

impl std::fmt::Debug for TrusteeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrusteeKey({})", self.public_hex())
    }
}

impl TrusteeKey {
    /// Opens `DIR/trustee.key`, creating it on first start.
    pub fn open_or_create(dir: &Path) -> anyhow::Result<TrusteeKey> {
        let seed = seed_file(&dir.join(KEY_FILE))?;
        Ok(TrusteeKey::from_seed(&seed))
    }

    /// The key drawn from a seed (`Hs(seed/key, seed ‖ 0)`).
    pub fn from_seed(seed: &[u8; 32]) -> TrusteeKey {
        let secret = Secret(group::seeded_scalar(tags::SEED_KEY, seed, 0));
        let public = RistrettoPoint::mul_base(&secret.0);
        TrusteeKey { secret, public }
    }

    /// `e`.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// `E = e·B`.
    pub fn public(&self) -> RistrettoPoint {
        self.public
    }

    /// `E` as the 64 hex characters the `authority` event carries.
    pub fn public_hex(&self) -> String {
        group::point_hex(&self.public)
    }

    /// The `encryption_key` and `encryption_pok` the authority `authority` declares
    /// (core's proof, ctx = the authority key, from a fresh seed).
    pub fn declaration(&self, authority: &PublicKey) -> anyhow::Result<(Point, ProofPair)> {
        Ok(build::encryption_proof(
            authority,
            &self.secret,
            &fresh_seed()?,
        ))
    }
}

/// What this town holds for one consultation it is a trustee of.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConsultationShares {
    /// The id of this town's `dkg_deal`, once appended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal: Option<EventId>,
    /// `f_j(j)`, the share of its own deal it sends to nobody (hex scalar), kept from
    /// the deal until the election key, then folded into `share`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_share: Option<String>,
    /// `x_j = Σ_{i∈QUAL} s_ij` (hex scalar), once the election key is admitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<String>,
    /// The `election_key` event `share` belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub election_key: Option<EventId>,
    /// When the shares were deleted, their retention after the result over (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at_ms: Option<u64>,
}

impl ConsultationShares {
    /// `own_share` as a scalar.
    pub fn own_share(&self) -> anyhow::Result<Option<Secret>> {
        self.own_share
            .as_deref()
            .map(|h| {
                group::scalar_from_hex(h)
                    .map(Secret)
                    .map_err(|e| anyhow::anyhow!("{SHARES_FILE}: a stored share is damaged: {e}"))
            })
            .transpose()
    }
}

/// `trustee-shares.json`: one entry per consultation, keyed by its id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharesFile {
    pub consultations: BTreeMap<EventId, ConsultationShares>,
}

/// The shares' file of a data directory. Every change is written whole to a new 0600
/// file, synced, and renamed over the old, so a crash leaves the old or the new.
#[derive(Debug, Clone)]
pub struct Shares {
    path: PathBuf,
}

impl Shares {
    pub fn new(dir: &Path) -> Shares {
        Shares {
            path: dir.join(SHARES_FILE),
        }
    }

    /// Everything held (nothing when there is no file yet).
    pub fn read(&self) -> anyhow::Result<SharesFile> {
        if !self.path.exists() {
            return Ok(SharesFile::default());
        }
        refuse_if_readable(&self.path)?;
        let text = fs::read_to_string(&self.path)
            .with_context(|| format!("reading {}", self.path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("reading {}", self.path.display()))
    }

    /// What is held for one consultation.
    pub fn get(&self, consultation: &EventId) -> anyhow::Result<ConsultationShares> {
        Ok(self
            .read()?
            .consultations
            .remove(consultation)
            .unwrap_or_default())
    }

    /// Replaces what is held for one consultation, durably.
    pub fn put(&self, consultation: &EventId, held: ConsultationShares) -> anyhow::Result<()> {
        let mut all = self.read()?;
        all.consultations.insert(*consultation, held);
        let dir = self
            .path
            .parent()
            .context("the shares' file lives in the data directory")?;
        let tmp = dir.join(format!("{SHARES_FILE}.new"));
        let _ = fs::remove_file(&tmp);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(&serde_json::to_vec_pretty(&all)?)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &self.path)
            .with_context(|| format!("renaming to {}", self.path.display()))?;
        fs::File::open(dir)?.sync_all()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_kept_private_and_proved() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = TrusteeKey::open_or_create(dir.path()).expect("created");
        let b = TrusteeKey::open_or_create(dir.path()).expect("opened");
        assert_eq!(a.public(), b.public());
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let authority = palabre_core::crypto::SecretKey::from_seed(&[3; 32]).public_key();
        let (key, pok) = a.declaration(&authority).expect("proof");
        assert_eq!(key.0, a.public());
        let check = palabre_core::event::secret::check_encryption_key;
        assert!(check(&authority, Some(&key), Some(&pok)).is_ok());
        let other = palabre_core::crypto::SecretKey::from_seed(&[4; 32]).public_key();
        assert!(check(&other, Some(&key), Some(&pok)).is_err());
        fs::set_permissions(dir.path().join(KEY_FILE), fs::Permissions::from_mode(0o644))
            .expect("chmod");
        assert!(TrusteeKey::open_or_create(dir.path()).is_err());
    }

    #[test]
    fn shares_survive_rewrites_and_stay_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let shares = Shares::new(dir.path());
        let cid = EventId(palabre_core::ids::Hash([9; 32]));
        assert_eq!(
            shares.get(&cid).expect("empty"),
            ConsultationShares::default()
        );
        let held = ConsultationShares {
            own_share: Some(group::scalar_hex(&group::Scalar::from(5u64))),
            ..Default::default()
        };
        shares.put(&cid, held.clone()).expect("written");
        assert_eq!(shares.get(&cid).expect("read"), held);
        let mode = fs::metadata(dir.path().join(SHARES_FILE))
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
