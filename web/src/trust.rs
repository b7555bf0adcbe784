//! What a consultation's voters can rely on, stated by the consultation's API answer and
//! its page: public or secret ballots, the trustees and threshold, when results can first
//! be computed, what the town can know, where eligibility comes from, how the result is
//! ranked — and, for a secret consultation, where its key ceremony stands (who dealt,
//! complaints, QUAL, the election key, the layout).
//!
//! Everything here is read from the signed consultation and from core: QUAL is core's
//! (`secret::admit::qualification`), and whether an election key can still exist is
//! core's `secret::build::election_key_of`. This file only names the facts; it decides
//! nothing that admission or the audit decides.

use palabre_core::crypto::PublicKey;
use palabre_core::event::{Body, Kind};
use palabre_core::group;
use palabre_core::ids::EventId;
use palabre_core::record::Record;
use palabre_core::secret::admit::qualification;
use palabre_core::secret::build;
use palabre_core::tally::{BudgetRule, Method};
use palabre_core::view::ConsultationView;
use serde::Serialize;
use serde_json::{Value, json};

/// Where a secret consultation's key ceremony stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Setup {
    /// Before `keys_close_ms`: the trustees deal.
    Dealing,
    /// The complaint hour after `keys_close_ms`.
    Checking,
    /// After it: the organiser's node publishes the election key.
    AwaitingKey,
    /// The election key is recorded: the consultation takes sealed ballots.
    Ready,
    /// Fewer than t trustees qualified (or the vote opened without a key): no election
    /// key can exist, the consultation takes no ballot and is never made public.
    Failed,
}

impl Setup {
    pub fn as_str(self) -> &'static str {
        match self {
            Setup::Dealing => "dealing",
            Setup::Checking => "checking",
            Setup::AwaitingKey => "awaiting_key",
            Setup::Ready => "ready",
            Setup::Failed => "failed",
        }
    }
}

/// A complaint, as judged by core.
#[derive(Debug, Clone, Serialize)]
pub struct ComplaintNote {
    pub id: EventId,
    pub by: PublicKey,
    /// `convicted` (the dealer leaves QUAL) or `void` (the share was right after all).
    pub verdict: &'static str,
}

/// A secret consultation's key ceremony as this record holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Ceremony {
    pub setup: Setup,
    /// The trustees whose deal is valid, in trustee order.
    pub dealt: Vec<PublicKey>,
    /// Deals refused by the rules (never in QUAL).
    pub bad_deals: usize,
    pub complaints: Vec<ComplaintNote>,
    /// QUAL as core recomputes it now (final once the complaint hour is over).
    pub qual: Vec<PublicKey>,
    /// The recorded `election_key` event and `Y`.
    pub election_key: Option<(EventId, String)>,
    /// The recorded `ballot_layout` event and its proposal ids.
    pub layout: Option<(EventId, Vec<EventId>)>,
}

/// The ceremony of `c` from a record (`None` for a public consultation).
pub fn ceremony_of(record: &impl Record, c: &ConsultationView, now_ms: u64) -> Option<Ceremony> {
    let secrecy = c.body.secrecy.as_ref()?;
    let q = qualification(record, c);
    let dealt = q
        .deals
        .keys()
        .filter_map(|i| secrecy.trustee(*i).copied())
        .collect();
    let mut complaints = Vec::new();
    for (_, e) in record.secret_events(&c.id, Kind::DkgComplaint) {
        let verdict = if q.convicted.values().any(|id| *id == e.id()) {
            "convicted"
        } else if q.void_complaints.contains(&e.id()) {
            "void"
        } else {
            continue;
        };
        complaints.push(ComplaintNote {
            id: e.id(),
            by: *e.author(),
            verdict,
        });
    }
    let election_key = record
        .election_key(&c.id)
        .map(|(id, y)| (id, group::point_hex(&y)));
    let layout = record
        .secret_events(&c.id, Kind::BallotLayout)
        .into_iter()
        .find_map(|(_, e)| match e.body() {
            Body::BallotLayout(b) => Some((e.id(), b.columns.clone())),
            _ => None,
        });
    let setup = if election_key.is_some() {
        Setup::Ready
    } else if now_ms < secrecy.keys_close_ms {
        Setup::Dealing
    } else if now_ms < secrecy.complaints_close_ms() {
        Setup::Checking
    } else if now_ms >= c.body.vote_open_ms || build::election_key_of(c, &q).is_err() {
        Setup::Failed
    } else {
        Setup::AwaitingKey
    };
    Some(Ceremony {
        setup,
        dealt,
        bad_deals: q.bad_deals.len(),
        complaints,
        qual: q.qual_keys(secrecy),
        election_key,
        layout,
    })
}

