//! `--demo`: a readable, living example — one consultation per ballot method, with
//! proposals and arguments from a few demo residents, a finished one, and a secret
//! (sealed-ballot) referendum whose key ceremony is already done — so that a newcomer
//! sees the site at work at once. Everything goes through the same admission as real
//! input; the ceremony's bodies are core's (`secret::build`), as the node's own are.

use palabre_core::admission::Clock;
use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::event::*;
use palabre_core::record::Record;
use palabre_core::tally::{Answer, BudgetRule, Choice, Method};
use palabre_store::{CommitItem, SledStorage, Storage};

use crate::clock::now_ms;
use crate::trustee::{Shares, TrusteeKey, fresh_seed};

/// A demo proposal: title, text, cost (budgets only).
type DemoProposal = (&'static str, &'static str, Option<u64>);

const HOUR: u64 = 60 * 60 * 1000;
const DAY: u64 = 24 * HOUR;

fn random_key() -> anyhow::Result<SecretKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(SecretKey::from_seed(&seed))
}

fn signed(key: &SecretKey, at: u64, body: Body) -> anyhow::Result<SignedEvent> {
    Event {
        author: key.public_key(),
        created_at_ms: at,
        body,
    }
    .sign(key)
    .map_err(|r| anyhow::anyhow!("demo event refused: {r}"))
}

/// The node's own trustee key and shares' file, for the secret example: its deal for
/// this town is made with them, so the node's ceremony task keeps its share.
pub struct SecretExample<'a> {
    /// The node's trustee key.
    pub trustee: &'a TrusteeKey,
    /// The node's shares' file.
    pub shares: &'a Shares,
}

impl std::fmt::Debug for SecretExample<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The trustee key is secret: never printed.
        f.write_str("SecretExample { .. }")
    }
}

