//! The rules of secret ballots that more than one reader applies: the consultation's
//! `secrecy` member, QUAL and the election key recomputed from the deals and complaints,
//! the canonical layout, and the shape of a sealed ballot (SECRET-BALLOTS.md §4.3–§4.6).
//!
//! `admission` calls these on each event, `build` uses them to make the bodies the node
//! appends, and the audit replays them over a whole record: one rule, written once. What
//! the record holds (which deals, which keys) is passed in by the callers.

use std::collections::{BTreeMap, BTreeSet};

use curve25519_dalek::ristretto::RistrettoPoint;

use crate::crypto::PublicKey;
use crate::dkg::{self, Dealing, Judgement};
use crate::event::secret::{BallotLayoutBody, Sealed, Secrecy, cid};
use crate::event::{Body, ConsultationBody, SignedEvent};
use crate::ids::EventId;
use crate::rejection::Rejection;
use crate::sealed;
use crate::tally::{ChoiceError, Method};
use crate::view::ConsultationView;

/// The stateless rules of a consultation's `secrecy` (design §4.3): the trustees' shape
/// and threshold (`bad_trustees`), the key window (`bad_windows`), no running results and
/// a mode that fits the method (`invalid_method`). Whether each trustee declared an
/// encryption key is admission's question (it needs the record).
pub fn check_secrecy(b: &ConsultationBody) -> Result<(), Rejection> {
    let Some(s) = &b.secrecy else {
        return Ok(());
    };
    if !s.trustees.windows(2).all(|w| w[0] < w[1]) {
        return Err(Rejection::BadTrustees);
    }
    s.params()?;
    let keys_ok = b.proposals_close_ms <= s.keys_close_ms
        && s.complaints_close_ms() <= b.vote_open_ms
        && s.keys_close_ms
            .checked_add(crate::event::secret::COMPLAINT_WINDOW_MS)
            .is_some();
    if !keys_ok {
        return Err(Rejection::BadWindows);
    }
    if b.show_running_results {
        return Err(Rejection::InvalidMethod(ChoiceError::RunningResultsSecret));
    }
    let splittable = matches!(
        b.method,
        Method::Support { .. } | Method::YesNoAbstain {} | Method::MajorityJudgment { .. }
    );
    let rowable = matches!(
        b.method,
        Method::Support { .. } | Method::Approval { .. } | Method::Budget { .. }
    );
    if s.split && !splittable {
        return Err(Rejection::InvalidMethod(ChoiceError::SplitNotAllowed));
    }
    if !s.split && !rowable {
        return Err(Rejection::InvalidMethod(ChoiceError::SplitRequired));
    }
    Ok(())
}

/// The secrecy of a consultation, or `not_sealed` for a public one.
pub fn secrecy_of(c: &ConsultationView) -> Result<&Secrecy, Rejection> {
    c.body.secrecy.as_ref().ok_or(Rejection::NotSealed)
}

/// Deals, complaints and QUAL as every reader recomputes them from the trustees' logs
/// (design §4.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Qualification {
    /// The valid deals, by dealer index: the first deal of each trustee in its own log,
    /// dated before `keys_close_ms`, with t commitments, a valid proof and one share for
    /// each other trustee.
    pub deals: BTreeMap<u64, (EventId, Dealing)>,
    /// Deals refused by those rules (the audit reports them as `bad_deal`).
    pub bad_deals: Vec<EventId>,
    /// Dealers convicted by a valid complaint, with the first such complaint.
    pub convicted: BTreeMap<u64, EventId>,
    /// Complaints whose revealed share verifies: void (`void_complaint`), not a failure.
    pub void_complaints: Vec<EventId>,
    /// Complaints that prove nothing (bad proof, a deal that is not valid, out of the
    /// window, not by a trustee named in the deal): admission refuses them.
    pub bad_complaints: Vec<EventId>,
    /// QUAL: valid dealers minus the convicted, ascending.
    pub qual: Vec<u64>,
}

