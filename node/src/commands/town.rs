//! `palabre init` and `palabre invite`: the town's declaration (its `authority` event,
//! appended once) and its invitation codes (the node keeps only their hashes). `serve`
//! uses both too; admission of what they append is core's.

use std::path::PathBuf;

use anyhow::Context;
use palabre_core::admission::Clock;
use palabre_core::event::{AuthorityBody, Body, Event};
use palabre_core::invitation::{code_from_random, code_hash, normalize_code};
use palabre_core::record::Record;
use palabre_store::{CommitItem, SledStorage, Storage};

use crate::clock::now_ms;
use crate::home::Home;

/// Appends this town's `authority` event if its log is empty.
pub(super) fn declare(
    storage: &SledStorage,
    home: &Home,
    name: &str,
    code: &str,
    public_url: &str,
) -> anyhow::Result<()> {
    let me = home.key.public_key();
    // Declared already, with this node's trustee key (an older declaration without it,
    // or with a key since replaced, is declared again: trustee.rs).
    if storage.log_size(&me) > 0 && storage.encryption_key(&me) == Some(home.trustee.public()) {
        return Ok(());
    }
    let (encryption_key, encryption_pok) = home.trustee.declaration(&me)?;
    let event = Event {
        author: me,
        created_at_ms: now_ms(),
        body: Body::Authority(AuthorityBody {
            name: name.into(),
            code: code.into(),
            addresses: vec![public_url.to_owned()],
            encryption_key: Some(encryption_key),
            encryption_pok: Some(encryption_pok),
        }),
    }
    .sign(&home.key)
    .map_err(|r| anyhow::anyhow!("the authority declaration is invalid: {r}"))?;
    let out = storage.commit(
        vec![CommitItem {
            log: me,
            event,
            consume_invitation: None,
        }],
        Clock::Live { now_ms: now_ms() },
        &|h| h.sign(&home.key),
    )?;
    if let Some(Err(e)) = out.results.first() {
        anyhow::bail!("the authority declaration was refused: {e}");
    }
    Ok(())
}

pub(super) fn new_codes(
    storage: &SledStorage,
    home: &Home,
    count: u32,
) -> anyhow::Result<Vec<String>> {
    let me = home.key.public_key();
    let mut codes = Vec::new();
    for _ in 0..count {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        codes.push(code_from_random(&random));
    }
    let hashes: Vec<_> = codes
        .iter()
        .map(|c| {
            code_hash(
                &me,
                &normalize_code(c).expect("generated codes are well formed"),
            )
        })
        .collect();
    storage.add_invitations(&hashes)?;
    Ok(codes)
}

pub(super) fn init(data: PathBuf, name: String, code: String) -> anyhow::Result<()> {
    let home = Home::open_or_create(&data)?;
    let storage = home.open_store()?;
    let public_url = home.config.public_url_for(
        home.config
            .http
            .parse()
            .context("the HTTP address is like 127.0.0.1:8080")?,
    );
    declare(&storage, &home, &name, &code, &public_url)?;
    println!("Data directory: {}", data.display());
    println!("Authority key:  {}", home.key.public_key());
    Ok(())
}

pub(super) fn invite(data: PathBuf, count: u32, out: PathBuf) -> anyhow::Result<()> {
    let home = Home::open_or_create(&data)?;
    let storage = home.open_store()?;
    let codes = new_codes(&storage, &home, count)?;
    let public_url = home.config.public_url_for(
        home.config
            .http
            .parse()
            .context("the HTTP address is like 127.0.0.1:8080")?,
    );
    let mut csv = String::from("code,url\n");
    for c in &codes {
        csv.push_str(&format!("{c},{public_url}\n"));
    }
    std::fs::write(&out, csv).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "{count} codes written to {} (the node keeps only their hashes).",
        out.display()
    );
    Ok(())
}