/// Seeds the demo into `town`'s log unless it already holds consultations, with the
/// secret example when `secret` is given. A federated node gets none: its example's
/// second trustee is a fictional town no neighbour follows, so a neighbour replicating
/// this log would wait at that consultation for a declaration it never receives.
pub fn seed(
    storage: &SledStorage,
    town: &SecretKey,
    secret: Option<SecretExample<'_>>,
) -> anyhow::Result<bool> {
    if !storage.consultations()?.is_empty() {
        return Ok(false);
    }
    let me: PublicKey = town.public_key();
    let now = now_ms();
    let residents: Vec<SecretKey> = (0..3).map(|_| random_key()).collect::<Result<_, _>>()?;
    let mut events = Vec::new();
    for r in &residents {
        let body = Body::Credential(CredentialBody {
            subject: r.public_key(),
            replaces: None,
        });
        events.push(signed(town, now, body)?);
    }
    let consultation = |title: &str, description: &str, method: Method| {
        Body::Consultation(Box::new(ConsultationBody {
            title: title.into(),
            description: description.into(),
            authorities: vec![me],
            proposals_open_ms: now - DAY,
            proposals_close_ms: now + 14 * DAY,
            vote_open_ms: now - HOUR,
            vote_close_ms: now + 14 * DAY,
            method,
            show_running_results: true,
            secrecy: None,
            quotas: None,
        }))
    };
    let plans: Vec<(Body, Vec<DemoProposal>)> = vec![
        (
            consultation(
                "Idées pour le centre-bourg",
                "Proposez ce qui rendrait le centre-bourg plus agréable. Une idée soutenue par au moins 3 habitants sera étudiée par le conseil municipal.",
                Method::Support { threshold: 3 },
            ),
            vec![
                (
                    "Des bancs à l'ombre place de l'Église",
                    "Trois bancs sous les tilleuls, pour se reposer en allant au marché.",
                    None,
                ),
                (
                    "Un composteur partagé",
                    "Près de la salle des fêtes, entretenu par des volontaires.",
                    None,
                ),
            ],
        ),
        (
            consultation(
                "Rue du Marché piétonne le samedi matin ?",
                "La rue du Marché serait fermée aux voitures le samedi de 8 h à 13 h.",
                Method::YesNoAbstain {},
            ),
            vec![(
                "Fermer la rue du Marché aux voitures le samedi matin",
                "De 8 h à 13 h, livraisons avant 8 h.",
                None,
            )],
        ),
        (
            consultation(
                "Le nom de la nouvelle médiathèque",
                "Choisissez jusqu'à deux noms parmi les propositions.",
                Method::Approval { max_choices: 2 },
            ),
            vec![
                ("Médiathèque Simone-Veil", "En hommage à Simone Veil.", None),
                (
                    "Médiathèque du Lavoir",
                    "Elle est bâtie à côté de l'ancien lavoir.",
                    None,
                ),
                ("Médiathèque des Quatre-Vents", "Le nom du quartier.", None),
            ],
        ),
        (
            consultation(
                "Budget participatif 2027",
                "50 000 € pour des projets proposés par les habitants. Approuvez tous les projets que vous soutenez ; le partage se fait selon la méthode des parts égales.",
                Method::Budget {
                    budget: 50_000,
                    rule: BudgetRule::EqualShares,
                },
            ),
            vec![
                (
                    "Aire de jeux rénovée",
                    "Nouveaux jeux et sol souple au square Jean-Moulin.",
                    Some(30_000),
                ),
                (
                    "Piste cyclable vers le collège",
                    "800 m de piste séparée de la route.",
                    Some(25_000),
                ),
                (
                    "Nichoirs et hôtel à insectes",
                    "Au verger communal, avec l'école.",
                    Some(2_000),
                ),
                ("Boîte à livres", "Devant la mairie.", Some(500)),
            ],
        ),
        (
            consultation(
                "Priorités du mandat",
                "Donnez une mention à chaque priorité : le jugement majoritaire classe les priorités selon leur mention médiane.",
                Method::MajorityJudgment {
                    grades: [
                        "À rejeter",
                        "Insuffisant",
                        "Passable",
                        "Assez bien",
                        "Bien",
                        "Très bien",
                    ]
                    .map(String::from)
                    .to_vec(),
                },
            ),
            vec![
                ("Rénover l'école", "Isolation et cour végétalisée.", None),
                (
                    "Plus de transports à la demande",
                    "Un minibus deux fois par semaine vers la ville.",
                    None,
                ),
                (
                    "Une maison de santé",
                    "Accueillir médecins et infirmiers.",
                    None,
                ),
            ],
        ),
    ];
    for (i, (body, proposals)) in plans.into_iter().enumerate() {
        let c = signed(town, now, body)?;
        let cid = c.id();
        events.push(c);
        for (j, (title, text, cost)) in proposals.into_iter().enumerate() {
            let author = &residents[(i + j) % residents.len()];
            let p = signed(
                author,
                now,
                Body::Proposal(ProposalBody {
                    consultation: cid,
                    title: title.into(),
                    body: text.into(),
                    cost,
                }),
            )?;
            if j == 0 {
                let pro = Body::Argument(ArgumentBody {
                    proposal: p.id(),
                    stance: Stance::Pro,
                    body: "Bonne idée, ça manque vraiment.".into(),
                });
                let con = Body::Argument(ArgumentBody {
                    proposal: p.id(),
                    stance: Stance::Con,
                    body: "Et qui va l'entretenir ?".into(),
                });
                events.push(p);
                events.push(signed(&residents[(i + 1) % residents.len()], now, pro)?);
                events.push(signed(&residents[(i + 2) % residents.len()], now, con)?);
            } else {
                events.push(p);
            }
        }
    }
    commit(storage, town, events, Clock::Live { now_ms: now })?;
    seed_closed(storage, town, now)?;
    if let Some(secret) = secret {
        seed_secret(storage, town, secret.trustee, secret.shares, now)?;
    }
    Ok(true)
}

fn commit(
    storage: &SledStorage,
    town: &SecretKey,
    events: Vec<SignedEvent>,
    clock: Clock,
) -> anyhow::Result<()> {
    let me = town.public_key();
    let items = events
        .into_iter()
        .map(|event| CommitItem {
            log: me,
            event,
            consume_invitation: None,
        })
        .collect();
    let out = storage.commit(items, clock, &|h| h.sign(town))?;
    if let Some(Err(e)) = out.results.iter().find(|r| r.is_err()) {
        anyhow::bail!("the demo was refused: {e}");
    }
    Ok(())
}

