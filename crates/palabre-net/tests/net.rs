//! The replication state machine in a seeded simulation: 5 to 12 towns on a network
//! that drops, duplicates, delays and reorders messages, logs growing while they sync,
//! a node cut off and back, a rogue peer, an equivocating town. Every honest run must
//! end with every node holding every log exactly as its town wrote it. A failing run
//! names its seed; `PALABRE_SIM_SEEDS` sets how many seeds run (default 12).

use std::sync::Arc;

use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::head::{Cosignature, CosignedHead, TreeHead};
use palabre_net::proto::{CosignatureKey, Input, Node, Output, PeerId, Wire};
use palabre_net::sim::{
    Faults, Rng, Sim, Store, Town, bare_node, empty, keep_log, memory, n_seeds, sim_node, town_key,
};
use palabre_store::Storage;

#[test]
fn every_replica_converges_on_a_bad_network() {
    for seed in 1..=n_seeds() {
        let mut rng = Rng(seed * 7919);
        let n = 5 + rng.below(8) as usize;
        let faults = Faults {
            drop_percent: 10 + rng.below(20),
            duplicate_percent: 5 + rng.below(15),
            max_delay_ms: 50 + rng.below(400),
        };
        let mut sim = Sim::new(seed, n, faults);
        // Every town declares itself and credentials residents, in bursts, while the
        // others already sync.
        for round in 0..6u64 {
            for t in 0..n {
                if round == 0 || sim.rng.chance(60) {
                    let k = 1 + sim.rng.below(40) as usize;
                    sim.write(t, k);
                }
            }
            sim.run((round + 1) * 700);
        }
        // Then quiet: it must converge.
        let mut until = sim.now;
        while !sim.converged() && until < 120_000 {
            until += 1_000;
            sim.run(until);
        }
        assert!(
            sim.converged(),
            "seed {seed}: {n} nodes did not converge by {} ms (faults: drop {}%, dup {}%, delay ≤ {} ms)",
            sim.now,
            faults.drop_percent,
            faults.duplicate_percent,
            faults.max_delay_ms
        );
        assert_eq!(
            sim.penalties(),
            0,
            "seed {seed}: honest peers were penalised"
        );
    }
}

#[test]
fn a_node_cut_off_during_the_vote_catches_up() {
    let faults = Faults {
        drop_percent: 5,
        duplicate_percent: 5,
        max_delay_ms: 100,
    };
    let mut sim = Sim::new(99, 6, faults);
    for t in 0..6 {
        sim.write(t, 10);
    }
    sim.run(1_000);
    sim.cut[3] = true;
    for t in 0..6 {
        sim.write(t, 25);
    }
    sim.run(5_000);
    assert!(!sim.converged(), "the cut node cannot have everything");
    sim.cut[3] = false;
    sim.run(20_000);
    assert!(sim.converged(), "the node caught up after it came back");
}

#[test]
fn a_rogue_peer_changes_nothing_and_is_penalised() {
    let faults = Faults {
        drop_percent: 0,
        duplicate_percent: 0,
        max_delay_ms: 20,
    };
    let mut sim = Sim::new(5, 5, faults);
    for t in 0..5 {
        sim.write(t, 8);
    }
    sim.run(3_000);
    assert!(sim.converged());
    let victim_town = sim.towns[2].key.public_key();
    let good = sim.towns[2].head(sim.now);
    // A forged head (bad signature), a page of garbage, and a head of an unknown log.
    let mut forged = good;
    forged.head.size += 5;
    let rogue: PeerId = 77;
    let mut outs = sim.nodes[0].handle(sim.now, Input::Connected(rogue));
    outs.extend(sim.nodes[0].handle(
        sim.now,
        Input::Received {
            from: rogue,
            wire: Wire::Head { head: forged },
        },
    ));
    let mut stranger = Town::new(1_000);
    let Input::Appended {
        head: stranger_head,
        ..
    } = stranger.write(3, sim.now)
    else {
        unreachable!("write gives an Appended input")
    };
    outs.extend(sim.nodes[0].handle(
        sim.now,
        Input::Received {
            from: rogue,
            wire: Wire::Head {
                head: stranger_head,
            },
        },
    ));
    outs.extend(sim.nodes[0].handle(
        sim.now,
        Input::Received {
            from: rogue,
            wire: Wire::Entries {
                authority: victim_town,
                start: 8,
                entries: vec![b"garbage".to_vec(); 3],
            },
        },
    ));
    assert!(
        outs.iter()
            .any(|o| matches!(o, Output::Penalise { peer, .. } if *peer == rogue)),
        "{outs:?}"
    );
    assert!(
        !outs.iter().any(|o| matches!(o, Output::Stored { .. })),
        "nothing stored from the rogue"
    );
    assert!(sim.converged(), "every replica is unchanged");
    assert!(
        sim.nodes[0]
            .range(&stranger.key.public_key(), 0, u64::MAX)
            .is_empty()
    );
}

