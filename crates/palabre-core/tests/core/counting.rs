//! `counting::standing`, by the count's own rules: a voter's counted ballot; one that a
//! later ballot of the same voter replaced (also under a replacing key); one that no
//! longer counts because the voter's credential was revoked.

use palabre_core::admission::Clock;
use palabre_core::counting::{LogPrefix, Standing, standing};
use palabre_core::event::{BallotBody, Body, CredentialBody, RevocationBody, SignedEvent};
use palabre_core::ids::EventId;
use palabre_core::record::Record;
use palabre_core::tally::{Choice, Method};
use palabre_core::testkit::world::{DAY, VOTE_OPEN, World, key, sign};

fn standings(world: &World, ballots: &[EventId]) -> Vec<Standing> {
    let c = world
        .ledger
        .consultation(&world.consultation)
        .expect("the consultation");
    let town = world.towns[0].pk();
    let log = world.ledger.log(&town).expect("the town's log");
    let prefix = [LogPrefix {
        authority: town,
        entries: &log.entries,
    }];
    ballots.iter().map(|b| standing(&c, &prefix, b)).collect()
}

fn append(world: &mut World, event: SignedEvent) -> EventId {
    let id = event.id();
    let town = world.towns[0].pk();
    world
        .ledger
        .append(&town, event, Clock::Replay)
        .expect("admitted");
    id
}

#[test]
fn a_ballot_counts_until_a_later_ballot_of_its_voter_replaces_it() {
    let mut w = World::new(1, 3, Method::Approval { max_choices: 1 }, 2);
    let p = w.proposals.clone();
    let day = |n: u64| VOTE_OPEN + n * DAY;
    let e = w.ballot(0, 0, day(1), Choice::Approve(vec![p[0]]));
    let a1 = append(&mut w, e);
    let e = w.ballot(0, 1, day(1), Choice::Approve(vec![p[1]]));
    let b1 = append(&mut w, e);
    let e = w.ballot(0, 2, day(1), Choice::Approve(vec![p[0]]));
    let c1 = append(&mut w, e);
    let e = w.ballot(0, 0, day(2), Choice::Approve(vec![]));
    let a2 = append(&mut w, e);
    // Resident 2's key is replaced: the new key is the same voter.
    let new_key = key(200);
    let old = w.towns[0].residents[2].public_key();
    let replacement = sign(
        &w.towns[0].key,
        day(2),
        Body::Credential(CredentialBody {
            subject: new_key.public_key(),
            replaces: Some(old),
        }),
    );
    append(&mut w, replacement);
    let e = sign(
        &new_key,
        day(3),
        Body::Ballot(BallotBody {
            consultation: w.consultation,
            choice: Choice::Approve(vec![p[1]]),
            assistance: None,
        }),
    );
    let c2 = append(&mut w, e);
    assert_eq!(
        standings(&w, &[a1, a2, b1, c1, c2]),
        vec![
            Standing::Replaced { by: a2 },
            Standing::Counted,
            Standing::Counted,
            Standing::Replaced { by: c2 },
            Standing::Counted,
        ]
    );
    // Resident 1's credential is revoked: their ballot no longer counts.
    let revoked = w.towns[0].residents[1].public_key();
    let revocation = sign(
        &w.towns[0].key,
        day(4),
        Body::Revocation(RevocationBody {
            subject: revoked,
            reason: "Déménagement".into(),
        }),
    );
    append(&mut w, revocation);
    assert_eq!(standings(&w, &[b1]), vec![Standing::NotCounted]);
}