/// A finished example, so that results, charts and the audit have something to show:
/// a yes/no/abstain consultation whose vote closed ten days ago, with twelve demo
/// voters, its checkpoint and its signed result. Its events carry past dates, so they
/// are admitted as a replayed history (`Clock::Replay`), by the same rules.
fn seed_closed(storage: &SledStorage, town: &SecretKey, now: u64) -> anyhow::Result<()> {
    let me = town.public_key();
    let voters: Vec<SecretKey> = (0..12).map(|_| random_key()).collect::<Result<_, _>>()?;
    let mut events = Vec::new();
    for v in &voters {
        let body = Body::Credential(CredentialBody {
            subject: v.public_key(),
            replaces: None,
        });
        events.push(signed(town, now - 40 * DAY, body)?);
    }
    let c = signed(
        town,
        now - 40 * DAY,
        Body::Consultation(Box::new(ConsultationBody {
            title: "Exemple terminé : l'éclairage public la nuit".into(),
            description: "Une consultation d'exemple, close il y a dix jours : éteindre l'éclairage public de minuit à cinq heures ? Ses résultats, son registre et sa vérification sont publics.".into(),
            authorities: vec![me],
            proposals_open_ms: now - 30 * DAY,
            proposals_close_ms: now - 20 * DAY,
            vote_open_ms: now - 20 * DAY,
            vote_close_ms: now - 10 * DAY,
            method: Method::YesNoAbstain {},
            show_running_results: false,
            secrecy: None,
            quotas: None,
        })),
    )?;
    let cid = c.id();
    events.push(c);
    let mut proposals = Vec::new();
    for (k, (title, text)) in [
        (
            "Éteindre de minuit à 5 h",
            "Économies d'énergie et ciel étoilé.",
        ),
        (
            "Garder l'éclairage près de la gare",
            "Pour les premiers trains.",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let p = signed(
            &voters[k],
            now - 25 * DAY,
            Body::Proposal(ProposalBody {
                consultation: cid,
                title: title.into(),
                body: text.into(),
                cost: None,
            }),
        )?;
        proposals.push(p.id());
        events.push(p);
    }
    for (i, v) in voters.iter().enumerate() {
        let answer = |p: usize| match (i + 3 * p) % 5 {
            0..=2 => Answer::Yes,
            3 => Answer::No,
            _ => Answer::Abstain,
        };
        let choice = Choice::Answers(
            proposals
                .iter()
                .enumerate()
                .map(|(p, id)| (*id, answer(p)))
                .collect(),
        );
        let body = Body::Ballot(BallotBody {
            consultation: cid,
            choice,
            assistance: None,
        });
        events.push(signed(v, now - 15 * DAY + i as u64 * HOUR, body)?);
    }
    commit(storage, town, events, Clock::Replay)?;
    // Close it as a node does (closer.rs): checkpoint, then the organiser's result.
    let size = storage.log_size(&me);
    let root = storage
        .root_at(&me, size)
        .ok_or_else(|| anyhow::anyhow!("no root at size {size}"))?;
    let checkpoint = signed(
        town,
        now - 10 * DAY + HOUR,
        Body::Checkpoint(CheckpointBody {
            consultation: cid,
            size,
            root,
        }),
    )?;
    commit(storage, town, vec![checkpoint], Clock::Replay)?;
    let (view, counted) = storage
        .count(&cid)?
        .ok_or_else(|| anyhow::anyhow!("the example consultation is missing"))?;
    let result = signed(
        town,
        now - 10 * DAY + 2 * HOUR,
        Body::Result(Box::new(ResultBody {
            consultation: cid,
            checkpoints: palabre_core::counting::closed_logs(storage, &view)
                .ok_or_else(|| anyhow::anyhow!("the log has not closed"))?,
            tally: counted.tally(&view),
        })),
    )?;
    commit(storage, town, vec![result], Clock::Replay)
}

/// The secret example: a referendum with sealed ballots, open for votes now.
///
/// Secrecy needs at least two trustee towns (t ≥ 2: the organiser alone is never
/// enough, PROTOCOL.md), and a demo is one node. So the demo plays a second, fictional
/// town too — "Commune voisine (démo)", with its own log, authority key and trustee key
/// — and says so in the consultation's text: here one server holds both trustees'
/// secrets at seeding time. The neighbour's secrets are dropped once its deal is made,
/// so even this node keeps only its own share. A real secret vote has two or more real
/// towns, each with its own node.
///
/// The calendar is in the past up to the vote (admitted as replayed history, by the
/// same rules): proposals and deals closed two days ago, the complaint hour passed, the
/// election key and the layout published; the vote opened an hour ago.
fn seed_secret(
    storage: &SledStorage,
    town: &SecretKey,
    trustee: &TrusteeKey,
    shares: &Shares,
    now: u64,
) -> anyhow::Result<()> {
    use palabre_core::event::secret::Secrecy;
    use palabre_core::secret::admit::qualification;
    use palabre_core::secret::build;

    let me = town.public_key();
    // This town's deal must be one its own trustee key opens (`declare` made it so).
    anyhow::ensure!(
        storage.encryption_key(&me) == Some(trustee.public()),
        "the town's declaration does not carry this node's trustee key"
    );
    let neighbour = random_key()?;
    let nb = neighbour.public_key();
    let nb_trustee = build::trustee_key(&nb, &fresh_seed()?);
    let declaration = signed(
        &neighbour,
        now - 4 * DAY,
        Body::Authority(AuthorityBody {
            name: "Commune voisine (démo)".into(),
            code: String::new(),
            addresses: Vec::new(),
            encryption_key: Some(nb_trustee.key),
            encryption_pok: Some(nb_trustee.pok),
        }),
    )?;
    commit(storage, &neighbour, vec![declaration], Clock::Replay)?;

    let keys_close_ms = now - 2 * DAY;
    let mut trustees = vec![me, nb];
    trustees.sort();
    let c = signed(
        town,
        now - 3 * DAY,
        Body::Consultation(Box::new(ConsultationBody {
            title: "Référendum local (vote secret) : l'ancienne gare".into(),
            description: "Un exemple de vote à bulletin secret : votre choix est chiffré dans votre navigateur, et aucune commune seule ne peut le lire ni compter avant la clôture.\nDans cette démonstration, les deux communes garantes de la clé (cette commune et une « commune voisine » fictive) sont jouées par ce seul serveur. Un vrai vote secret réunit au moins deux vraies communes, chacune avec son propre serveur.".into(),
            authorities: vec![me],
            proposals_open_ms: now - 3 * DAY,
            proposals_close_ms: keys_close_ms,
            vote_open_ms: now - HOUR,
            vote_close_ms: now + 14 * DAY,
            method: Method::YesNoAbstain {},
            show_running_results: false,
            quotas: None,
            secrecy: Some(Secrecy {
                trustees,
                threshold: 2,
                keys_close_ms,
                split: true,
            }),
        })),
    )?;
    let cid = c.id();
    let mut events = vec![c];
    let mut proposals = Vec::new();
    for (title, text) in [
        (
            "Transformer l'ancienne gare en maison des associations",
            "Des salles pour les associations, ouvertes le soir et le week-end.",
        ),
        (
            "Y installer aussi une épicerie solidaire",
            "Au rez-de-chaussée, tenue par des bénévoles.",
        ),
    ] {
        let p = signed(
            town,
            now - 3 * DAY + HOUR,
            Body::Proposal(ProposalBody {
                consultation: cid,
                title: title.into(),
                body: text.into(),
                cost: None,
            }),
        )?;
        proposals.push(p.id());
        events.push(p);
    }
    commit(storage, town, events, Clock::Replay)?;

    let view = storage
        .consultation(&cid)
        .ok_or_else(|| anyhow::anyhow!("the secret example is missing"))?;
    let keys = build::encryption_keys(&view, |k| storage.encryption_key(k))
        .map_err(|r| anyhow::anyhow!("the trustees' keys: {r}"))?;
    let deal_at = keys_close_ms - 2 * HOUR;
    // This town's deal, as the ceremony task makes it: its own share kept first.
    let (body, own) = build::deal(&view, &me, &keys, &fresh_seed()?)
        .map_err(|r| anyhow::anyhow!("the demo's deal: {r}"))?;
    let mut held = shares.get(&cid)?;
    held.own_share = Some(palabre_core::group::scalar_hex(&own.own_share.0));
    shares.put(&cid, held.clone())?;
    let deal = signed(town, deal_at, Body::DkgDeal(body))?;
    held.deal = Some(deal.id());
    commit(storage, town, vec![deal], Clock::Replay)?;
    shares.put(&cid, held)?;
    // The neighbour's deal, in its own log; its secrets go out of scope here.
    let (body, _) = build::deal(&view, &nb, &keys, &fresh_seed()?)
        .map_err(|r| anyhow::anyhow!("the demo's deal: {r}"))?;
    let deal = signed(&neighbour, deal_at, Body::DkgDeal(body))?;
    commit(storage, &neighbour, vec![deal], Clock::Replay)?;

    // After the complaint hour: the organiser's election key and layout.
    let key = build::election_key_of(&view, &qualification(storage, &view))
        .map_err(|r| anyhow::anyhow!("the demo's election key: {r}"))?;
    let layout =
        build::layout(&view, &proposals).map_err(|r| anyhow::anyhow!("the demo's layout: {r}"))?;
    let after = keys_close_ms + 2 * HOUR;
    commit(
        storage,
        town,
        vec![
            signed(town, after, Body::ElectionKey(key))?,
            signed(town, after, Body::BallotLayout(layout))?,
        ],
        Clock::Replay,
    )
}
