//! A deterministic secret consultation for tests: towns that declare trustee encryption
//! keys, a consultation with `secrecy`, the trustees' deals, the organiser's election key
//! and layout, and sealed ballots — every body made by core's `secret::build`, as the
//! node makes them.

use palabre_core::admission::{Clock, ConsultationView, Record};
use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::event::*;
use palabre_core::ids::EventId;
use palabre_core::ledger::Ledger;
use palabre_core::rejection::Rejection;
use palabre_core::secret::build::{self, TrusteeKey};
use palabre_core::secret::{SealedBallotBody, Secrecy};
use palabre_core::tally::{Choice, Method};

use super::world::*;

pub const S_PROPOSALS_CLOSE: u64 = T0 + 5 * DAY;
pub const KEYS_CLOSE: u64 = T0 + 6 * DAY;
pub const HOUR: u64 = 3_600_000;
/// When the organiser publishes the election key and the layout.
pub const SETUP_AT: u64 = KEYS_CLOSE + HOUR + 1;
pub const DEAL_AT: u64 = KEYS_CLOSE - DAY;

pub struct SecretTown {
    pub key: SecretKey,
    pub trustee: TrusteeKey,
    pub residents: Vec<SecretKey>,
}

impl SecretTown {
    pub fn pk(&self) -> PublicKey {
        self.key.public_key()
    }
}

pub struct SecretWorld {
    pub ledger: Ledger,
    pub towns: Vec<SecretTown>,
    pub consultation: EventId,
    pub proposals: Vec<EventId>,
    pub deals: Vec<EventId>,
    pub election_key: Option<EventId>,
    pub layout: Option<EventId>,
}

pub fn trustee_seed(t: u8) -> [u8; 32] {
    [50 + t; 32]
}

/// A town's declaration with its trustee encryption key.
pub fn trustee_authority(key: &SecretKey, trustee: &TrusteeKey, name: &str) -> SignedEvent {
    sign(
        key,
        T0 - DAY,
        Body::Authority(AuthorityBody {
            name: name.into(),
            code: String::new(),
            addresses: vec![],
            encryption_key: Some(trustee.key),
            encryption_pok: Some(trustee.pok),
        }),
    )
}

pub fn secret_consultation_body(
    authorities: &[PublicKey],
    method: Method,
    threshold: u64,
    split: bool,
) -> ConsultationBody {
    let mut authorities = authorities.to_vec();
    authorities.sort();
    ConsultationBody {
        title: "Référendum local".into(),
        description: "Un vote secret.".into(),
        authorities: authorities.clone(),
        proposals_open_ms: PROPOSALS_OPEN,
        proposals_close_ms: S_PROPOSALS_CLOSE,
        vote_open_ms: VOTE_OPEN,
        vote_close_ms: VOTE_CLOSE,
        method,
        show_running_results: false,
        secrecy: Some(Secrecy {
            trustees: authorities,
            threshold,
            keys_close_ms: KEYS_CLOSE,
            split,
        }),
        quotas: None,
    }
}

impl SecretWorld {
    /// `n_towns` trustee towns (town 0 organises), residents, a secret consultation with
    /// threshold `t`, `n_proposals` proposals; no deal yet.
    pub fn new(
        n_towns: u8,
        n_residents: u8,
        method: Method,
        n_proposals: usize,
        t: u64,
        split: bool,
    ) -> SecretWorld {
        let mut ledger = Ledger::new();
        let mut towns = Vec::new();
        for i in 0..n_towns {
            let key = key(100 + i);
            let pk = key.public_key();
            let trustee = build::trustee_key(&pk, &trustee_seed(i));
            ledger
                .append(
                    &pk,
                    trustee_authority(&key, &trustee, &format!("Town {i}")),
                    Clock::Replay,
                )
                .expect("authority");
            let mut residents = Vec::new();
            for r in 0..n_residents {
                let resident = key_of(i, r);
                let cred = Body::Credential(CredentialBody {
                    subject: resident.public_key(),
                    replaces: None,
                });
                ledger
                    .append(&pk, sign(&key, T0 - DAY, cred), Clock::Replay)
                    .expect("credential");
                residents.push(resident);
            }
            towns.push(SecretTown {
                key,
                trustee,
                residents,
            });
        }
        let pks: Vec<PublicKey> = towns.iter().map(SecretTown::pk).collect();
        let c = sign(
            &towns[0].key,
            T0 - DAY,
            Body::Consultation(Box::new(secret_consultation_body(
                &pks,
                method.clone(),
                t,
                split,
            ))),
        );
        let consultation = c.id();
        ledger
            .append(&towns[0].pk(), c, Clock::Replay)
            .expect("secret consultation");
        let mut w = SecretWorld {
            ledger,
            towns,
            consultation,
            proposals: Vec::new(),
            deals: Vec::new(),
            election_key: None,
            layout: None,
        };
        for i in 0..n_proposals {
            let cost = matches!(method, Method::Budget { .. }).then_some(100 * (i as u64 + 1));
            let body = Body::Proposal(ProposalBody {
                consultation,
                title: format!("Proposition {i}"),
                body: "Des bancs.".into(),
                cost,
            });
            let e = sign(
                &w.towns[0].residents[i % n_residents.max(1) as usize],
                PROPOSALS_OPEN + DAY,
                body,
            );
            w.proposals.push(e.id());
            let log = w.towns[0].pk();
            w.ledger.append(&log, e, Clock::Replay).expect("proposal");
        }
        w.proposals.sort();
        w
    }