#[test]
fn an_equivocating_town_is_caught() {
    let faults = Faults {
        drop_percent: 0,
        duplicate_percent: 0,
        max_delay_ms: 20,
    };
    let mut sim = Sim::new(11, 5, faults);
    for t in 0..5 {
        sim.write(t, 6);
    }
    sim.run(2_000);
    assert!(sim.converged());
    // Town 4 forks its log: another history of the same size, shown to node 0.
    let mut fork = Town::new(4);
    let Input::Appended { .. } = fork.write(3, 1) else {
        unreachable!("write gives an Appended input")
    };
    let _ = fork.write(3, 2); // a different 4th..6th entry (other times, other ids)
    let forked = fork.head(sim.now);
    assert_eq!(forked.head.size, 6);
    let honest = sim.towns[4].head(0);
    assert_ne!(forked.head.root, honest.head.root);
    sim.input(
        0,
        Input::Received {
            from: 4,
            wire: Wire::Head { head: forked },
        },
    );
    let proof = sim.outputs.iter().find_map(|(n, o)| match o {
        Output::Evidence(e) if *n == 0 => Some(e.clone()),
        _ => None,
    });
    let proof = proof.unwrap_or_else(|| panic!("no equivocation in {:?}", sim.outputs));
    assert_eq!(proof.first.head.size, proof.second.head.size);
    assert_eq!(proof.check(), Ok(()));
    // The proof reaches every other node, which checks it alone, once.
    sim.run(sim.now + 2_000);
    for n in 0..5 {
        let got = sim
            .outputs
            .iter()
            .filter(|(i, o)| *i == n && matches!(o, Output::Evidence(e) if *e == proof))
            .count();
        assert_eq!(got, 1, "node {n} reported the evidence {got} times");
    }
    assert_eq!(sim.penalties(), 0);
}