impl Qualification {
    /// `Y = Σ_{i∈QUAL} A_i0`.
    pub fn election_key(&self) -> RistrettoPoint {
        dkg::election_key(self.qual_deals())
    }

    /// QUAL's deals, ascending by dealer.
    pub fn qual_deals(&self) -> impl Iterator<Item = &Dealing> {
        self.qual
            .iter()
            .filter_map(|i| self.deals.get(i).map(|(_, d)| d))
    }

    /// QUAL as trustee keys.
    pub fn qual_keys(&self, secrecy: &Secrecy) -> Vec<PublicKey> {
        self.qual
            .iter()
            .filter_map(|i| secrecy.trustee(*i).copied())
            .collect()
    }

    /// Trustee j's verification key `Y_j` over QUAL.
    pub fn verification_key(&self, j: u64) -> RistrettoPoint {
        dkg::verification_key(self.qual_deals(), j)
    }
}

/// Judges one deal on its own: by a trustee of `c`, about `c`, dated before
/// `keys_close_ms`, and well formed (`bad_deal` / `outside_window`). Returns the dealer
/// index and the dealing.
pub fn check_deal(c: &ConsultationView, event: &SignedEvent) -> Result<(u64, Dealing), Rejection> {
    let secrecy = secrecy_of(c)?;
    let Body::DkgDeal(b) = event.body() else {
        return Err(Rejection::BadDeal);
    };
    if b.consultation != c.id {
        return Err(Rejection::BadDeal);
    }
    if event.created_at_ms() >= secrecy.keys_close_ms {
        return Err(Rejection::OutsideWindow {
            opens_at_ms: c.body.proposals_open_ms.min(secrecy.keys_close_ms),
            closes_at_ms: secrecy.keys_close_ms,
        });
    }
    let params = secrecy.params()?;
    let dealing = b.dealing(secrecy, event.author())?;
    dkg::check_dealing(&cid(&c.id), params, &dealing).map_err(|_| Rejection::BadDeal)?;
    Ok((dealing.dealer, dealing))
}

/// Judges one complaint against the deal `deal` (already checked by [`check_deal`]):
/// by a trustee other than the dealer, dated before `keys_close_ms + 1 h`, with a valid
/// proof (`bad_complaint` / `outside_window`). `encryption_key` is the complainer's.
pub fn judge_complaint(
    c: &ConsultationView,
    deal_id: &EventId,
    deal: &Dealing,
    event: &SignedEvent,
    encryption_key: &RistrettoPoint,
) -> Result<Judgement, Rejection> {
    let secrecy = secrecy_of(c)?;
    let Body::DkgComplaint(b) = event.body() else {
        return Err(Rejection::BadComplaint);
    };
    if b.consultation != c.id || b.deal != *deal_id {
        return Err(Rejection::BadComplaint);
    }
    if event.created_at_ms() >= secrecy.complaints_close_ms() {
        return Err(Rejection::OutsideWindow {
            opens_at_ms: c.body.proposals_open_ms.min(secrecy.keys_close_ms),
            closes_at_ms: secrecy.complaints_close_ms(),
        });
    }
    let j = secrecy
        .index_of(event.author())
        .ok_or(Rejection::BadComplaint)?;
    if j == deal.dealer {
        return Err(Rejection::BadComplaint);
    }
    dkg::judge_complaint(
        &cid(&c.id),
        deal_id.0.as_bytes(),
        deal,
        &b.complaint(j),
        encryption_key,
    )
    .map_err(|_| Rejection::BadComplaint)
}

