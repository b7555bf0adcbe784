//! Federation as the node runs it: the network task of `palabre-net` on one side, the
//! store on the other, and this bridge between them. It decides nothing the protocol
//! decides (that is `palabre_net::proto`) and admits nothing itself (that is core, inside
//! the store):
//!
//! - this town's log, as soon as the writer has committed, is handed to the network,
//!   which announces the new head to every peer at once and serves the entries;
//! - at start, every log the store holds (its own and the replicas) is handed over too,
//!   so a restarted node resumes where it was;
//! - entries the network has fetched and checked against a signed head are appended to
//!   the store's replica of that log (`Storage::append_replica`: core's admission, byte
//!   for byte, with the authority's own head), and the network is told (`Net::written`):
//!   it keeps no log in memory, only the entries it fetched and the store has not taken
//!   yet (a bounded window), and reads the store to serve and check the rest. An entry
//!   that refers to another log's event not replicated yet waits for the next pass
//!   (said once, at `info`: the ordinary course of a catch-up); only an entry truly
//!   refused is an error;
//! - as a witness, the node cosigns the heads it reaches (at most every
//!   [`COSIGN_EVERY`] per log) and, always, every closing checkpoint it replicates;
//! - cosignatures and evidence received from peers are kept in the store, where the API
//!   serves them and the closer counts them;
//! - a peer's request for the cosignatures or evidence the store keeps is answered from
//!   it, page by page; and `palabre recover` gathers the same from every neighbour
//!   (`Net::gather`), keeping each checked page before the next is asked, so that a
//!   recovered node serves what it witnessed and received before the loss.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::event::Body;
use palabre_core::head::{Cosignature, CosignedHead, TreeHead};
use palabre_core::ids::EventId;
use palabre_core::purge;
use palabre_core::record::Record;
use palabre_net::Multiaddr;
use palabre_net::proto::{MAX_PAGE_COSIGNATURES, MAX_PAGE_EVIDENCE, Want, Wire};
use palabre_net::shell::{self, Net, NetEvent};
use palabre_store::{Entry, SledStorage, Storage, stored_entry};
use tokio::sync::mpsc;

use crate::clock::now_ms;
use crate::home::Peers;
use crate::metrics::FederationStats;

/// How often the bridge compares the store and the network.
pub const PASS: Duration = Duration::from_millis(250);
/// Entries moved per step between the store and the network.
pub const STEP_ENTRIES: u64 = 5_000;
/// A log's ordinary heads are cosigned at most this often (closing heads always).
pub const COSIGN_EVERY: Duration = Duration::from_secs(10);

/// The federation's settings: who, where.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: Multiaddr,
    pub federation: Vec<PublicKey>,
    pub dial: Vec<Multiaddr>,
}

impl Settings {
    /// From the config and `peers.toml`; `None` when no peer is named.
    pub fn new(listen: &str, peers: &Peers, extra: &[String]) -> anyhow::Result<Option<Settings>> {
        if peers.peer.is_empty() && extra.is_empty() {
            return Ok(None);
        }
        let parse = |a: &str| -> anyhow::Result<Multiaddr> {
            a.parse().map_err(|e| {
                anyhow::anyhow!("{a:?} is not a multiaddr like /ip4/192.0.2.7/tcp/4040: {e}")
            })
        };
        let mut dial = Vec::new();
        for p in &peers.peer {
            for a in &p.addrs {
                dial.push(parse(a)?);
            }
        }
        for a in extra {
            dial.push(parse(a)?);
        }
        Ok(Some(Settings {
            listen: parse(listen)?,
            federation: peers.peer.iter().map(|p| p.authority).collect(),
            dial,
        }))
    }
}

/// Why the network runs: beside the serving node, or to rebuild this town's own log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Serving,
    Recovering,
}

/// Starts the network and the bridge of a serving node (`palabre serve`). Returns the
/// network handle (its address says where it listens).
pub async fn start(
    settings: Settings,
    storage: Arc<SledStorage>,
    key: Arc<SecretKey>,
    stats: Arc<FederationStats>,
    committed: Arc<tokio::sync::Notify>,
) -> anyhow::Result<Net> {
    launch(settings, storage, key, stats, committed, Mode::Serving).await
}

/// Starts the network and the bridge to rebuild this town's own log from the
/// neighbours (`palabre recover`).
pub async fn start_recovering(
    settings: Settings,
    storage: Arc<SledStorage>,
    key: Arc<SecretKey>,
    stats: Arc<FederationStats>,
) -> anyhow::Result<Net> {
    let never = Arc::new(tokio::sync::Notify::new());
    launch(settings, storage, key, stats, never, Mode::Recovering).await
}

