//! The town hall's own records, which are not part of any log: staff accounts and
//! sessions, consultation drafts, residents' reports, batches of invitation letters.
//! The staff pages (`palabre-web`'s `staff` module) decide what they hold; here they are
//! opaque values in namespaces, in one sled tree (`trees.rs`: `nskey_record`, `office` on
//! disk), each write durable before it returns.

use crate::{SledStorage, StoreError};

fn key(ns: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(ns.len() + 1 + key.len());
    k.extend_from_slice(ns.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

impl SledStorage {
    fn office(&self) -> &sled::Tree {
        &self.trees.nskey_record
    }

    pub fn office_get(&self, ns: &str, k: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.office().get(key(ns, k))?.map(|v| v.to_vec()))
    }

    /// Stores `value` under `ns`/`k`, on disk when it returns.
    pub fn office_put(&self, ns: &str, k: &str, value: &[u8]) -> Result<(), StoreError> {
        let _writing = self.writing();
        self.office().insert(key(ns, k), value)?;
        self.db.flush()?;
        Ok(())
    }

    /// Removes `ns`/`k` and returns what it held, atomically: of two callers taking the
    /// same one-time token, exactly one gets it.
    pub fn office_take(&self, ns: &str, k: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let _writing = self.writing();
        let old = self.office().remove(key(ns, k))?;
        self.db.flush()?;
        Ok(old.map(|v| v.to_vec()))
    }

    /// Every entry of `ns`, by key.
    pub fn office_scan(&self, ns: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let prefix = key(ns, "");
        self.office()
            .scan_prefix(&prefix)
            .map(|r| {
                let (k, v) = r?;
                let k = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                Ok((k, v.to_vec()))
            })
            .collect()
    }
}
