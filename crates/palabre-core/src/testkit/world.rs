//! A small deterministic world: keys from fixed seeds, builders for every event kind, and
//! a ledger of several authorities' logs.

use crate::admission::Clock;
use crate::crypto::{PublicKey, SecretKey};
use crate::event::*;
use crate::ids::EventId;
use crate::ledger::Ledger;
use crate::rejection::Rejection;
use crate::tally::{Choice, Method};

/// 2030-03-17T17:46:40Z: far from any real clock, so tests never depend on today.
pub const T0: u64 = 1_900_000_000_000;
/// One day in milliseconds.
pub const DAY: u64 = 24 * 60 * 60 * 1000;
/// When the world's consultation opens to proposals.
pub const PROPOSALS_OPEN: u64 = T0;
/// When it closes to proposals.
pub const PROPOSALS_CLOSE: u64 = T0 + 10 * DAY;
/// When the vote opens.
pub const VOTE_OPEN: u64 = T0 + 10 * DAY;
/// When the vote closes.
pub const VOTE_CLOSE: u64 = T0 + 20 * DAY;

/// The key of seed `[n; 32]` (towns are `key(100 + t)`).
pub fn key(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32])
}

/// `body` signed by `key` at `created_at_ms`.
pub fn sign(key: &SecretKey, created_at_ms: u64, body: Body) -> SignedEvent {
    Event {
        author: key.public_key(),
        created_at_ms,
        body,
    }
    .sign(key)
    .expect("test events are valid")
}

/// A town's declaration named `name` (no trustee key).
pub fn authority_body(name: &str) -> Body {
    Body::Authority(AuthorityBody {
        name: name.into(),
        code: "75056".into(),
        addresses: vec!["http://127.0.0.1:8080".into()],
        encryption_key: None,
        encryption_pok: None,
    })
}

/// A public consultation across `authorities` (sorted here) with `method` and the
/// world's schedule.
pub fn consultation_body(authorities: &[PublicKey], method: Method) -> Body {
    let mut authorities = authorities.to_vec();
    authorities.sort();
    Body::Consultation(Box::new(ConsultationBody {
        title: "Aménagement de la place du marché".into(),
        description: "Que faire de la place ?\nProposez, argumentez, votez.".into(),
        authorities,
        proposals_open_ms: PROPOSALS_OPEN,
        proposals_close_ms: PROPOSALS_CLOSE,
        vote_open_ms: VOTE_OPEN,
        vote_close_ms: VOTE_CLOSE,
        method,
        show_running_results: false,
        secrecy: None,
        quotas: None,
    }))
}

/// A town: its key and the residents it credentialed.
#[derive(Debug)]
pub struct Town {
    /// The town's authority key.
    pub key: SecretKey,
    /// Its residents' keys, resident `r` being `key_of(town, r)`.
    pub residents: Vec<SecretKey>,
}

impl Town {
    /// The town's public key (its log).
    pub fn pk(&self) -> PublicKey {
        self.key.public_key()
    }
}

/// Several towns' logs in one ledger, with a consultation across them.
#[derive(Debug)]
pub struct World {
    /// Every town's log.
    pub ledger: Ledger,
    /// The towns, town 0 the organiser.
    pub towns: Vec<Town>,
    /// The consultation's id.
    pub consultation: EventId,
    /// The proposals made by [`World::new`], sorted by id.
    pub proposals: Vec<EventId>,
}