async fn launch(
    settings: Settings,
    storage: Arc<SledStorage>,
    key: Arc<SecretKey>,
    stats: Arc<FederationStats>,
    committed: Arc<tokio::sync::Notify>,
    mode: Mode,
) -> anyhow::Result<Net> {
    let me = key.public_key();
    let (net, events) = shell::start(
        SecretKey::from_seed(&key.seed()),
        settings.federation.clone(),
        settings.listen.clone(),
        settings.dial,
        Box::new(Arc::clone(&storage)),
    )
    .await?;
    let mut federation = settings.federation;
    federation.push(me);
    let bridge = Bridge {
        net: net.clone(),
        storage,
        key,
        me,
        federation,
        stats,
        last_cosigned: HashMap::new(),
        reported: HashMap::new(),
        waiting: HashMap::new(),
        recovering: mode == Mode::Recovering,
    };
    tokio::spawn(bridge.run(events, committed));
    Ok(net)
}

struct Bridge {
    net: Net,
    storage: Arc<SledStorage>,
    key: Arc<SecretKey>,
    me: PublicKey,
    federation: Vec<PublicKey>,
    stats: Arc<FederationStats>,
    last_cosigned: HashMap<PublicKey, tokio::time::Instant>,
    /// A refused replica entry already reported (so it is logged once).
    reported: HashMap<PublicKey, u64>,
    /// A replica entry already said to wait for another log (so it is logged once).
    waiting: HashMap<PublicKey, u64>,
    /// Rebuilding this town's own log (`palabre recover`): the only time the network
    /// may write it (serving, only the writer does). It then witnesses nothing: what it
    /// witnessed before the loss is gathered back from the neighbours.
    recovering: bool,
}

