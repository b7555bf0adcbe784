//! A small deterministic world for tests: keys from fixed seeds, builders for every event
//! kind, and a ledger of several authorities' logs.

use palabre_core::admission::Clock;
use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::event::*;
use palabre_core::ids::EventId;
use palabre_core::ledger::Ledger;
use palabre_core::rejection::Rejection;
use palabre_core::tally::{Choice, Method};

/// 2030-03-17T17:46:40Z: far from any real clock, so tests never depend on today.
pub const T0: u64 = 1_900_000_000_000;
pub const DAY: u64 = 24 * 60 * 60 * 1000;
pub const PROPOSALS_OPEN: u64 = T0;
pub const PROPOSALS_CLOSE: u64 = T0 + 10 * DAY;
pub const VOTE_OPEN: u64 = T0 + 10 * DAY;
pub const VOTE_CLOSE: u64 = T0 + 20 * DAY;

pub fn key(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32])
}

pub fn sign(key: &SecretKey, created_at_ms: u64, body: Body) -> SignedEvent {
    Event {
        author: key.public_key(),
        created_at_ms,
        body,
    }
    .sign(key)
    .expect("test events are valid")
}

pub fn authority_body(name: &str) -> Body {
    Body::Authority(AuthorityBody {
        name: name.into(),
        code: "75056".into(),
        addresses: vec!["http://127.0.0.1:8080".into()],
        encryption_key: None,
        encryption_pok: None,
    })
}

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
    pub key: SecretKey,
    pub residents: Vec<SecretKey>,
}

impl Town {
    pub fn pk(&self) -> PublicKey {
        self.key.public_key()
    }
}

/// Several towns' logs in one ledger, with a consultation across them.
#[derive(Debug)]
pub struct World {
    pub ledger: Ledger,
    pub towns: Vec<Town>,
    pub consultation: EventId,
    pub proposals: Vec<EventId>,
}

impl World {
    /// `n_towns` towns (town 0 organises), `n_residents` credentialed residents each,
    /// one consultation with `method`, and `n_proposals` proposals from town 0's residents.
    pub fn new(n_towns: u8, n_residents: u8, method: Method, n_proposals: usize) -> World {
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
            let mut residents = Vec::new();
            for r in 0..n_residents {
                let resident = key_of(t, r);
                let cred = Body::Credential(CredentialBody {
                    subject: resident.public_key(),
                    replaces: None,
                });
                ledger
                    .append(&pk, sign(&key, T0 - DAY, cred), Clock::Replay)
                    .expect("credential");
                residents.push(resident);
            }
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

    pub fn ballot(&self, town: usize, resident: usize, at: u64, choice: Choice) -> SignedEvent {
        let body = Body::Ballot(BallotBody {
            consultation: self.consultation,
            choice,
            assistance: None,
        });
        sign(&self.towns[town].residents[resident], at, body)
    }

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
    tombstone: Option<palabre_core::event::Tombstone>,
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

pub fn key_of(town: u8, resident: u8) -> SecretKey {
    let mut seed = [0u8; 32];
    seed[0] = 1;
    seed[1] = town;
    seed[2] = resident;
    SecretKey::from_seed(&seed)
}