/// A smaller head off the history a node holds is caught too, with a prefix proof that
/// anyone can check.
#[test]
fn a_smaller_forked_head_is_caught_with_a_prefix_proof() {
    let faults = Faults {
        drop_percent: 0,
        duplicate_percent: 0,
        max_delay_ms: 20,
    };
    let mut sim = Sim::new(12, 3, faults);
    for t in 0..3 {
        sim.write(t, 8);
    }
    sim.run(2_000);
    assert!(sim.converged());
    let mut fork = Town::new(2);
    let _ = fork.write(2, 7);
    let _ = fork.write(2, 8);
    let forked = fork.head(sim.now);
    assert_eq!(forked.head.size, 4);
    sim.input(
        1,
        Input::Received {
            from: 2,
            wire: Wire::Head { head: forked },
        },
    );
    let proof = sim
        .outputs
        .iter()
        .find_map(|(_, o)| match o {
            Output::Evidence(e) => Some(e.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no equivocation in {:?}", sim.outputs));
    assert!(proof.prefix.is_some());
    assert_eq!(proof.check(), Ok(()));
}

/// Evidence that proves nothing, and cosignatures that do not verify, are refused and
/// cost the sender; a valid cosignature is passed on once.
#[test]
fn cosignatures_and_evidence_are_checked_before_they_travel() {
    let faults = Faults {
        drop_percent: 0,
        duplicate_percent: 0,
        max_delay_ms: 20,
    };
    let mut sim = Sim::new(13, 4, faults);
    for t in 0..4 {
        sim.write(t, 3);
    }
    sim.run(1_000);
    let head = sim.towns[1].head(0);
    let witness = &sim.towns[2].key;
    let c = palabre_core::head::CosignedHead {
        head: head.head,
        witness: witness.public_key(),
        timestamp_ms: 7,
    }
    .sign(witness);
    sim.input(
        2,
        Input::Cosigned {
            cosignature: c,
            sticky: false,
        },
    );
    sim.run(sim.now + 1_000);
    for n in [0, 1, 3] {
        let got = sim
            .outputs
            .iter()
            .filter(|(i, o)| *i == n && matches!(o, Output::Cosignature(x) if *x == c))
            .count();
        assert_eq!(got, 1, "node {n} got the cosignature {got} times");
    }
    let mut forged = c;
    forged.cosigned.timestamp_ms += 1;
    sim.input(
        0,
        Input::Received {
            from: 3,
            wire: Wire::Cosignature {
                cosignature: forged,
            },
        },
    );
    let nothing = palabre_core::head::Equivocation {
        first: head,
        second: head,
        prefix: None,
    };
    sim.input(
        0,
        Input::Received {
            from: 3,
            wire: Wire::Evidence { evidence: nothing },
        },
    );
    assert_eq!(sim.penalties(), 2);
    assert!(
        !sim.outputs
            .iter()
            .any(|(_, o)| matches!(o, Output::Evidence(_)))
    );
}

/// Three towns' networks on real loopback sockets (TCP + Noise + Yamux): logs written
/// in bursts on each replicate to the other two, byte for byte.
#[test]
fn three_towns_replicate_over_loopback_sockets() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let mut towns: Vec<Town> = (0..3).map(|i| Town::new(500 + i)).collect();
        let keys: Vec<PublicKey> = towns.iter().map(|t| t.key.public_key()).collect();
        let mut nets = Vec::new();
        let mut events = Vec::new();
        let stores: Vec<Arc<dyn Storage>> = (0..3).map(|_| memory()).collect();
        for (t, store) in towns.iter().zip(&stores) {
            let (net, ev) = palabre_net::shell::start(
                SecretKey::from_seed(&t.key.seed()),
                keys.clone(),
                "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"),
                Vec::new(),
                Box::new(Arc::clone(store)),
            )
            .await
            .expect("the network starts");
            nets.push(net);
            events.push(ev);
        }
        for i in 0..3 {
            for j in i + 1..3 {
                nets[i].dial(nets[j].addr.clone()).await.expect("dial");
            }
        }
        for round in 0..3u64 {
            for (i, t) in towns.iter_mut().enumerate() {
                let Input::Appended {
                    head,
                    start,
                    entries,
                } = t.write(10, round)
                else {
                    unreachable!("write gives an Appended input")
                };
                // Committed by the town's node first, as the node does.
                keep_log(&*stores[i], &head, start, &entries);
                nets[i]
                    .appended(head, start, entries)
                    .await
                    .expect("appended");
            }
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        'wait: loop {
            let mut all = true;
            for net in &nets {
                for t in &towns {
                    let held = net.entries(t.key.public_key()).await.expect("entries");
                    all &= held == t.entries;
                }
            }
            if all {
                break 'wait;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the three towns did not replicate each other's logs in time"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        for mut ev in events {
            while let Ok(e) = ev.try_recv() {
                assert!(
                    !matches!(e, palabre_net::shell::NetEvent::Penalised { .. }),
                    "{e:?}"
                );
            }
        }
    });
}

/// A peer that sends a message over the size limit is penalised by the shell (the codec
/// reads at most the limit, and reports rather than fails); the node carries on.
#[test]
fn oversized_messages_are_penalised() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let honest = town_key(900).public_key();
        let rogue = town_key(901).public_key();
        let (honest_key, rogue_key) = (town_key(900), town_key(901));
        let any: palabre_net::Multiaddr = "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr");
        let (net, mut events) =
            palabre_net::shell::start(honest_key, vec![rogue], any.clone(), Vec::new(), empty())
                .await
                .expect("starts");
        let (bad, _bad_events) = palabre_net::shell::start(
            rogue_key,
            vec![honest],
            any,
            vec![net.addr.clone()],
            empty(),
        )
        .await
        .expect("starts");
        let huge = Wire::Entries {
            authority: honest,
            start: 0,
            entries: vec![vec![b'x'; 5 * 1024 * 1024]],
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            bad.broadcast(huge.clone()).await.expect("broadcast");
            match tokio::time::timeout(std::time::Duration::from_secs(1), events.recv()).await {
                Ok(Some(palabre_net::shell::NetEvent::Penalised { reason, .. })) => {
                    assert_eq!(reason, "a message over the size limit");
                    break;
                }
                Ok(Some(_)) | Err(_) => {}
                Ok(None) => panic!("the honest node stopped"),
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the oversized message was never penalised"
            );
        }
    });
}