/// Recomputes QUAL from the deals and complaints the trustees' logs hold about `c`.
///
/// `deals` and `complaints` are the recorded events of those kinds (in any order: of two
/// deals by one trustee, the one that comes first in this order counts, and admission
/// never lets a log hold two); `encryption_key` gives each trustee's declared key.
pub fn qualify(
    c: &ConsultationView,
    deals: &[SignedEvent],
    complaints: &[SignedEvent],
    encryption_key: impl Fn(&PublicKey) -> Option<RistrettoPoint>,
) -> Qualification {
    let mut q = Qualification::default();
    for event in deals {
        match check_deal(c, event) {
            Ok((i, dealing)) if !q.deals.contains_key(&i) => {
                q.deals.insert(i, (event.id(), dealing));
            }
            _ => q.bad_deals.push(event.id()),
        }
    }
    let by_id: BTreeMap<EventId, &Dealing> = q.deals.values().map(|(id, d)| (*id, d)).collect();
    for event in complaints {
        let Body::DkgComplaint(b) = event.body() else {
            q.bad_complaints.push(event.id());
            continue;
        };
        let judged = match (by_id.get(&b.deal), encryption_key(event.author())) {
            (Some(deal), Some(e)) => judge_complaint(c, &b.deal, deal, event, &e),
            _ => Err(Rejection::BadComplaint),
        };
        match judged {
            Ok(Judgement::Convicted) => {
                if let Some(deal) = by_id.get(&b.deal) {
                    q.convicted.entry(deal.dealer).or_insert(event.id());
                }
            }
            Ok(Judgement::Void) => q.void_complaints.push(event.id()),
            Err(_) => q.bad_complaints.push(event.id()),
        }
    }
    let valid: BTreeSet<u64> = q.deals.keys().copied().collect();
    let convicted: BTreeSet<u64> = q.convicted.keys().copied().collect();
    q.qual = dkg::qual(&valid, &convicted);
    q
}

/// The canonical layout of `c` over `proposals` (deduplicated and sorted here): one
/// group per column in split mode, one group of all columns otherwise; `over_limit` past
/// 200 (split) or 500 proposals.
pub fn canonical_layout(
    c: &ConsultationView,
    proposals: &[EventId],
) -> Result<BallotLayoutBody, Rejection> {
    let secrecy = secrecy_of(c)?;
    let columns: Vec<EventId> = proposals
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if columns.len() > secrecy.max_proposals() {
        return Err(Rejection::OverLimit {
            field: "columns",
            max: secrecy.max_proposals(),
        });
    }
    let n = columns.len() as u64;
    let groups = if secrecy.split {
        (0..n).map(|i| vec![i]).collect()
    } else {
        vec![(0..n).collect()]
    };
    Ok(BallotLayoutBody {
        consultation: c.id,
        columns,
        groups,
    })
}

/// Whether a layout body has the canonical shape for its columns (ascending, distinct,
/// within the limit, groups as the mode requires). Which proposals it must list is
/// checked against the record by admission (each column) and the audit (completeness).
pub fn check_layout_shape(c: &ConsultationView, b: &BallotLayoutBody) -> Result<(), Rejection> {
    let canonical = canonical_layout(c, &b.columns)?;
    if canonical.columns != b.columns || canonical.groups != b.groups {
        return Err(Rejection::BadLayout);
    }
    Ok(())
}

/// The number of ciphertexts of each group of a sealed ballot under a layout of
/// `n_columns` columns: 1 per group in split mode, `⌈P/240⌉` (at least 1) in the single
/// group of row mode.
pub fn group_sizes(secrecy: &Secrecy, n_columns: usize) -> Vec<usize> {
    if secrecy.split {
        vec![1; n_columns]
    } else {
        vec![sealed::row_elements(n_columns)]
    }
}

/// Whether a sealed ballot's groups have the layout's shape (`invalid_choice`).
pub fn check_sealed_shape(
    secrecy: &Secrecy,
    n_columns: usize,
    sealed: &Sealed,
) -> Result<(), Rejection> {
    let sizes: Vec<usize> = sealed.groups.iter().map(Vec::len).collect();
    if sizes != group_sizes(secrecy, n_columns)
        || sealed.pok.s.len() != sealed.len()
        || sealed.is_empty()
    {
        return Err(Rejection::InvalidChoice(ChoiceError::SealedShape));
    }
    Ok(())
}