    /// Everything up to the vote: each town deals, then the election key and layout.
    pub fn ready(
        n_towns: u8,
        n_residents: u8,
        method: Method,
        n_proposals: usize,
        t: u64,
        split: bool,
    ) -> SecretWorld {
        let mut w = SecretWorld::new(n_towns, n_residents, method, n_proposals, t, split);
        for i in 0..n_towns as usize {
            let deal = w.deal_event(i, &[9 + i as u8; 32]);
            w.append(i, deal).expect("deal");
        }
        let ek = w.election_key_event(SETUP_AT).expect("election key");
        w.append(0, ek).expect("election key admitted");
        let layout = w.layout_event(SETUP_AT);
        w.append(0, layout).expect("layout admitted");
        w
    }

    pub fn view(&self) -> ConsultationView {
        self.ledger
            .consultation(&self.consultation)
            .expect("the consultation is recorded")
    }

    pub fn append(&mut self, town: usize, e: SignedEvent) -> Result<u64, Rejection> {
        let id = e.id();
        let kind = e.kind();
        let log = self.towns[town].pk();
        let at = self.ledger.append(&log, e, Clock::Replay)?;
        match kind {
            Kind::DkgDeal => self.deals.push(id),
            Kind::ElectionKey => self.election_key = Some(id),
            Kind::BallotLayout => self.layout = Some(id),
            _ => {}
        }
        Ok(at)
    }

    pub fn encryption_keys(&self) -> Vec<palabre_core::group::RistrettoPoint> {
        build::encryption_keys(&self.view(), |k| self.ledger.encryption_key(k))
            .expect("every trustee declared a key")
    }

    pub fn deal_body(&self, town: usize, seed: &[u8; 32]) -> palabre_core::secret::DkgDealBody {
        build::deal(
            &self.view(),
            &self.towns[town].pk(),
            &self.encryption_keys(),
            seed,
        )
        .expect("deal")
        .0
    }

    pub fn deal_event(&self, town: usize, seed: &[u8; 32]) -> SignedEvent {
        sign(
            &self.towns[town].key,
            DEAL_AT,
            Body::DkgDeal(self.deal_body(town, seed)),
        )
    }

    pub fn events(&self, kind: Kind) -> Vec<SignedEvent> {
        self.ledger
            .secret_events(&self.consultation, kind)
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }

    pub fn election_key_event(&self, at: u64) -> Result<SignedEvent, Rejection> {
        let body = build::election_key(
            &self.view(),
            &self.events(Kind::DkgDeal),
            &self.events(Kind::DkgComplaint),
            |k| self.ledger.encryption_key(k),
        )?;
        Ok(sign(&self.towns[0].key, at, Body::ElectionKey(body)))
    }

    pub fn layout_event(&self, at: u64) -> SignedEvent {
        let body = build::layout(&self.view(), &self.proposals).expect("layout");
        sign(&self.towns[0].key, at, Body::BallotLayout(body))
    }

    pub fn election_key_body(&self) -> palabre_core::secret::ElectionKeyBody {
        match self
            .ledger
            .event(&self.election_key.expect("an election key"))
            .map(SignedEvent::body)
        {
            Some(Body::ElectionKey(b)) => b.clone(),
            _ => panic!("not an election key"),
        }
    }

    pub fn layout_body(&self) -> palabre_core::secret::BallotLayoutBody {
        match self
            .ledger
            .event(&self.layout.expect("a layout"))
            .map(SignedEvent::body)
        {
            Some(Body::BallotLayout(b)) => b.clone(),
            _ => panic!("not a layout"),
        }
    }

    /// The `sealed` body of `choice` by resident `resident` of `town`.
    pub fn sealed_body(
        &self,
        town: usize,
        resident: usize,
        choice: &Choice,
        seed: &[u8; 32],
    ) -> SealedBallotBody {
        let author = self.towns[town].residents[resident].public_key();
        let sealed = build::seal(
            &self.view(),
            &self.election_key_body(),
            &self.layout.expect("a layout"),
            &self.layout_body(),
            &author,
            choice,
            seed,
        )
        .expect("seals");
        SealedBallotBody {
            consultation: self.consultation,
            sealed: sealed.sealed,
            assistance: None,
        }
    }

    pub fn sealed_ballot(
        &self,
        town: usize,
        resident: usize,
        at: u64,
        choice: &Choice,
        seed: &[u8; 32],
    ) -> SignedEvent {
        sign(
            &self.towns[town].residents[resident],
            at,
            Body::SealedBallot(self.sealed_body(town, resident, choice, seed)),
        )
    }

    /// The town whose key is trustee `j` (1-based).
    pub fn town_of_trustee(&self, j: u64) -> usize {
        let c = self.view();
        let key = c
            .body
            .secrecy
            .as_ref()
            .and_then(|s| s.trustee(j))
            .copied()
            .expect("a trustee");
        self.towns
            .iter()
            .position(|t| t.pk() == key)
            .expect("a town")
    }
}