/// A node restarts: its store gives back the logs it held while its peers are already
/// announcing them and it is fetching them. Whatever arrives first, it ends with each
/// log exactly once, as written.
#[test]
fn a_restarted_node_restores_and_syncs_without_duplicating() {
    for seed in 0..n_seeds() {
        let faults = Faults {
            drop_percent: 0,
            duplicate_percent: 10,
            max_delay_ms: 30,
        };
        let mut sim = Sim::new(seed, 3, faults);
        for t in 0..3 {
            sim.write(t, 40);
        }
        sim.run(3_000);
        assert!(
            sim.converged(),
            "seed {seed}: no convergence before the restart"
        );
        // Node 1 restarts empty; its peers announce, it asks; then its store is read back.
        let keys: Vec<PublicKey> = sim.towns.iter().map(|t| t.key.public_key()).collect();
        sim.nodes[1] = sim_node(keys[1], &keys, &sim.logs[1]);
        for p in [0, 2] {
            sim.input(1, Input::Connected(p as PeerId));
            let authority = keys[p];
            sim.input(
                1,
                Input::Authenticated {
                    peer: p as PeerId,
                    authority,
                },
            );
        }
        let until = sim.now + 5 + sim.rng.below(60);
        sim.run(until);
        for t in 0..3 {
            let town = &sim.towns[t];
            let restore = Input::Appended {
                head: town.head(0),
                start: 0,
                entries: town.entries.clone(),
            };
            sim.input(1, restore);
        }
        sim.write(0, 5);
        sim.run(sim.now + 3_000);
        assert!(sim.converged(), "seed {seed}: the restarted node diverged");
    }
}

/// Gossip alone (gossipsub, no point-to-point copy): a valid cosignature published by a
/// peer is validated and delivered; a forged head is rejected and costs its publisher.
#[test]
fn gossip_is_validated_before_it_is_delivered() {
    use palabre_net::shell::NetEvent;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let (a, b) = (town_key(910), town_key(911));
        let any: palabre_net::Multiaddr = "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr");
        let both = vec![a.public_key(), b.public_key()];
        let (honest, mut events) = palabre_net::shell::start(
            town_key(910),
            both.clone(),
            any.clone(),
            Vec::new(),
            empty(),
        )
        .await
        .expect("starts");
        let (publisher, _ev) =
            palabre_net::shell::start(town_key(911), both, any, vec![honest.addr.clone()], empty())
                .await
                .expect("starts");
        let head = palabre_core::head::TreeHead {
            authority: b.public_key(),
            size: 3,
            root: palabre_core::ids::Hash([4; 32]),
            timestamp_ms: 5,
        };
        let cosignature = palabre_core::head::CosignedHead {
            head,
            witness: b.public_key(),
            timestamp_ms: 6,
        }
        .sign(&b);
        let mut forged = head.sign(&b);
        forged.head.size = 4;
        // The mesh takes a few heartbeats to form: publish again until it arrives.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let (mut delivered, mut rejected) = (false, false);
        while !(delivered && rejected) {
            assert!(
                std::time::Instant::now() < deadline,
                "gossip: delivered {delivered}, rejected {rejected}"
            );
            let mut c = cosignature;
            // A new message each time (ids are content hashes: a repeat is a duplicate).
            c.cosigned.timestamp_ms += std::time::UNIX_EPOCH
                .elapsed()
                .map_or(0, |d| d.as_millis() as u64);
            let c = palabre_core::head::CosignedHead { ..c.cosigned }.sign(&b);
            publisher
                .publish(Wire::Cosignature { cosignature: c })
                .await
                .expect("publish");
            publisher
                .publish(Wire::Head { head: forged })
                .await
                .expect("publish");
            let wait = tokio::time::sleep(std::time::Duration::from_millis(300));
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    () = &mut wait => break,
                    e = events.recv() => match e {
                        Some(NetEvent::Cosignature(_)) => delivered = true,
                        Some(NetEvent::Penalised { reason, .. }) => {
                            rejected |= reason == "an invalid gossip message";
                        }
                        Some(_) => {}
                        None => panic!("the honest node stopped"),
                    },
                }
            }
        }
    });
}

