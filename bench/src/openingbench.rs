//! `palabre-bench --opening N`: a secret consultation of `N` sealed ballots opened from
//! its close to its audited result, in-process (BENCHMARKS.md, SECRET-BALLOTS.md §8).
//!
//! Five trustee towns, t = 3, a yes/no/abstain referendum (one group of width 1). Every
//! step is core's, through core's admission as a node admits it: each trustee's mix
//! (shuffle and proof) and its admission (the proof checked), the organiser's
//! `seal_final`, three trustees' decryption shares and their admission (each DLEQ
//! checked), the result, then the audit of every log. The world is built by core's
//! `testkit` first and not timed. What this leaves out is the network and the disk:
//! each node admits the same events with the same code, in parallel with the others.

use std::time::Instant;

use palabre_core::event::SignedEvent;
use palabre_core::tally::{Answer, Choice, Method};
use palabre_core::testkit::opening_world::Opening;

use crate::bench::{rss_kib, signature_rates};
use crate::report;

/// Trustee towns, and how many of them open.
const TOWNS: u8 = 5;
const THRESHOLD: u64 = 3;

/// Opens a closed referendum of `n` ballots and prints each step's time.
pub fn run(n: u32) -> anyhow::Result<()> {
    anyhow::ensure!(n >= 1, "at least one ballot");
    let (strict, _) = signature_rates(20_000);
    println!("raw verify_strict, one core:          {strict:>10.0} signatures/s");
    report::figure("raw verify_strict, one core", strict, "signatures/s");

    let t = Instant::now();
    let mut o = referendum(n);
    println!(
        "{n} sealed ballots cast and closed (not timed): {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let opening = Instant::now();
    let log_bytes = mix_all(&mut o, n)?;
    let t = Instant::now();
    o.seal()
        .map_err(|r| anyhow::anyhow!("seal_final refused: {r}"))?;
    println!(
        "seal_final made and admitted:       {:>6.2} s",
        t.elapsed().as_secs_f64()
    );
    decrypt_all(&mut o, n, strict)?;
    let t = Instant::now();
    let body = o
        .result_body()
        .ok_or_else(|| anyhow::anyhow!("not enough shares"))?;
    o.publish(body)
        .map_err(|r| anyhow::anyhow!("result refused: {r}"))?;
    println!(
        "result recombined, counted, admitted: {:>6.2} s",
        t.elapsed().as_secs_f64()
    );
    let total = opening.elapsed().as_secs_f64();
    println!(
        "close → result, {n} ballots, one core: {total:>6.1} s (goal for 10,000: ≤ 60 s on 2 cores)"
    );
    report::against(
        "close to result, one core",
        total,
        "s",
        60.0,
        total / 60.0,
        "≤ 1 (for 10,000 ballots)",
    );

    let t = Instant::now();
    let audit = o.audit();
    anyhow::ensure!(
        audit.failures.is_empty(),
        "the audit failed: {:?}",
        audit.failures
    );
    let audited = t.elapsed().as_secs_f64();
    println!("audit of every log (opening re-checked): {audited:>6.1} s");
    report::figure("audit with the opening", audited, "s");
    let per_ballot = log_bytes as f64 / f64::from(n);
    println!("log bytes per ballot per mixer: {per_ballot:.0}");
    report::figure("log bytes per ballot per mixer", per_ballot, "bytes");
    let (_, peak) = rss_kib(std::process::id());
    println!("peak RSS of the whole run: {} MiB", peak / 1024);
    report::figure("peak RSS", peak as f64 / 1024.0, "MiB");
    Ok(())
}

/// The closed referendum: `n` voters over the towns, answering yes, no and abstain in
/// turn.
fn referendum(n: u32) -> Opening {
    Opening::closed(TOWNS, THRESHOLD, Method::YesNoAbstain {}, 1, true, |p| {
        (0..n as usize)
            .map(|k| {
                let answer = [Answer::Yes, Answer::No, Answer::Abstain][k % 3];
                let choice = Choice::Answers([(p[0], answer)].into());
                (k % TOWNS as usize, k / TOWNS as usize, choice)
            })
            .collect()
    })
}

/// Every trustee's mix, made then admitted, in turn; returns the largest mix's bytes.
fn mix_all(o: &mut Opening, n: u32) -> anyhow::Result<usize> {
    let per = |secs: f64| f64::from(n) / secs;
    let mut log_bytes = 0usize;
    for j in 1..=u64::from(TOWNS) {
        let t = Instant::now();
        let (chunks, proof) = o.mix_events(j, 0, 10 * j as u8);
        let made = t.elapsed().as_secs_f64();
        let bytes: usize = chunks.iter().chain([&proof]).map(|e| e.bytes().len()).sum();
        log_bytes = log_bytes.max(bytes);
        let town = o.w.town_of_trustee(j);
        let t = Instant::now();
        for e in chunks.into_iter().chain([proof]) {
            o.w.append(town, e)
                .map_err(|r| anyhow::anyhow!("mix {j} refused: {r}"))?;
        }
        let admitted = t.elapsed().as_secs_f64();
        println!(
            "mix {j}: shuffle + proof {made:>6.2} s ({:>6.0} elements/s), admitted (proof checked) {admitted:>6.2} s ({:>6.0}/s)",
            per(made),
            per(admitted)
        );
    }
    Ok(log_bytes)
}

/// The decryption shares of t trustees, made then admitted.
fn decrypt_all(o: &mut Opening, n: u32, strict: f64) -> anyhow::Result<()> {
    let (mut made, mut admitted) = (0.0, 0.0);
    for j in 1..=THRESHOLD {
        let t = Instant::now();
        let events: Vec<SignedEvent> = o
            .decryption_events(j)
            .map_err(|r| anyhow::anyhow!("trustee {j} may not decrypt: {r}"))?;
        made += t.elapsed().as_secs_f64();
        let town = o.w.town_of_trustee(j);
        let t = Instant::now();
        for e in events {
            o.w.append(town, e)
                .map_err(|r| anyhow::anyhow!("shares of {j} refused: {r}"))?;
        }
        admitted += t.elapsed().as_secs_f64();
    }
    let shares = f64::from(n) * THRESHOLD as f64;
    println!(
        "decryption shares: made {:>8.0}/s, admitted (DLEQ checked) {:>8.0}/s = {:.3} × verify_strict",
        shares / made,
        shares / admitted,
        shares / admitted / strict
    );
    report::figure(
        "decryption shares made, one core",
        shares / made,
        "shares/s",
    );
    report::against(
        "decryption shares admitted, one core",
        shares / admitted,
        "shares/s",
        strict,
        shares / admitted / strict,
        "—",
    );
    Ok(())
}