impl Bridge {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<NetEvent>,
        committed: Arc<tokio::sync::Notify>,
    ) {
        let mut pass = tokio::time::interval(PASS);
        pass.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // This town's log grew: hand it over now rather than at the next pass.
                () = committed.notified() => {
                    if let Err(e) = self.pass().await {
                        tracing::error!("federation: {e:#}");
                    }
                }
                _ = pass.tick() => {
                    if let Err(e) = self.pass().await {
                        tracing::error!("federation: {e:#}");
                    }
                }
                event = events.recv() => match event {
                    None => return,
                    Some(e) => {
                        if let Err(e) = self.on_event(e).await {
                            tracing::error!("federation: {e:#}");
                        }
                    }
                },
            }
        }
    }

    async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&SledStorage) -> R + Send + 'static,
    ) -> anyhow::Result<R> {
        let storage = Arc::clone(&self.storage);
        Ok(tokio::task::spawn_blocking(move || f(&storage)).await?)
    }

    async fn on_event(&mut self, event: NetEvent) -> anyhow::Result<()> {
        match event {
            NetEvent::Stored { .. } => self.pass().await?,
            NetEvent::Cosignature(c) => {
                if self.blocking(move |s| s.add_cosignature(&c)).await?? {
                    self.stats
                        .cosignatures_received
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            NetEvent::Evidence(e) => {
                let authority = e.authority();
                if self.blocking(move |s| s.add_evidence(&e)).await?? {
                    self.stats.evidence.fetch_add(1, Ordering::Relaxed);
                    if self.recovering {
                        // Known before the loss, and brought back: not news.
                        tracing::warn!(
                            "kept again the proof that the town {authority} signed two \
                             different histories of its log"
                        );
                    } else {
                        tracing::error!(
                            "the town {authority} signed two different histories of its log: \
                             its consultations are disputed (GET /api/v1/evidence)"
                        );
                    }
                }
            }
            NetEvent::Penalised { .. } => {
                self.stats.penalties.fetch_add(1, Ordering::Relaxed);
            }
            NetEvent::Lookup { peer, want } => {
                let wire = self.blocking(move |s| look_up(s, want)).await??;
                self.net.answer(peer, wire).await?;
            }
            NetEvent::Gathered {
                peer,
                cosignatures,
                evidence,
            } => {
                let new = self
                    .blocking(move |s| -> anyhow::Result<(u64, u64)> {
                        let mut proofs = 0;
                        for e in &evidence {
                            proofs += u64::from(s.add_evidence(e)?);
                        }
                        Ok((s.add_cosignatures(&cosignatures)?, proofs))
                    })
                    .await??;
                self.stats
                    .cosignatures_received
                    .fetch_add(new.0, Ordering::Relaxed);
                self.stats.evidence.fetch_add(new.1, Ordering::Relaxed);
                self.net.kept(peer).await?;
            }
        }
        Ok(())
    }

    /// Brings the store and the network level, one step per log.
    async fn pass(&mut self) -> anyhow::Result<()> {
        self.stats.sync_entries_received.store(
            self.net.received_entries.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let progress = self.net.progress().await?;
        for authority in self.federation.clone() {
            let held = progress
                .iter()
                .find(|p| p.authority == authority)
                .map_or(0, |p| p.held);
            let stored = self.blocking(move |s| s.log_size(&authority)).await?;
            if stored > held {
                self.hand_over(authority, held).await?;
            } else if held > stored && (authority != self.me || self.recovering) {
                self.take_in(authority, stored, held).await?;
            }
        }
        Ok(())
    }

    /// Gives the network the stored entries it does not hold yet, up to the latest
    /// stored head of that log.
    async fn hand_over(&self, authority: PublicKey, held: u64) -> anyhow::Result<()> {
        let Some((head, entries)) = self
            .blocking(move |s| -> anyhow::Result<_> {
                let Some(head) = s.latest_head(&authority)? else {
                    return Ok(None); // a first page with no head yet: fetched again
                };
                let end = head.head.size.min(held + STEP_ENTRIES);
                Ok(Some((head, s.entries(&authority, held, end)?)))
            })
            .await??
        else {
            return Ok(());
        };
        if entries.is_empty() {
            return Ok(());
        }
        let purged = purge_targets(
            entries
                .iter()
                .filter(|e| might_purge(e))
                .filter_map(|e| stored_entry(e.clone()).ok())
                .collect::<Vec<_>>()
                .iter(),
        );
        self.net.appended(head, held, entries).await?;
        self.pass_on_purges(authority, purged).await
    }

    /// Tells the network which entries of `authority`'s log now hold a tombstone, so
    /// that it serves the tombstone instead of the text it held.
    async fn pass_on_purges(
        &self,
        authority: PublicKey,
        targets: Vec<EventId>,
    ) -> anyhow::Result<()> {
        if targets.is_empty() {
            return Ok(());
        }
        let found = self
            .blocking(move |s| -> anyhow::Result<Vec<(u64, Vec<u8>)>> {
                let mut out = Vec::new();
                for id in targets {
                    if let Some((log, index)) = s.position(&id)?
                        && log == authority
                        && let Some(bytes) = Storage::entry(s, &log, index)?
                        && purge::is_tombstone(&bytes)
                    {
                        out.push((index, bytes));
                    }
                }
                Ok(out)
            })
            .await??;
        for (index, bytes) in found {
            self.net.purged(authority, index, bytes).await?;
        }
        Ok(())
    }

    /// Appends to the store's replica what the network holds and checked.
    async fn take_in(
        &mut self,
        authority: PublicKey,
        stored: u64,
        held: u64,
    ) -> anyhow::Result<()> {
        let end = held.min(stored + STEP_ENTRIES);
        let (head, entries) = self.net.range(authority, stored, end).await?;
        let Some(head) = head else {
            return Ok(()); // the network is between two heads of this log
        };
        if entries.is_empty() {
            return Ok(());
        }
        let events = entries
            .into_iter()
            .map(stored_entry)
            .collect::<Result<Vec<_>, _>>()?;
        let checkpoints: Vec<TreeHead> = events
            .iter()
            .filter_map(Entry::event)
            .filter(|e| e.author() == &authority)
            .filter_map(|e| match e.body() {
                Body::Checkpoint(c) => Some(TreeHead {
                    authority,
                    size: c.size,
                    root: c.root,
                    timestamp_ms: e.created_at_ms(),
                }),
                _ => None,
            })
            .collect();
        let purged = purge_targets(events.iter());
        let me = self.me;
        let outcome = self
            .blocking(move |s| s.append_replica(&head, stored, events))
            .await?
            .map_err(|e| anyhow::anyhow!("node {me}, replica of {authority}, held {held}: {e}"))?;
        self.stats
            .replicated_entries
            .fetch_add(outcome.appended, Ordering::Relaxed);
        // Stored: the network reads them from the store from now on, and fetches more.
        self.net
            .written(authority, stored + outcome.appended)
            .await?;
        self.pass_on_purges(authority, purged).await?;
        if let Some((index, r)) = &outcome.refused {
            // Said once per entry: waiting for another log is the ordinary course of a
            // catch-up (that log comes in, the entry is taken in at a later pass); only
            // a true refusal is an error.
            let (said, awaits) = if r.awaits_other_log() {
                (&mut self.waiting, true)
            } else {
                (&mut self.reported, false)
            };
            if said.insert(authority, *index) != Some(*index) {
                if awaits {
                    tracing::info!(
                        "entry {index} of {authority}'s log waits for another log not caught up \
                         yet ({}: {r}); it is taken in once that log is",
                        r.code()
                    );
                } else {
                    tracing::error!(
                        "entry {index} of {authority}'s log is refused ({}: {r}); its replica \
                         stops there",
                        r.code()
                    );
                }
            }
        }
        if self.recovering {
            // Rebuilding after a loss: what this node witnessed before comes back from
            // the neighbours (gathered); it does not witness anew what it only restores.
            return Ok(());
        }
        // Closing heads among what was appended: always cosigned, and kept for peers
        // that connect later (the organiser needs them for its quorum).
        let appended_to = stored + outcome.appended;
        for head in checkpoints {
            if head.size <= appended_to {
                self.cosign(head, true).await?;
            }
        }
        if outcome.reached_head {
            let due = self
                .last_cosigned
                .get(&authority)
                .is_none_or(|t| t.elapsed() >= COSIGN_EVERY);
            if due {
                self.last_cosigned
                    .insert(authority, tokio::time::Instant::now());
                self.cosign(head.head, false).await?;
            }
        }
        Ok(())
    }

    /// Cosigns `head` and sends the cosignature out. If this witness already keeps one
    /// of the same size and root (an ordinary head that a checkpoint then names), that
    /// one is what travels: every node keeps one cosignature per witness and position,
    /// and they must all keep the same.
    async fn cosign(&self, head: TreeHead, sticky: bool) -> anyhow::Result<()> {
        let fresh: Cosignature = CosignedHead {
            head,
            witness: self.me,
            timestamp_ms: now_ms(),
        }
        .sign(&self.key);
        let me = self.me;
        let kept = self
            .blocking(move |s| -> anyhow::Result<Option<Cosignature>> {
                if s.add_cosignature(&fresh)? {
                    return Ok(Some(fresh));
                }
                let h = &fresh.cosigned.head;
                Ok(s.cosignatures(&h.authority)?.into_iter().find(|c| {
                    let k = &c.cosigned;
                    k.witness == me && k.head.size == h.size && k.head.root == h.root
                }))
            })
            .await??;
        let Some(cosignature) = kept else {
            return Ok(());
        };
        if cosignature == fresh {
            self.stats.cosignatures_made.fetch_add(1, Ordering::Relaxed);
        }
        self.net.cosigned(cosignature, sticky).await?;
        Ok(())
    }
}

/// For `palabre recover`: whether this town's own log and every replica are held in
/// the store as far as the network knows them, and every federated neighbour connected
/// has handed over the cosignatures and evidence it keeps (at least one has); then the
/// size of this town's log.
pub async fn caught_up(
    net: &Net,
    storage: &Arc<SledStorage>,
    me: &PublicKey,
) -> anyhow::Result<Option<u64>> {
    let progress = net.progress().await?;
    let mine = progress.iter().find(|p| p.authority == *me);
    let Some(mine) = mine else {
        return Ok(None);
    };
    if mine.held == 0 || mine.target.is_some() || progress.iter().any(|p| p.target.is_some()) {
        return Ok(None);
    }
    for p in &progress {
        if storage.log_size(&p.authority) != p.held {
            return Ok(None);
        }
    }
    let gathered = net.gathering().await?;
    if gathered.asking > 0 || gathered.done == 0 {
        return Ok(None);
    }
    Ok(Some(mine.held))
}

/// A peer's request for what the store keeps, answered from it.
fn look_up(s: &SledStorage, want: Want) -> anyhow::Result<Wire> {
    Ok(match want {
        Want::Cosignatures { authority, after } => {
            let from = after.map(|k| (k.size, k.witness, k.root));
            let mut cosignatures =
                s.cosignatures_after(&authority, from, MAX_PAGE_COSIGNATURES + 1)?;
            let complete = cosignatures.len() <= MAX_PAGE_COSIGNATURES;
            cosignatures.truncate(MAX_PAGE_COSIGNATURES);
            Wire::Cosignatures {
                authority,
                after,
                cosignatures,
                complete,
            }
        }
        Want::Evidence { authority, skip } => {
            let mut evidence = s.evidence_against(&authority, skip, MAX_PAGE_EVIDENCE + 1)?;
            let complete = evidence.len() <= MAX_PAGE_EVIDENCE;
            evidence.truncate(MAX_PAGE_EVIDENCE);
            Wire::EvidenceList {
                authority,
                skip,
                evidence,
                complete,
            }
        }
    })
}

/// The targets of the purges among `entries`.
fn purge_targets<'e>(entries: impl Iterator<Item = &'e Entry>) -> Vec<EventId> {
    entries
        .filter_map(Entry::event)
        .filter_map(|e| match e.body() {
            Body::Moderation(b) if b.tombstone.is_some() => Some(b.target),
            _ => None,
        })
        .collect()
}

/// A cheap filter before decoding: only a purge carries this member.
fn might_purge(bytes: &[u8]) -> bool {
    bytes.windows(12).any(|w| w == b"\"tombstone\":")
}