/// A head relayed on gossip says nothing of what the relay holds: it is never asked
/// for the entries (it could not answer); those who announced heads directly are.
#[test]
fn a_gossip_relay_is_not_asked_for_entries() {
    let faults = Faults {
        drop_percent: 0,
        duplicate_percent: 0,
        max_delay_ms: 10,
    };
    let mut sim = Sim::new(21, 3, faults);
    let Input::Appended { head, .. } = sim.towns[2].write(6, 0) else {
        unreachable!("write gives an Appended input")
    };
    let outs = sim.nodes[0].handle(
        sim.now,
        Input::Gossip {
            from: 1,
            wire: Wire::Head { head },
        },
    );
    assert!(
        !outs.iter().any(|o| matches!(
            o,
            Output::Send {
                to: 1,
                wire: Wire::GetEntries { .. }
            }
        )),
        "{outs:?}"
    );
    // Town 2's node learns its own log; everyone converges from direct announcements.
    let entries = sim.towns[2].entries.clone();
    sim.input(
        2,
        Input::Appended {
            head,
            start: 0,
            entries,
        },
    );
    sim.run(sim.now + 2_000);
    assert!(sim.converged());
}

/// Entries go only to peers that proved they speak for a town of the federation.
#[test]
fn only_federated_towns_get_sync_answers() {
    let faults = Faults {
        drop_percent: 0,
        duplicate_percent: 0,
        max_delay_ms: 10,
    };
    let mut sim = Sim::new(31, 2, faults);
    sim.write(0, 4);
    sim.run(1_000);
    let authority = sim.towns[0].key.public_key();
    let ask = |node: &mut Node, from: PeerId, now: u64| {
        node.handle(
            now,
            Input::Received {
                from,
                wire: Wire::GetEntries {
                    authority,
                    start: 0,
                    end: 4,
                },
            },
        )
    };
    let answered = |outs: &[Output], to: PeerId| {
        outs.iter()
            .any(|o| matches!(o, Output::Send { to: t, wire: Wire::Entries { .. } } if *t == to))
    };
    let now = sim.now;
    let node = &mut sim.nodes[0];
    // A peer that never said who it is.
    node.handle(now, Input::Connected(50));
    assert!(!answered(&ask(node, 50, now), 50));
    // A peer that speaks for a town outside the federation.
    node.handle(now, Input::Connected(51));
    node.handle(
        now,
        Input::Authenticated {
            peer: 51,
            authority: town_key(777).public_key(),
        },
    );
    assert!(!answered(&ask(node, 51, now), 51));
    // A town of the federation.
    assert!(answered(&ask(node, 1, now), 1));
}

/// A fresh node catching up a long log keeps it as it goes: every few entries the
/// holder proves the prefix consistent with the far head, and the prefix is stored.
#[test]
fn a_long_log_is_kept_as_it_is_fetched() {
    for seed in 0..n_seeds() {
        let faults = Faults {
            drop_percent: 5,
            duplicate_percent: 5,
            max_delay_ms: 30,
        };
        let mut sim = Sim::new(seed, 3, faults);
        let keys: Vec<PublicKey> = sim.towns.iter().map(|t| t.key.public_key()).collect();
        sim.nodes[1] = sim_node(keys[1], &keys, &sim.logs[1]).prove_every(1_000);
        for (p, authority) in keys.iter().enumerate() {
            if p != 1 {
                sim.input(1, Input::Connected(p as PeerId));
                sim.input(
                    1,
                    Input::Authenticated {
                        peer: p as PeerId,
                        authority: *authority,
                    },
                );
            }
        }
        // Longer than a page (2,048 entries), so the target is reached in several.
        sim.write(0, 5_000);
        sim.run(20_000);
        assert!(
            sim.converged(),
            "seed {seed}: the long log was not replicated"
        );
        let kept: Vec<u64> = sim
            .outputs
            .iter()
            .filter_map(|(n, o)| match o {
                Output::Stored { authority, size } if *n == 1 && *authority == keys[0] => {
                    Some(*size)
                }
                _ => None,
            })
            .collect();
        assert!(
            kept.len() >= 3 && kept.windows(2).all(|w| w[0] < w[1]),
            "seed {seed}: kept at {kept:?}"
        );
        assert_eq!(sim.penalties(), 0, "seed {seed}");
    }
}

