//! `palabre recover`: rebuilds a town's lost log from its neighbours' replicas through
//! the federation (`federation.rs`), which checks every entry and head as any
//! replication does.

use std::path::PathBuf;
use std::sync::Arc;

use palabre_core::record::Record;
use palabre_store::Storage;

use crate::home::Home;
use crate::{federation, metrics};

/// Rebuilds this town's own log (and the replicas of the federated towns) from the
/// neighbours, checking every entry and head like any replication; ends once the store
/// holds all the network knows and that has stayed so for two seconds.
pub(super) fn recover(data: PathBuf, from: Vec<String>, timeout: u64) -> anyhow::Result<()> {
    let home = Home::open_or_create(&data)?;
    let storage = Arc::new(home.open_store()?);
    let me = home.key.public_key();
    anyhow::ensure!(
        storage.log_size(&me) == 0,
        "this data directory already holds this town's log ({} entries): nothing to recover",
        storage.log_size(&me)
    );
    let peers = home.peers()?;
    let settings = federation::Settings::new("/ip4/0.0.0.0/tcp/0", &peers, &from)?
        .ok_or_else(|| anyhow::anyhow!("give at least one --from address"))?;
    let key = Arc::new(home.key);
    let stats = Arc::new(metrics::FederationStats::default());
    let runtime = tokio::runtime::Runtime::new()?;
    let (size, gathered) = runtime.block_on(async {
        let net = federation::start_recovering(settings, Arc::clone(&storage), key, stats).await?;
        // What the neighbours witnessed (cosignatures) and proved (evidence) comes back
        // by asking each of them, not by waiting for it to be sent again.
        net.gather().await?;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(timeout);
        let mut stable: Option<(u64, tokio::time::Instant)> = None;
        loop {
            tokio::time::sleep(federation::PASS).await;
            let now = tokio::time::Instant::now();
            anyhow::ensure!(
                now < deadline,
                "no neighbour served this town's log and what it witnessed within {timeout} s (are the addresses right, and their nodes running?)"
            );
            match federation::caught_up(&net, &storage, &me).await? {
                Some(size) => match stable {
                    Some((s, since)) if s == size => {
                        if since.elapsed() >= std::time::Duration::from_secs(2) {
                            return anyhow::Ok((size, net.gathering().await?));
                        }
                    }
                    _ => stable = Some((size, now)),
                },
                None => stable = None,
            }
        }
    })?;
    storage.flush()?;
    let head = storage
        .latest_head(&me)?
        .ok_or_else(|| anyhow::anyhow!("recovered entries but no signed head"))?;
    head.verify()
        .map_err(|_| anyhow::anyhow!("the recovered head is not signed by this town's key"))?;
    println!(
        "Recovered this town's log: {size} entries, head root {} (signed by this town).",
        head.head.root
    );
    let mut n_cosignatures = 0;
    let mut logs = vec![me];
    logs.extend(peers.peer.iter().map(|p| p.authority));
    for log in &logs {
        n_cosignatures += storage.cosignatures(log)?.len();
    }
    println!(
        "Recovered {} replica(s), {n_cosignatures} witness cosignature(s) and {} proof(s) of \
         equivocation from {} neighbour(s).",
        logs.len() - 1,
        storage.evidence()?.len(),
        gathered.done
    );
    if gathered.failed > 0 {
        println!(
            "{} neighbour(s) did not hand over what they witnessed (see the log above).",
            gathered.failed
        );
    }
    Ok(())
}
