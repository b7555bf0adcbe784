//! A deterministic secret consultation: towns that declare trustee encryption
//! keys, a consultation with `secrecy`, the trustees' deals, the organiser's election key
//! and layout, and sealed ballots — every body made by core's `secret::build`, as the
//! node makes them.

use crate::admission::Clock;
use crate::crypto::{PublicKey, SecretKey};
use crate::event::secret::{SealedBallotBody, Secrecy};
use crate::event::*;
use crate::ids::EventId;
use crate::ledger::Ledger;
use crate::record::Record;
use crate::rejection::Rejection;
use crate::secret::build::{self, TrusteeKey};
use crate::tally::{Choice, Method};
use crate::testkit::world::{
    DAY, PROPOSALS_OPEN, T0, VOTE_CLOSE, VOTE_OPEN, credential_residents, key, sign,
};
use crate::view::ConsultationView;

/// When the secret consultation closes to proposals.
pub const S_PROPOSALS_CLOSE: u64 = T0 + 5 * DAY;
/// When it closes to trustee deals (`keys_close_ms`).
pub const KEYS_CLOSE: u64 = T0 + 6 * DAY;
/// One hour in milliseconds.
pub const HOUR: u64 = 3_600_000;
/// When the organiser publishes the election key and the layout.
pub const SETUP_AT: u64 = KEYS_CLOSE + HOUR + 1;
/// When each trustee deals.
pub const DEAL_AT: u64 = KEYS_CLOSE - DAY;

/// A trustee town: its key, its trustee encryption key and the residents it credentialed.
#[derive(Debug)]
pub struct SecretTown {
    /// The town's authority key.
    pub key: SecretKey,
    /// Its trustee encryption key, from [`trustee_seed`].
    pub trustee: TrusteeKey,
    /// Its residents' keys, resident `r` being `key_of(town, r)`.
    pub residents: Vec<SecretKey>,
}

impl SecretTown {
    /// The town's public key (its log).
    pub fn pk(&self) -> PublicKey {
        self.key.public_key()
    }
}

/// Several trustee towns' logs in one ledger, with a secret consultation across them.
#[derive(Debug)]
pub struct SecretWorld {
    /// Every town's log.
    pub ledger: Ledger,
    /// The towns, town 0 the organiser.
    pub towns: Vec<SecretTown>,
    /// The secret consultation's id.
    pub consultation: EventId,
    /// The proposals made by [`SecretWorld::new`], sorted by id.
    pub proposals: Vec<EventId>,
    /// The deals appended through [`SecretWorld::append`], in order.
    pub deals: Vec<EventId>,
    /// The election key appended through [`SecretWorld::append`], if any.
    pub election_key: Option<EventId>,
    /// The layout appended through [`SecretWorld::append`], if any.
    pub layout: Option<EventId>,
}

/// Town `t`'s trustee seed.
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

/// A secret consultation across `authorities` (sorted here, all trustees) with `method`,
/// threshold `threshold` and `split`, on the secret world's schedule.
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
        n_residents: u32,
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
            let residents = credential_residents(&mut ledger, &key, i, 0..n_residents);
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
        n_residents: u32,
        method: Method,
        n_proposals: usize,
        t: u64,
        split: bool,
    ) -> SecretWorld {
        let mut w = SecretWorld::new(n_towns, n_residents, method, n_proposals, t, split);
        w.set_up();
        w
    }

    /// What [`SecretWorld::ready`] does after [`SecretWorld::new`]: each town deals (seed
    /// `[9 + town; 32]`), then the organiser appends the election key and the layout.
    pub fn set_up(&mut self) {
        for i in 0..self.towns.len() {
            let deal = self.deal_event(i, &[9 + i as u8; 32]);
            self.append(i, deal).expect("deal");
        }
        let ek = self.election_key_event(SETUP_AT).expect("election key");
        self.append(0, ek).expect("election key admitted");
        let layout = self.layout_event(SETUP_AT);
        self.append(0, layout).expect("layout admitted");
    }

    /// Credentials residents of `town` until it has `n` (none if it has as many): their
    /// credentials are appended to its log now, wherever the log stands.
    pub fn enrol(&mut self, town: usize, n: u32) {
        let have = u32::try_from(self.towns[town].residents.len()).expect("residents fit a u32");
        if n <= have {
            return;
        }
        let t = u8::try_from(town).expect("towns are numbered by a byte");
        let more = credential_residents(&mut self.ledger, &self.towns[town].key, t, have..n);
        self.towns[town].residents.extend(more);
    }

    /// The consultation as recorded.
    pub fn view(&self) -> ConsultationView {
        self.ledger
            .consultation(&self.consultation)
            .expect("the consultation is recorded")
    }

    /// Appends `e` to `town`'s log (through admission) and notes a deal, election key or
    /// layout; returns its index.
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

    /// The trustees' declared encryption keys, in trustee order.
    pub fn encryption_keys(&self) -> Vec<crate::group::RistrettoPoint> {
        build::encryption_keys(&self.view(), |k| self.ledger.encryption_key(k))
            .expect("every trustee declared a key")
    }

    /// `town`'s deal body, made by `secret::build::deal` from `seed`.
    pub fn deal_body(&self, town: usize, seed: &[u8; 32]) -> crate::event::secret::DkgDealBody {
        build::deal(
            &self.view(),
            &self.towns[town].pk(),
            &self.encryption_keys(),
            seed,
        )
        .expect("deal")
        .0
    }

    /// `town`'s deal, signed at [`DEAL_AT`], not appended.
    pub fn deal_event(&self, town: usize, seed: &[u8; 32]) -> SignedEvent {
        sign(
            &self.towns[town].key,
            DEAL_AT,
            Body::DkgDeal(self.deal_body(town, seed)),
        )
    }

    /// The recorded secret-ballot events of `kind` about the consultation.
    pub fn events(&self, kind: Kind) -> Vec<SignedEvent> {
        self.ledger
            .secret_events(&self.consultation, kind)
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }

    /// The organiser's election key over the recorded deals and complaints, signed at
    /// `at`, not appended.
    pub fn election_key_event(&self, at: u64) -> Result<SignedEvent, Rejection> {
        let body = build::election_key(
            &self.view(),
            &self.events(Kind::DkgDeal),
            &self.events(Kind::DkgComplaint),
            |k| self.ledger.encryption_key(k),
        )?;
        Ok(sign(&self.towns[0].key, at, Body::ElectionKey(body)))
    }

    /// The organiser's layout of the proposals, signed at `at`, not appended.
    pub fn layout_event(&self, at: u64) -> SignedEvent {
        let body = build::layout(&self.view(), &self.proposals).expect("layout");
        sign(&self.towns[0].key, at, Body::BallotLayout(body))
    }

    /// The recorded election key's body (panics without one).
    pub fn election_key_body(&self) -> crate::event::secret::ElectionKeyBody {
        match self
            .ledger
            .event(&self.election_key.expect("an election key"))
            .map(SignedEvent::body)
        {
            Some(Body::ElectionKey(b)) => b.clone(),
            _ => panic!("not an election key"),
        }
    }

    /// The recorded layout's body (panics without one).
    pub fn layout_body(&self) -> crate::event::secret::BallotLayoutBody {
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

    /// Resident `resident` of `town`'s sealed ballot of `choice` at `at`, signed, not
    /// appended.
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