/// A node that lost its store (its key kept) gathers back, page by page on a lossy
/// network, every cosignature and proof of equivocation its neighbours keep — what it
/// had witnessed and received before — and its own log by sync; honest peers are never
/// penalised, and nothing is left half-asked.
#[test]
fn a_node_that_lost_its_store_gathers_what_it_witnessed() {
    for seed in 1..=n_seeds().min(4) {
        let faults = Faults {
            drop_percent: 10,
            duplicate_percent: 10,
            max_delay_ms: 150,
        };
        let n = 4;
        let mut sim = Sim::new(seed, n, faults);
        // Logs grow in rounds; after each, every node witnesses every other log.
        for round in 0..4 {
            for t in 0..n {
                sim.write(t, 3);
            }
            let mut until = sim.now;
            while !sim.converged() {
                until += 500;
                sim.run(until);
                assert!(until < 120_000, "seed {seed}: no convergence");
            }
            for w in 0..n {
                for t in (0..n).filter(|t| *t != w) {
                    sim.cosign(w, t, round == 3);
                }
            }
            sim.run(sim.now + 1_000);
        }
        // Town 1 shows node 0 another history: every node comes to hold the proof.
        let mut fork = Town::new(1);
        let _ = fork.write(2, 1);
        let _ = fork.write(sim.towns[1].entries.len() - 2, 2);
        let forked = fork.head(sim.now);
        sim.input(
            0,
            Input::Received {
                from: 1,
                wire: Wire::Head { head: forked },
            },
        );
        sim.run(sim.now + 3_000);
        let held = |store: &Store| {
            (
                store.cosignatures.keys().copied().collect::<Vec<_>>(),
                store.evidence.len(),
            )
        };
        let before = held(&sim.stores[3]);
        assert!(before.0.len() >= 4 * (n - 1) * 3, "seed {seed}: {before:?}");
        assert_eq!(before.1, 1, "seed {seed}");
        let penalties = sim.penalties();

        // Node 3 loses its store and is told to gather before any peer is back.
        sim.wipe(3);
        sim.input(3, Input::Gather);
        for other in 0..3 {
            sim.link(3, other);
        }
        let mut until = sim.now;
        loop {
            until += 500;
            sim.run(until);
            let g = sim.nodes[3].gathering();
            if g.asking == 0 && sim.converged() {
                assert_eq!((g.done, g.failed), (3, 0), "seed {seed}");
                break;
            }
            assert!(
                until < 300_000,
                "seed {seed}: the gathering never ended: {g:?}"
            );
        }
        let mut neighbours = Store::default();
        for s in &sim.stores[..3] {
            for c in s.cosignatures.values() {
                neighbours.keep_cosignature(*c);
            }
            for e in &s.evidence {
                neighbours.keep_evidence(e.clone());
            }
        }
        let after = held(&sim.stores[3]);
        assert_eq!(after, held(&neighbours), "seed {seed}");
        // What it held before and the neighbours held too is back (under a lossy flood
        // a cosignature may have reached it alone: then it was lost with its disk).
        for key in &before.0 {
            if neighbours.cosignatures.contains_key(key) {
                assert!(after.0.contains(key), "seed {seed}: {key:?} lost");
            }
        }
        assert_eq!(after.1, 1, "seed {seed}: the evidence came back");
        assert_eq!(
            sim.penalties(),
            penalties,
            "seed {seed}: honest peers penalised"
        );
    }
}

