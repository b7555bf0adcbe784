//! What a town keeps secret as a trustee of secret ballots (SECRET-BALLOTS.md §4.2): its
//! long-lived encryption key `e` (file `trustee.key`, beside `authority.key` and handled
//! the same way: hex of a 32-byte seed, mode 0600, created on first start, in backups).
//!
//! `e` is drawn from the seed with core's `seeded_scalar(SEED_KEY, seed, 0)`; its public
//! part `E = e·B` and the proof of knowledge the `authority` event carries are core's
//! (`proofs::SchnorrProof`, ctx = the authority key). Deciding when to deal, complain or
//! combine is the ceremony's (`ceremony.rs`); every rule of what is valid is core's.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};
use palabre_core::crypto::PublicKey;
use palabre_core::dkg::Secret;
use palabre_core::group::{self, RistrettoPoint, tags};
use palabre_core::proofs::SchnorrProof;

/// The trustee key's file in the data directory.
pub const KEY_FILE: &str = "trustee.key";

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
#[allow(dead_code)] // the authority declaration and the ceremony draw from it (next commits)
pub fn fresh_seed() -> anyhow::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(seed)
}

/// The town's trustee encryption key.
#[allow(dead_code)] // `e` is read by the declaration and the ceremony (next commits)
pub struct TrusteeKey {
    secret: Secret,
    public: RistrettoPoint,
}

impl std::fmt::Debug for TrusteeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrusteeKey({})", self.public_hex())
    }
}

#[allow(dead_code)] // the declaration and the ceremony use the rest (next commits)
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

    /// The proof of knowledge of `e` the authority `authority` declares beside `E`
    /// (ctx = the authority key, from a fresh seed).
    pub fn proof(&self, authority: &PublicKey) -> anyhow::Result<SchnorrProof> {
        Ok(SchnorrProof::prove(
            &[authority.as_bytes()],
            &self.secret.0,
            &fresh_seed()?,
        ))
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
        let proof = a.proof(&authority).expect("proof");
        assert!(proof.verify(&[authority.as_bytes()], &a.public()).is_ok());
        let other = palabre_core::crypto::SecretKey::from_seed(&[4; 32]).public_key();
        assert!(proof.verify(&[other.as_bytes()], &a.public()).is_err());
        fs::set_permissions(dir.path().join(KEY_FILE), fs::Permissions::from_mode(0o644))
            .expect("chmod");
        assert!(TrusteeKey::open_or_create(dir.path()).is_err());
    }
}