/// The ranking rule of a method, as a stable code.
pub fn ranking(method: &Method) -> &'static str {
    match method {
        Method::Support { .. } => "supports_at_least_threshold",
        Method::YesNoAbstain {} => "adopted_when_yes_exceeds_no",
        Method::Approval { .. } => "most_approvals",
        Method::Budget {
            rule: BudgetRule::Greedy,
            ..
        } => "budget_greedy_by_approvals",
        Method::Budget {
            rule: BudgetRule::EqualShares,
            ..
        } => "budget_method_of_equal_shares",
        Method::MajorityJudgment { .. } => "majority_judgment_median_grade",
    }
}

/// The trust level of `c`, as the consultation's API answer states it.
pub fn level(c: &ConsultationView, ceremony: Option<&Ceremony>) -> Value {
    let b = &c.body;
    let common = json!({
        "eligibility": "town_credentials",
        "eligibility_detail": "one credential per resident, issued by each participating town (invitation letter or desk) and public in its log; the latest ballot of each credential counts",
        "ranking": ranking(&b.method),
    });
    let mut out = match (&b.secrecy, ceremony) {
        (Some(s), Some(cer)) => json!({
            "ballots": "secret",
            "trustees": s.trustees,
            "threshold": s.threshold,
            "keys_close_ms": s.keys_close_ms,
            "split": s.split,
            "setup": cer.setup.as_str(),
            "qual": cer.qual,
            "election_key": cer.election_key.as_ref().map(|(_, y)| y),
            "results_from_ms": b.vote_close_ms,
            "results_shown_from_ms": b.vote_close_ms,
            "results_need": "threshold_trustees_after_close",
            "town_can_know": ["that_you_voted"],
            "town_cannot_know": ["how_you_voted"],
        }),
        // Public ballots are readable in the log from the first one: anyone can count
        // them as soon as the vote opens, whatever the pages show.
        _ => json!({
            "ballots": "public",
            "results_from_ms": b.vote_open_ms,
            "results_shown_from_ms": if b.show_running_results { b.vote_open_ms } else { b.vote_close_ms },
            "results_need": "nothing",
            "town_can_know": ["that_you_voted", "how_you_voted"],
            "town_cannot_know": [],
        }),
    };
    if let (Some(o), Some(extra)) = (out.as_object_mut(), common.as_object()) {
        o.extend(extra.clone());
    }
    out
}

/// The same trust level in plain words for the consultation's public page.
pub fn plain(fr: bool, c: &ConsultationView, ceremony: Option<&Ceremony>) -> String {
    let tr = |f: &str, e: &str| if fr { f.to_owned() } else { e.to_owned() };
    match (&c.body.secrecy, ceremony) {
        (Some(s), Some(cer)) => {
            let mut out = if fr {
                format!(
                    "Vote secret. La commune sait que vous avez voté, jamais pour quoi. Votre bulletin est chiffré dans votre navigateur ; il faut {} des {} communes de confiance, ensemble et après la clôture, pour ouvrir les bulletins, mélangés d'abord pour que nul ne les relie aux votants. Aucun résultat ne peut être calculé avant la clôture.",
                    s.threshold,
                    s.trustees.len()
                )
            } else {
                format!(
                    "Secret ballot. The town knows that you voted, never how. Your ballot is encrypted in your browser; it takes {} of the {} trustee towns, together and after the close, to open the ballots, shuffled first so that nobody links them to voters. No result can be computed before the close.",
                    s.threshold,
                    s.trustees.len()
                )
            };
            out.push(' ');
            out.push_str(&match cer.setup {
                Setup::Ready => tr(
                    "La clé de l'élection est prête.",
                    "The election key is ready.",
                ),
                Setup::Failed => tr(
                    "La préparation a échoué (trop peu de communes de confiance) : cette consultation ne recevra aucun bulletin.",
                    "Setup failed (too few trustee towns): this consultation will take no ballot.",
                ),
                _ => tr(
                    "Les communes de confiance préparent la clé de l'élection.",
                    "The trustee towns are making the election key.",
                ),
            });
            out
        }
        _ => {
            let mut out = tr(
                "Vote public : chaque bulletin se lit dans le registre, lié à la clé de son auteur ; la mairie qui a remis les codes peut savoir qui a voté et pour quoi.",
                "Public ballot: every ballot can be read in the log, tied to its author's key; the town hall that handed out the codes can know who voted and how.",
            );
            if !c.body.show_running_results {
                out.push(' ');
                out.push_str(&tr(
                    "Les résultats ne s'affichent qu'à la clôture, mais les bulletins étant publics, chacun peut les compter dans le registre pendant le vote.",
                    "Results are shown only at the close, but since the ballots are public, anyone can count them from the log during the vote.",
                ));
            }
            out
        }
    }
}