/// A peer that answers a gathering with a cosignature that does not verify, out of
/// order, or of another log, is penalised and given up on; answers nobody asked for are
/// dropped; a town outside the federation gets nothing looked up for it.
#[test]
fn a_bad_gathering_answer_is_refused() {
    let keys: Vec<SecretKey> = (0..3).map(town_key).collect();
    let federation: Vec<PublicKey> = keys.iter().map(SecretKey::public_key).collect();
    // Logs are gathered in key order: the first asked is the smallest key's.
    let first = (0..3).min_by_key(|i| federation[*i]).expect("three towns");
    let other = (first + 1) % 3;
    let cosign = |t: usize, size: u64| {
        let w = if t == 1 { 2 } else { 1 };
        CosignedHead {
            head: TreeHead {
                authority: federation[t],
                size,
                root: palabre_core::ids::Hash([size as u8; 32]),
                timestamp_ms: 5,
            },
            witness: federation[w],
            timestamp_ms: 6,
        }
        .sign(&keys[w])
    };
    let good = [cosign(first, 1), cosign(first, 2)];
    let mut forged = cosign(first, 3);
    forged.cosigned.timestamp_ms += 1;
    let pages: [(&str, Vec<Cosignature>); 3] = [
        ("forged", vec![good[0], forged]),
        ("out of order", vec![good[1], good[0]]),
        ("of another log", vec![cosign(other, 1)]),
    ];
    for (what, page) in pages {
        let mut node = bare_node(federation[0], &federation);
        let _ = node.handle(0, Input::Gather);
        let _ = node.handle(0, Input::Connected(1));
        let outs = node.handle(
            0,
            Input::Authenticated {
                peer: 1,
                authority: federation[1],
            },
        );
        let asked = outs.iter().find_map(|o| match o {
            Output::Send {
                to: 1,
                wire: Wire::GetCosignatures { authority, after },
            } => Some((*authority, *after)),
            _ => None,
        });
        assert_eq!(asked, Some((federation[first], None)), "{outs:?}");
        // An answer about another log than the one asked: not awaited, dropped.
        let dropped = node.handle(
            1,
            Input::Received {
                from: 1,
                wire: Wire::Cosignatures {
                    authority: federation[other],
                    after: None,
                    cosignatures: vec![],
                    complete: true,
                },
            },
        );
        assert!(dropped.is_empty(), "{what}: {dropped:?}");
        let outs = node.handle(
            2,
            Input::Received {
                from: 1,
                wire: Wire::Cosignatures {
                    authority: federation[first],
                    after: None,
                    cosignatures: page,
                    complete: true,
                },
            },
        );
        assert!(
            outs.iter()
                .any(|o| matches!(o, Output::Penalise { peer: 1, .. })),
            "{what}: {outs:?}"
        );
        assert!(
            !outs.iter().any(|o| matches!(o, Output::Gathered { .. })),
            "{what}: {outs:?}"
        );
        assert_eq!(node.gathering().failed, 1, "{what}");
        assert_eq!(node.gathering().asking, 0, "{what}");
    }
    // A good page is handed to the node, and the next request waits until it is kept.
    let mut node = bare_node(federation[0], &federation);
    let _ = node.handle(0, Input::Connected(1));
    let _ = node.handle(
        0,
        Input::Authenticated {
            peer: 1,
            authority: federation[1],
        },
    );
    let _ = node.handle(0, Input::Gather);
    let outs = node.handle(
        1,
        Input::Received {
            from: 1,
            wire: Wire::Cosignatures {
                authority: federation[first],
                after: None,
                cosignatures: good.to_vec(),
                complete: false,
            },
        },
    );
    assert!(
        matches!(outs.as_slice(), [Output::Gathered { peer: 1, cosignatures, .. }] if *cosignatures == good),
        "{outs:?}"
    );
    let outs = node.handle(2, Input::Kept { peer: 1 });
    let next = Wire::GetCosignatures {
        authority: federation[first],
        after: Some(CosignatureKey::of(&good[1])),
    };
    assert_eq!(
        outs,
        vec![Output::Send { to: 1, wire: next }],
        "the next page starts after the last one kept"
    );
    // A stranger's requests are not looked up; a federated town's are.
    let stranger = town_key(50).public_key();
    let mut node = bare_node(federation[0], &federation);
    for (peer, authority) in [(7, stranger), (8, federation[2])] {
        let _ = node.handle(0, Input::Connected(peer));
        let _ = node.handle(0, Input::Authenticated { peer, authority });
        let outs = node.handle(
            0,
            Input::Received {
                from: peer,
                wire: Wire::GetEvidence {
                    authority: federation[1],
                    skip: 0,
                },
            },
        );
        let looked_up = outs
            .iter()
            .any(|o| matches!(o, Output::Lookup { peer: p, .. } if *p == peer));
        assert_eq!(looked_up, authority != stranger, "{outs:?}");
    }
}

