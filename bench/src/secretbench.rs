//! `palabre-bench --secret`: core's secret-ballot primitives timed in-process, each on
//! one core against the raw `verify_strict` rate measured in the same run. The proofs,
//! shares and DKG are core's; this file only times them.

use std::time::Instant;

use crate::bench::signature_rates;

/// `palabre-bench --secret`: the secret-ballot primitives of SECRET-BALLOTS.md §8, each
/// on one core and against `verify_strict` measured in the same run — sealed-ballot
/// proof verification per element, DLEQ verification per decryption share, share
/// production, and a DKG with n = 16, t = 9.
pub fn run() -> anyhow::Result<()> {
    use palabre_core::dkg::{self, DecryptionShare, Params, Secret};
    use palabre_core::group::{self, RistrettoPoint, tags};
    use palabre_core::proofs::BallotContext;
    use palabre_core::sealed::{self, ColumnKind};

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("machine: {cores} cores; every figure below is one core");
    let (strict, _) = signature_rates(20_000);
    println!("raw verify_strict:                      {strict:>10.0} signatures/s");
    crate::report::figure("raw verify_strict, one core", strict, "signatures/s");
    let ratio = |rate: f64| rate / strict;

    let seed = |n: u64| -> [u8; 32] {
        let mut s = [7u8; 32];
        s[..8].copy_from_slice(&n.to_le_bytes());
        s
    };
    let y = RistrettoPoint::mul_base(&group::seeded_scalar(tags::SEED_KEY, &seed(0), 0));

    // Sealed ballots of 10 split columns (the design's 10-proposal end-to-end case).
    let n_ballots = 2_000u64;
    let plaintexts: Vec<RistrettoPoint> = (0..10)
        .map(|i| sealed::encode_column(ColumnKind::YesNoAbstain, i % 4))
        .collect::<Result<_, _>>()?;
    let ballots: Vec<(BallotContext, sealed::Sealing)> = (0..n_ballots)
        .map(|i| {
            let ctx = BallotContext {
                consultation: [1; 32],
                layout: [2; 32],
                author: seed(i),
            };
            let s = sealed::seal(&y, &ctx, &plaintexts, &seed(i));
            (ctx, s)
        })
        .collect();
    let t = Instant::now();
    for (ctx, s) in &ballots {
        s.pok
            .verify(ctx, &s.ciphertexts)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let pok_rate = (n_ballots * 10) as f64 / t.elapsed().as_secs_f64();
    println!(
        "sealed-ballot PoK verification:         {pok_rate:>10.0} elements/s = {:.2} × verify_strict (target ≥ 0.8)",
        ratio(pok_rate)
    );
    crate::report::against(
        "sealed-ballot PoK verification",
        pok_rate,
        "elements/s",
        strict,
        ratio(pok_rate),
        "≥ 0.8",
    );

    // Decryption shares: production, then verification.
    let x = Secret(group::seeded_scalar(tags::SEED_KEY, &seed(1), 0));
    let y_j = RistrettoPoint::mul_base(&x.0);
    let alphas: Vec<RistrettoPoint> = ballots
        .iter()
        .flat_map(|(_, s)| s.ciphertexts.iter().map(|c| c.alpha))
        .take(10_000)
        .collect();
    let ctx: [&[u8]; 2] = [&[1; 32], &[3; 32]];
    let t = Instant::now();
    let shares: Vec<DecryptionShare> = alphas
        .iter()
        .enumerate()
        .map(|(i, a)| DecryptionShare::create(&ctx, a, &x, &seed(i as u64)))
        .collect();
    let make_rate = alphas.len() as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for (share, alpha) in shares.iter().zip(&alphas) {
        share
            .verify(&ctx, alpha, &y_j)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let dleq_rate = alphas.len() as f64 / t.elapsed().as_secs_f64();
    println!(
        "DLEQ verification (decryption share):   {dleq_rate:>10.0} shares/s = {:.2} × verify_strict (target ≥ 0.4)",
        ratio(dleq_rate)
    );
    crate::report::against(
        "DLEQ verification (decryption share)",
        dleq_rate,
        "shares/s",
        strict,
        ratio(dleq_rate),
        "≥ 0.4",
    );
    println!(
        "decryption share production:            {make_rate:>10.0} shares/s = {:.2} × verify_strict (target ≥ 0.3)",
        ratio(make_rate)
    );
    crate::report::against(
        "decryption share production",
        make_rate,
        "shares/s",
        strict,
        ratio(make_rate),
        "≥ 0.3",
    );

    // DKG, n = 16, t = 9: what one trustee computes (its deal, then checking the other
    // 15 deals, opening its 15 shares, and Y, Y_j, x_j).
    let params = Params::new(16, 9).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cid = [9u8; 32];
    let es: Vec<Secret> = (1..=16)
        .map(|j| Secret(group::seeded_scalar(tags::SEED_KEY, &seed(100 + j), 0)))
        .collect();
    let keys: Vec<RistrettoPoint> = es.iter().map(|e| RistrettoPoint::mul_base(&e.0)).collect();
    let t = Instant::now();
    let mut deals = Vec::new();
    let mut own = Vec::new();
    for i in 1..=16 {
        let (d, s) = dkg::deal(&cid, params, i, &keys, &seed(200 + i))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        deals.push(d);
        own.push(s);
    }
    let deal_ms = t.elapsed().as_secs_f64() * 1000.0 / 16.0;
    let t = Instant::now();
    let j = 1u64;
    let mut mine = vec![own[0].own_share.clone()];
    for d in deals.iter().filter(|d| d.dealer != j) {
        dkg::check_dealing(&cid, params, d).map_err(|e| anyhow::anyhow!("{e}"))?;
        mine.push(dkg::open_share(&cid, d, j, &es[0].0).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    let x_j = dkg::secret_share(&mine);
    let _y = dkg::election_key(&deals);
    let y_1 = dkg::verification_key(&deals, j);
    anyhow::ensure!(RistrettoPoint::mul_base(&x_j.0) == y_1, "x_j matches Y_j");
    let receive_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    for d in &deals {
        dkg::check_dealing(&cid, params, d).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let _ = dkg::election_key(&deals);
    for j in 1..=16 {
        let _ = dkg::verification_key(&deals, j);
    }
    let audit_ms = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "DKG n = 16, t = 9, per trustee:         {:>10.1} ms (deal {deal_ms:.1} ms + check 15 deals and open 15 shares {receive_ms:.1} ms; target ≤ 50 ms)",
        deal_ms + receive_ms
    );
    crate::report::against(
        "DKG n = 16, t = 9, per trustee",
        deal_ms + receive_ms,
        "ms",
        50.0,
        (deal_ms + receive_ms) / 50.0,
        "≤ 1",
    );
    println!(
        "DKG n = 16, t = 9, public check:        {audit_ms:>10.1} ms (16 deals' proofs, Y and the 16 Y_j, as the audit does)"
    );
    crate::report::figure("DKG n = 16, t = 9, public check", audit_ms, "ms");
    Ok(())
}
