//! `palabre-bench --shuffle N`: what a trustee's mix costs on this machine (BENCHMARKS.md,
//! SECRET-BALLOTS.md §8) — core's `shuffle` + `prove` and `verify` for `N` sealed
//! ciphertexts of width 1, on one core, against the raw `verify_strict` rate measured in
//! the same run. The ciphertexts are made first and not timed. Timings live here, never
//! in tests; the shuffle itself is core's.

use std::time::Instant;

use palabre_core::elgamal::Ciphertext;
use palabre_core::group::{self, B, tags};
use palabre_core::shuffle;

use crate::bench::signature_rates;

/// Measures one mix of `n` positions at width 1: proof (shuffle and proof together,
/// what a mixer does) and verification, per element on one core.
pub fn run(n: usize) -> anyhow::Result<()> {
    anyhow::ensure!(n >= 1, "at least one ciphertext");
    let (strict, _) = signature_rates(20_000);
    println!("raw verify_strict, one core:        {strict:>10.0} signatures/s");
    crate::report::figure("raw verify_strict, one core", strict, "signatures/s");

    let cid = [0x5a; 32];
    let x = group::seeded_scalar(tags::SEED_KEY, &[1; 32], 0);
    let y = B * x;
    let inputs: Vec<Vec<Ciphertext>> = (0..n as u64)
        .map(|j| {
            let m = group::r#gen(b"bench-plaintext", j % 8);
            let r = group::seeded_scalar(tags::SEED_ENCRYPT, &[2; 32], j);
            vec![Ciphertext::encrypt(&y, &m, &r)]
        })
        .collect();

    let t = Instant::now();
    let (outputs, witness) = shuffle::shuffle(&y, &inputs, &[3; 32])?;
    let shuffled = t.elapsed().as_secs_f64();
    let proof = shuffle::prove(&cid, &y, &inputs, &outputs, &witness, &[4; 32])?;
    let mixed = t.elapsed().as_secs_f64();
    drop(witness);

    let t = Instant::now();
    shuffle::verify(&cid, &y, &inputs, &outputs, &proof)?;
    let verified = t.elapsed().as_secs_f64();

    let bytes = proof.to_bytes().len() + outputs.len() * 64;
    let per = |secs: f64| n as f64 / secs;
    println!(
        "shuffle of {n} (re-encryption only):  {shuffled:>8.2} s = {:>8.0} elements/s",
        per(shuffled)
    );
    crate::report::figure("shuffle (re-encryption only)", per(shuffled), "elements/s");
    println!(
        "shuffle + proof, one core:          {mixed:>8.2} s = {:>8.0} elements/s = {:.3} × verify_strict (goal ≥ 2,500/s)",
        per(mixed),
        per(mixed) / strict
    );
    crate::report::against(
        "shuffle + proof, one core",
        per(mixed),
        "elements/s",
        2500.0,
        per(mixed) / 2500.0,
        "≥ 1",
    );
    println!(
        "verification, one core:             {verified:>8.2} s = {:>8.0} elements/s = {:.3} × verify_strict (goal ≥ 5,000/s, ≥ 0.2 ×)",
        per(verified),
        per(verified) / strict
    );
    crate::report::against(
        "shuffle verification, one core",
        per(verified),
        "elements/s",
        strict,
        per(verified) / strict,
        "≥ 0.2",
    );
    println!(
        "outputs + proof: {bytes} bytes = {:.0} bytes per element ({:.0} as hex)",
        bytes as f64 / n as f64,
        2.0 * bytes as f64 / n as f64
    );
    crate::report::figure(
        "outputs + proof per element",
        bytes as f64 / n as f64,
        "bytes",
    );
    Ok(())
}