/// A fresh node replicates a log larger than its window: the state machine never holds
/// more than the window of entries in memory (those fetched that its store has not
/// taken yet, those awaiting a signed root), whatever the log's length, and none at
/// the end; the store holds the log, exactly.
#[test]
fn a_long_replica_is_held_in_the_store_not_in_memory() {
    let faults = Faults {
        drop_percent: 2,
        duplicate_percent: 2,
        max_delay_ms: 20,
    };
    let mut sim = Sim::new(11, 2, faults);
    let keys: Vec<PublicKey> = sim.towns.iter().map(|t| t.key.public_key()).collect();
    let (prove_every, window) = (500, 300);
    sim.nodes[1] = sim_node(keys[1], &keys, &sim.logs[1])
        .prove_every(prove_every)
        .max_unstored(window);
    // Its bridge writes only every tick: fetched pages pile up to the window between.
    sim.lazy[1] = true;
    sim.link(0, 1);
    let n = 12_000;
    sim.write(0, n);
    sim.write(1, 3);
    sim.run(120_000);
    assert!(sim.converged(), "the fresh node replicated the log");
    // At most: the window, a consistency-proven run moved in at once, and a page.
    let page = palabre_net::proto::MAX_SYNC_PAGE_ENTRIES as usize;
    let bound = window + 2 * (prove_every + page);
    assert!(bound < n / 2, "the window is smaller than the log");
    assert!(
        sim.max_in_memory[1] <= bound,
        "held {} entries in memory at once (bound {bound})",
        sim.max_in_memory[1]
    );
    assert!(
        sim.max_in_memory[1] > 0,
        "entries did pass through the window"
    );
    assert_eq!(sim.nodes[1].in_memory(), 0, "nothing held once stored");
}

/// A replica keeps what it fetched in sled on disk; restarted (the store closed and
/// opened again, a new state machine told only what the store holds), it serves sync
/// pages of that log from the store to a node that can get it from nowhere else.
#[test]
fn a_restarted_replica_serves_sync_pages_from_its_store() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let open = || -> Arc<dyn Storage> {
        Arc::new(
            palabre_store::SledStorage::open(dir.path(), palabre_store::StoreConfig::default())
                .expect("sled opens"),
        )
    };
    let faults = Faults {
        drop_percent: 0,
        duplicate_percent: 0,
        max_delay_ms: 10,
    };
    let mut sim = Sim::new(4, 3, faults);
    let keys: Vec<PublicKey> = sim.towns.iter().map(|t| t.key.public_key()).collect();
    sim.logs[1] = open();
    sim.nodes[1] = sim_node(keys[1], &keys, &sim.logs[1]);
    sim.link(0, 1);
    sim.cut[2] = true;
    let n = 5_000;
    sim.write(0, n);
    sim.run(30_000);
    let town0 = sim.towns[0].entries.clone();
    let held = |logs: &Arc<dyn Storage>| {
        Storage::entries(&**logs, &keys[0], 0, u64::MAX).expect("entries")
    };
    assert_eq!(
        held(&sim.logs[1]),
        town0,
        "node 1 replicated town 0 into sled"
    );

    // Node 1 restarts: its state machine and its store go, the store opens again.
    sim.nodes[1] = bare_node(keys[1], &keys);
    sim.logs[1] = memory();
    sim.logs[1] = open();
    sim.nodes[1] = sim_node(keys[1], &keys, &sim.logs[1]);
    // What the node does at start: hands over what its store holds, page by page.
    for k in &keys {
        let stored = sim.logs[1].log_size(k);
        let Some(head) = sim.logs[1].latest_head(k).expect("a head") else {
            continue;
        };
        for start in (0..stored).step_by(1_000) {
            let entries = Storage::entries(&*sim.logs[1], k, start, start + 1_000).expect("read");
            sim.input(
                1,
                Input::Appended {
                    head,
                    start,
                    entries,
                },
            );
        }
    }
    assert_eq!(
        sim.nodes[1].in_memory(),
        0,
        "the restarted node holds no entry"
    );

    // Town 0 goes away; node 2, empty, comes: node 1's store is the only source.
    sim.cut[0] = true;
    sim.cut[2] = false;
    sim.wipe(2);
    sim.link(1, 2);
    sim.run(sim.now + 30_000);
    assert_eq!(
        held(&sim.logs[2]),
        town0,
        "node 2 got town 0's log from node 1's store"
    );
    assert_eq!(sim.nodes[1].in_memory(), 0);
}

#[path = "net/rogue.rs"]
mod rogue;