impl World {
    /// `n_towns` towns (town 0 organises), `n_residents` credentialed residents each,
    /// one consultation with `method`, and `n_proposals` proposals from town 0's residents.
    pub fn new(n_towns: u8, n_residents: u32, method: Method, n_proposals: usize) -> World {
        let mut ledger = Ledger::new();
        let mut towns = Vec::new();
        for t in 0..n_towns {
            let key = key(100 + t);
            let pk = key.public_key();
            ledger
                .append(
                    &pk,
                    sign(&key, T0 - DAY, authority_body(&format!("Town {t}"))),
                    Clock::Replay,
                )
                .expect("authority");
            let residents = credential_residents(&mut ledger, &key, t, 0..n_residents);
            towns.push(Town { key, residents });
        }
        let pks: Vec<PublicKey> = towns.iter().map(Town::pk).collect();
        let organiser = &towns[0];
        let c = sign(
            &organiser.key,
            T0 - DAY,
            consultation_body(&pks, method.clone()),
        );
        let consultation = c.id();
        ledger
            .append(&organiser.pk(), c, Clock::Replay)
            .expect("consultation");
        let mut world = World {
            ledger,
            towns,
            consultation,
            proposals: Vec::new(),
        };
        for i in 0..n_proposals {
            let cost = matches!(method, Method::Budget { .. }).then_some(100 * (i as u64 + 1));
            let id = world
                .propose(
                    0,
                    i % n_residents.max(1) as usize,
                    &format!("Proposition {i}"),
                    cost,
                )
                .expect("proposal");
            world.proposals.push(id);
        }
        world.proposals.sort();
        world
    }

    /// Resident `resident` of `town` proposes `title` (with `cost` in a budget) in its
    /// town's log, one day after proposals open.
    pub fn propose(
        &mut self,
        town: usize,
        resident: usize,
        title: &str,
        cost: Option<u64>,
    ) -> Result<EventId, Rejection> {
        let body = Body::Proposal(ProposalBody {
            consultation: self.consultation,
            title: title.into(),
            body: "Des bancs, des arbres et de l'ombre.".into(),
            cost,
        });
        let e = sign(
            &self.towns[town].residents[resident],
            PROPOSALS_OPEN + DAY,
            body,
        );
        let id = e.id();
        let log = self.towns[town].pk();
        self.ledger.append(&log, e, Clock::Replay)?;
        Ok(id)
    }

    /// Resident `resident` of `town`'s public ballot for `choice` at `at`, signed, not
    /// appended.
    pub fn ballot(&self, town: usize, resident: usize, at: u64, choice: Choice) -> SignedEvent {
        let body = Body::Ballot(BallotBody {
            consultation: self.consultation,
            choice,
            assistance: None,
        });
        sign(&self.towns[town].residents[resident], at, body)
    }

    /// Appends [`World::ballot`] to `town`'s log (through admission); returns its index.
    pub fn vote(
        &mut self,
        town: usize,
        resident: usize,
        at: u64,
        choice: Choice,
    ) -> Result<u64, Rejection> {
        let e = self.ballot(town, resident, at, choice);
        let log = self.towns[town].pk();
        self.ledger.append(&log, e, Clock::Replay)
    }
}

/// A `moderation` of `target` signed by `key` (a purge carries its tombstone).
pub fn moderation(
    key: &SecretKey,
    at: u64,
    target: EventId,
    action: ModerationAction,
    tombstone: Option<crate::event::Tombstone>,
) -> SignedEvent {
    sign(
        key,
        at,
        Body::Moderation(ModerationBody {
            target,
            action,
            reason: "Données personnelles".into(),
            tombstone,
        }),
    )
}

/// Resident `resident` of town `town`'s key. The seed is 1, the town, then the resident's
/// four bytes little-endian, then zeros: a resident below 256 has the key it had when
/// residents were a byte (seed `[1, town, resident, 0, ...]`), which vectors pin.
pub fn key_of(town: u8, resident: u32) -> SecretKey {
    let mut seed = [0u8; 32];
    seed[0] = 1;
    seed[1] = town;
    seed[2..6].copy_from_slice(&resident.to_le_bytes());
    SecretKey::from_seed(&seed)
}

/// Appends to `town_key`'s log a credential, signed by the town at `T0 - DAY`, for each
/// resident of `residents` (indices in town `town`); returns their keys in order. One
/// append each: the ledger's indexes make it linear in the number of residents.
pub fn credential_residents(
    ledger: &mut Ledger,
    town_key: &SecretKey,
    town: u8,
    residents: std::ops::Range<u32>,
) -> Vec<SecretKey> {
    let pk = town_key.public_key();
    residents
        .map(|r| {
            let resident = key_of(town, r);
            let cred = Body::Credential(CredentialBody {
                subject: resident.public_key(),
                replaces: None,
            });
            ledger
                .append(&pk, sign(town_key, T0 - DAY, cred), Clock::Replay)
                .expect("credential");
            resident
        })
        .collect()
}
