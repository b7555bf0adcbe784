//! The secret-ballot primitives (group, codec, ElGamal, proofs, DKG, recombination):
//! the published RFC 9496 vectors, the golden file `tests/data/v1/secret.json`
//! regenerated from fixed seeds and compared byte for byte, and the laws (proptest).
//!
//! The same file is recomputed independently from the specification with libsodium by
//! `tests/data/v1/secret_vectors.py` (PROTOCOL.md, "Secret ballots: group, encodings and
//! proofs"); that script needs Python and libsodium, so CI does not run it.

use std::collections::BTreeSet;
use std::path::PathBuf;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use palabre_core::dkg::{self, Complaint, Dealing, DecryptionShare, Judgement, Params, Secret};
use palabre_core::elgamal::Ciphertext;
use palabre_core::group::{self, B, GroupError, tags};
use palabre_core::proofs::{BallotContext, BallotPok, DleqProof, DleqStatement, SchnorrProof};
use palabre_core::sealed::{self, ColumnKind};
use proptest::prelude::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------- RFC 9496 appendix A

/// RFC 9496 §A.1: the encodings of i·B for i = 0..16.
const SMALL_MULTIPLES: [&str; 16] = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
    "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
    "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
    "da80862773358b466ffadfe0b3293ab3d9fd53c5ea6c955358f568322daf6a57",
    "e882b131016b52c1d3337080187cf768423efccbb517bb495ab812c4160ff44e",
    "f64746d3c92b13050ed8d80236a7f0007c3b3f962f5ba793d19a601ebb1df403",
    "44f53520926ec81fbd5a387845beb7df85a96a24ece18738bdcfa6a7822a176d",
    "903293d8f2287ebe10e2374dc1a53e0bc887e592699f02d077d5263cdd55601c",
    "02622ace8f7303a31cafc63f8fc48fdc16e1c8c8d234b2f0d6685282a9076031",
    "20706fd788b2720a1ed2a5dad4952b01f413bcf0e7564de8cdc816689e2db95f",
    "bce83f8ba5dd2fa572864c24ba1810f9522bc6004afe95877ac73241cafdab42",
    "e4549ee16b9aa03099ca208c67adafcafa4c3f3e4e5303de6026e3ca8ff84460",
    "aa52e000df2e16f55fb1032fc33bc42742dad6bd5a8fc0be0167436c5948501f",
    "46376b80f409b29dc2b5f6f0c52591990896e5716f41477cd30085ab7f10301e",
    "e0c418f7c8d9c4cdd7395b93ea124f3ad99021bb681dfc3302a9d99a2e53e64e",
];

/// RFC 9496 §A.2: encodings every decoder MUST refuse.
const BAD_ENCODINGS: [&str; 29] = [
    // Non-canonical field encodings.
    "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    // Negative field elements.
    "0100000000000000000000000000000000000000000000000000000000000000",
    "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ed57ffd8c914fb201471d1c3d245ce3c746fcbe63a3679d51b6a516ebebe0e20",
    "c34c4e1826e5d403b78e246e88aa051c36ccf0aafebffe137d148a2bf9104562",
    "c940e5a4404157cfb1628b108db051a8d439e1a421394ec4ebccb9ec92a8ac78",
    "47cfc5497c53dc8e61c91d17fd626ffb1c49e2bca94eed052281b510b1117a24",
    "f1c6165d33367351b0da8f6e4511010c68174a03b6581212c71c0e1d026c3c72",
    "87260f7a2f12495118360f02c26a470f450dadf34a413d21042b43b9d93e1309",
    // Non-square x².
    "26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
    "4eac077a713c57b4f4397629a4145982c661f48044dd3f96427d40b147d9742f",
    "de6a7b00deadc788eb6b6c8d20c0ae96c2f2019078fa604fee5b87d6e989ad7b",
    "bcab477be20861e01e4a0e295284146a510150d9817763caf1a6f4b422d67042",
    "2a292df7e32cababbd9de088d1d1abec9fc0440f637ed2fba145094dc14bea08",
    "f4a9e534fc0d216c44b218fa0c42d99635a0127ee2e53c712f70609649fdff22",
    "8268436f8c4126196cf64b3c7ddbda90746a378625f9813dd9b8457077256731",
    "2810e5cbc2cc4d4eece54f61c6f69758e289aa7ab440b3cbeaa21995c2f4232b",
    // Negative xy.
    "3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e",
    "a45fdc55c76448c049a1ab33f17023edfb2be3581e9c7aade8a6125215e04220",
    "d483fe813c6ba647ebbfd3ec41adca1c6130c2beeee9d9bf065c8d151c5f396e",
    "8a2e1d30050198c65a54483123960ccc38aef6848e1ec8f5f780e8523769ba32",
    "32888462f8b486c68ad7dd9610be5192bbeaf3b443951ac1a8118419d9fa097b",
    "227142501b9d4355ccba290404bde41575b037693cef1f438c47f8fbf35d1165",
    "5c37cc491da847cfeb9281d407efc41e15144c876e0170b499a96a22ed31e01e",
    "445425117cb8c90edcbc7c1cc0e74f747f2c1efa5630a967c64f287792a48a4b",
    // s = −1, which gives y = 0.
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

/// RFC 9496 §A.3: the one-way map (`from_uniform_bytes`) on 64-byte inputs. The first
/// seven inputs are SHA-512 of the labels below; the last four all map to one point.
const ONE_WAY_MAP: [(&str, &str); 11] = [
    (
        "5d1be09e3d0c82fc538112490e35701979d99e06ca3e2b5b54bffe8b4dc772c14d98b696a1bbfb5ca32c436cc61c16563790306c79eaca7705668b47dffe5bb6",
        "3066f82a1a747d45120d1740f14358531a8f04bbffe6a819f86dfe50f44a0a46",
    ),
    (
        "f116b34b8f17ceb56e8732a60d913dd10cce47a6d53bee9204be8b44f6678b270102a56902e2488c46120e9276cfe54638286b9e4b3cdb470b542d46c2068d38",
        "f26e5b6f7d362d2d2a94c5d0e7602cb4773c95a2e5c31a64f133189fa76ed61b",
    ),
    (
        "8422e1bbdaab52938b81fd602effb6f89110e1e57208ad12d9ad767e2e25510c27140775f9337088b982d83d7fcf0b2fa1edffe51952cbe7365e95c86eaf325c",
        "006ccd2a9e6867e6a2c5cea83d3302cc9de128dd2a9a57dd8ee7b9d7ffe02826",
    ),
    (
        "ac22415129b61427bf464e17baee8db65940c233b98afce8d17c57beeb7876c2150d15af1cb1fb824bbd14955f2b57d08d388aab431a391cfc33d5bafb5dbbaf",
        "f8f0c87cf237953c5890aec3998169005dae3eca1fbb04548c635953c817f92a",
    ),
    (
        "165d697a1ef3d5cf3c38565beefcf88c0f282b8e7dbd28544c483432f1cec7675debea8ebb4e5fe7d6f6e5db15f15587ac4d4d4a1de7191e0c1ca6664abcc413",
        "ae81e7dedf20a497e10c304a765c1767a42d6e06029758d2d7e8ef7cc4c41179",
    ),
    (
        "a836e6c9a9ca9f1e8d486273ad56a78c70cf18f0ce10abb1c7172ddd605d7fd2979854f47ae1ccf204a33102095b4200e5befc0465accc263175485f0e17ea5c",
        "e2705652ff9f5e44d3e841bf1c251cf7dddb77d140870d1ab2ed64f1a9ce8628",
    ),
    (
        "2cdc11eaeb95daf01189417cdddbf95952993aa9cb9c640eb5058d09702c74622c9965a697a3b345ec24ee56335b556e677b30e6f90ac77d781064f866a3c982",
        "80bd07262511cdde4863f8a7434cef696750681cb9510eea557088f76d9e5065",
    ),
    (
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff1200000000000000000000000000000000000000000000000000000000000000",
        "304282791023b73128d277bdcb5c7746ef2eac08dde9f2983379cb8e5ef0517f",
    ),
    (
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "304282791023b73128d277bdcb5c7746ef2eac08dde9f2983379cb8e5ef0517f",
    ),
    (
        "0000000000000000000000000000000000000000000000000000000000000080ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "304282791023b73128d277bdcb5c7746ef2eac08dde9f2983379cb8e5ef0517f",
    ),
    (
        "00000000000000000000000000000000000000000000000000000000000000001200000000000000000000000000000000000000000000000000000000000080",
        "304282791023b73128d277bdcb5c7746ef2eac08dde9f2983379cb8e5ef0517f",
    ),
];

/// The labels whose SHA-512 are the first seven inputs of [`ONE_WAY_MAP`].
const LABELS: [&str; 7] = [
    "Ristretto is traditionally a short shot of espresso coffee",
    "made with the normal amount of ground coffee but extracted with",
    "about half the amount of water in the same amount of time",
    "by using a finer grind.",
    "This produces a concentrated shot of coffee per volume.",
    "Just pulling a normal shot short will produce a weaker shot",
    "and is not a Ristretto as some believe.",
];

fn unhex<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).expect("test hex");
    out
}

#[test]
fn rfc9496_small_multiples_decode_and_encode() {
    let mut p = RistrettoPoint::default();
    for expected in SMALL_MULTIPLES {
        assert_eq!(group::point_hex(&p), expected);
        assert_eq!(group::point_from_hex(expected), Ok(p));
        p += B;
    }
}

#[test]
fn rfc9496_bad_encodings_are_bad_points() {
    for bad in BAD_ENCODINGS {
        assert_eq!(
            group::point_from_hex(bad),
            Err(GroupError::BadPoint),
            "{bad}"
        );
        let err = group::point_from_bytes(&unhex::<32>(bad)).expect_err("refused");
        assert_eq!(err.code(), "bad_point");
    }
}

#[test]
fn rfc9496_one_way_map() {
    use sha2::{Digest, Sha512};
    for (input, output) in ONE_WAY_MAP {
        let p = RistrettoPoint::from_uniform_bytes(&unhex::<64>(input));
        assert_eq!(group::point_hex(&p), output);
    }
    for (label, (input, _)) in LABELS.iter().zip(ONE_WAY_MAP) {
        assert_eq!(hex::encode(Sha512::digest(label.as_bytes())), input);
    }
}

#[test]
fn hex_forms_are_strict() {
    let b = group::point_hex(&B);
    assert_eq!(group::point_from_hex(&b[..62]), Err(GroupError::BadPoint));
    assert_eq!(
        group::point_from_hex(&b.to_uppercase()),
        Err(GroupError::BadPoint)
    );
    assert_eq!(
        group::scalar_from_hex(&"ff".repeat(32)),
        Err(GroupError::BadScalar)
    );
    assert_eq!(GroupError::BadScalar.code(), "bad_scalar");
    let ct = Ciphertext::encrypt(&B, &B, &Scalar::ONE);
    let text = ct.to_hex();
    assert_eq!(text.len(), 128);
    assert_eq!(Ciphertext::from_hex(&text), Ok(ct));
    let mut broken = text.clone();
    broken.replace_range(64..128, BAD_ENCODINGS[0]);
    assert_eq!(Ciphertext::from_hex(&broken), Err(GroupError::BadPoint));
}

// ---------------------------------------------------------------- fixed-seed world

fn seed(n: u8) -> [u8; 32] {
    [n; 32]
}

/// Stand-ins for 32-byte ids and keys (event ids, authority keys) in the vectors.
fn id(n: u8) -> [u8; 32] {
    let mut out = [n; 32];
    out[0] = 0x1d;
    out
}

const CID: u8 = 0xc1;

fn ph(p: &RistrettoPoint) -> String {
    group::point_hex(p)
}

fn sh(s: &Scalar) -> String {
    group::scalar_hex(s)
}

fn pair(c: &Scalar, s: &Scalar) -> Value {
    json!({"c": sh(c), "s": sh(s)})
}

struct Trustee {
    index: u64,
    authority: [u8; 32],
    e: Scalar,
    e_pub: RistrettoPoint,
    encryption_pok: SchnorrProof,
}

fn trustees(n: u64) -> Vec<Trustee> {
    (1..=n)
        .map(|index| {
            let s = seed(0x40 + index as u8);
            let e = group::seeded_scalar(tags::SEED_KEY, &s, 0);
            let authority = id(0xa0 + index as u8);
            Trustee {
                index,
                authority,
                e,
                e_pub: RistrettoPoint::mul_base(&e),
                encryption_pok: SchnorrProof::prove(&[&authority], &e, &s),
            }
        })
        .collect()
}

/// The 3-of-5 ceremony of the vectors: dealer 2 sends trustee 4 a wrong share (σ + 1),
/// trustee 4 complains (convicted); trustee 1 complains falsely about dealer 3 (void).
struct Ceremony {
    params: Params,
    trustees: Vec<Trustee>,
    deals: Vec<Dealing>,
    own: Vec<Secret>,
    complaints: Vec<(u64, Complaint, Judgement)>,
    qual: Vec<u64>,
}

fn deal_id(dealer: u64) -> [u8; 32] {
    id(0xd0 + dealer as u8)
}

fn ceremony() -> Ceremony {
    let cid = id(CID);
    let params = Params::new(5, 3).expect("3 of 5");
    let trustees = trustees(5);
    let keys: Vec<RistrettoPoint> = trustees.iter().map(|t| t.e_pub).collect();
    let mut deals = Vec::new();
    let mut own = Vec::new();
    for i in 1..=5 {
        let (mut dealing, secret) =
            dkg::deal(&cid, params, i, &keys, &seed(0x60 + i as u8)).expect("deal");
        if i == 2 {
            let share = dealing
                .shares
                .iter_mut()
                .find(|s| s.to == 4)
                .expect("share for 4");
            share.sigma += Scalar::ONE;
        }
        dkg::check_dealing(&cid, params, &dealing).expect("well-formed deal");
        deals.push(dealing);
        own.push(secret.own_share);
    }
    let mut complaints = Vec::new();
    // Trustee 4 finds dealer 2's share wrong and complains.
    let e4 = trustees[3].e;
    assert_eq!(
        dkg::open_share(&cid, &deals[1], 4, &e4),
        Err(dkg::DkgError::BadShare)
    );
    let c = dkg::complain(&cid, &deal_id(2), &deals[1], 4, &e4, &seed(0x84)).expect("complaint");
    let j = dkg::judge_complaint(&cid, &deal_id(2), &deals[1], &c, &trustees[3].e_pub)
        .expect("valid complaint");
    complaints.push((2, c, j));
    // Trustee 1 complains about dealer 3's good share: void.
    let e1 = trustees[0].e;
    let c = dkg::complain(&cid, &deal_id(3), &deals[2], 1, &e1, &seed(0x81)).expect("complaint");
    let j = dkg::judge_complaint(&cid, &deal_id(3), &deals[2], &c, &trustees[0].e_pub)
        .expect("valid complaint");
    complaints.push((3, c, j));
    let valid: BTreeSet<u64> = (1..=5).collect();
    let convicted: BTreeSet<u64> = complaints
        .iter()
        .filter(|(_, _, j)| *j == Judgement::Convicted)
        .map(|(dealer, _, _)| *dealer)
        .collect();
    let qual = dkg::qual(&valid, &convicted);
    Ceremony {
        params,
        trustees,
        deals,
        own,
        complaints,
        qual,
    }
}

impl Ceremony {
    fn qual_deals(&self) -> impl Iterator<Item = &Dealing> + Clone {
        self.deals.iter().filter(|d| self.qual.contains(&d.dealer))
    }

    fn election_key(&self) -> RistrettoPoint {
        dkg::election_key(self.qual_deals())
    }

    /// x_j from the shares j opened (its own included).
    fn x(&self, j: u64) -> Secret {
        let cid = id(CID);
        let e_j = self.trustees[j as usize - 1].e;
        let shares: Vec<Secret> = self
            .qual_deals()
            .map(|d| {
                if d.dealer == j {
                    self.own[j as usize - 1].clone()
                } else {
                    dkg::open_share(&cid, d, j, &e_j).expect("QUAL shares open")
                }
            })
            .collect();
        dkg::secret_share(&shares)
    }
}

fn deal_json(d: &Dealing) -> Value {
    json!({
        "dealer": d.dealer,
        "id": hex::encode(deal_id(d.dealer)),
        "commitments": d.commitments.iter().map(ph).collect::<Vec<_>>(),
        "pok": pair(&d.pok.c, &d.pok.s),
        "shares": d.shares.iter().map(|s| json!({"to": s.to, "r": ph(&s.r), "sigma": sh(&s.sigma)})).collect::<Vec<_>>(),
    })
}

fn secret_vectors() -> Value {
    let cid = id(CID);
    let hs_rows: Vec<Value> = [
        (tags::DLEQ, vec![]),
        (tags::BALLOT_POK, vec![cid.to_vec()]),
        (
            tags::DKG_SHARE,
            vec![cid.to_vec(), 7u64.to_be_bytes().to_vec()],
        ),
    ]
    .iter()
    .map(|(tag, parts)| {
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        json!({
            "tag": String::from_utf8(tag.to_vec()).expect("ASCII tag"),
            "parts": parts.iter().map(hex::encode).collect::<Vec<_>>(),
            "scalar": sh(&group::hs(tag, &refs)),
        })
    })
    .collect();

    let mut h_label = cid.to_vec();
    h_label.extend_from_slice(b"shuffle-h");
    let gen_rows: Vec<Value> = [(b"".to_vec(), 0u64), (h_label.clone(), 0), (h_label.clone(), 1), (h_label, 2)]
        .iter()
        .map(|(label, i)| json!({"label": hex::encode(label), "i": i, "point": ph(&group::r#gen(label, *i))}))
        .collect();

    let seeded_rows: Vec<Value> = [
        (tags::SEED_ENCRYPT, 0u64),
        (tags::SEED_ENCRYPT, 1),
        (tags::SEED_NONCE, 0),
    ]
    .iter()
    .map(|(tag, i)| {
        json!({
            "tag": String::from_utf8(tag.to_vec()).expect("ASCII tag"),
            "seed": hex::encode(seed(1)),
            "i": i,
            "scalar": sh(&group::seeded_scalar(tag, &seed(1), *i)),
        })
    })
    .collect();

    let ell_minus_1 = -Scalar::ONE;
    let scalars = json!({
        "canonical": [sh(&Scalar::ZERO), sh(&Scalar::ONE), sh(&ell_minus_1)],
        "non_canonical": [
            "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010",
            "eed3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010",
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        ],
    });

    let payloads: Vec<Vec<u8>> = vec![
        vec![],
        vec![1],
        vec![2],
        vec![3],
        b"palabre".to_vec(),
        vec![0xff; 30],
        (0..30).collect(),
    ];
    let codec_rows: Vec<Value> = payloads
        .iter()
        .map(|p| {
            let e = sealed::encode_payload(p).expect("encodes");
            json!({"payload": hex::encode(p), "ctr": e.ctr, "point": ph(&e.point)})
        })
        .collect();
    // Points that are not valid plaintexts: a decodable larger ctr, a last byte set.
    let mut invalid = Vec::new();
    for p in &payloads {
        let e = sealed::encode_payload(p).expect("encodes");
        let mut padded = [0u8; 30];
        padded[..p.len()].copy_from_slice(p);
        if let Some(ctr) = (e.ctr + 1..=sealed::MAX_CTR).find(|c| {
            let mut s = [0u8; 32];
            s[0] = 2 * c;
            s[1..31].copy_from_slice(&padded);
            group::point_from_bytes(&s).is_ok()
        }) {
            let mut s = [0u8; 32];
            s[0] = 2 * ctr;
            s[1..31].copy_from_slice(&padded);
            invalid.push(json!({"point": hex::encode(s), "why": "not_smallest_ctr"}));
            break;
        }
    }
    invalid.push(json!({"point": SMALL_MULTIPLES[1], "why": "last_byte_not_zero"}));

    let x = group::seeded_scalar(tags::SEED_KEY, &seed(2), 0);
    let y = RistrettoPoint::mul_base(&x);
    let m = sealed::encode_payload(b"palabre").expect("encodes").point;
    let r = group::seeded_scalar(tags::SEED_ENCRYPT, &seed(2), 0);
    let ct = Ciphertext::encrypt(&y, &m, &r);
    let r2 = group::seeded_scalar(tags::SEED_ENCRYPT, &seed(2), 1);
    let elgamal = json!({
        "secret_key": sh(&x), "public_key": ph(&y), "plaintext": ph(&m), "r": sh(&r),
        "ciphertext": ct.to_hex(), "rerandomize_r": sh(&r2),
        "rerandomized": ct.rerandomize(&y, &r2).to_hex(),
    });

    let authority = id(0xa1);
    let pok = SchnorrProof::prove(&[&authority], &x, &seed(3));
    let schnorr = json!({
        "tag": "palabre/v1/dkg-pok\n", "context": [hex::encode(authority)],
        "secret": sh(&x), "public": ph(&y), "seed": hex::encode(seed(3)),
        "proof": pair(&pok.c, &pok.s),
    });

    let ctx = BallotContext {
        consultation: cid,
        layout: id(0x1a),
        author: id(0xb0),
    };
    let plaintexts = vec![
        sealed::encode_column(ColumnKind::YesNoAbstain, 1).expect("yes"),
        sealed::encode_column(ColumnKind::YesNoAbstain, 3).expect("abstain"),
        sealed::encode_column(ColumnKind::MajorityJudgment { n_grades: 5 }, 4).expect("grade"),
    ];
    let sealing = sealed::seal(&y, &ctx, &plaintexts, &seed(4));
    let ballot = json!({
        "consultation": hex::encode(ctx.consultation), "layout": hex::encode(ctx.layout),
        "author": hex::encode(ctx.author), "election_key": ph(&y), "seed": hex::encode(seed(4)),
        "plaintexts": plaintexts.iter().map(ph).collect::<Vec<_>>(),
        "randomness": sealing.randomness.iter().map(sh).collect::<Vec<_>>(),
        "ciphertexts": sealing.ciphertexts.iter().map(Ciphertext::to_hex).collect::<Vec<_>>(),
        "pok": {"c": sh(&sealing.pok.c), "s": sealing.pok.s.iter().map(sh).collect::<Vec<_>>()},
    });

    let row: Vec<bool> = (0..250).map(|i| i % 3 == 1 || i == 249).collect();
    let row_points = sealed::encode_row(&row).expect("encodes");
    let row_json = json!({
        "columns": 250,
        "selected": row.iter().enumerate().filter(|(_, s)| **s).map(|(i, _)| i).collect::<Vec<_>>(),
        "points": row_points.iter().map(ph).collect::<Vec<_>>(),
    });

    let final_id = id(0xf1);
    let q = ct.alpha;
    let d = x * q;
    let st = DleqStatement { p: B, x: y, q, d };
    let dleq_proof = DleqProof::prove(&[&cid, &final_id], &st, &x, &seed(5));
    let dleq = json!({
        "context": [hex::encode(cid), hex::encode(final_id)], "secret": sh(&x),
        "p": ph(&B), "x": ph(&y), "q": ph(&q), "d": ph(&d), "seed": hex::encode(seed(5)),
        "proof": pair(&dleq_proof.c, &dleq_proof.s),
    });

    let cer = ceremony();
    let big_y = cer.election_key();
    let dkg_json = json!({
        "consultation": hex::encode(cid), "n": cer.params.n, "t": cer.params.t,
        "trustees": cer.trustees.iter().map(|t| json!({
            "index": t.index, "authority": hex::encode(t.authority),
            "key_seed": hex::encode(seed(0x40 + t.index as u8)),
            "encryption_secret": sh(&t.e), "encryption_key": ph(&t.e_pub),
            "encryption_pok": pair(&t.encryption_pok.c, &t.encryption_pok.s),
            "deal_seed": hex::encode(seed(0x60 + t.index as u8)),
        })).collect::<Vec<_>>(),
        "deals": cer.deals.iter().map(deal_json).collect::<Vec<_>>(),
        "bad_share": {"dealer": 2, "to": 4, "how": "sigma + 1"},
        "complaints": cer.complaints.iter().map(|(dealer, c, j)| json!({
            "deal": hex::encode(deal_id(*dealer)), "dealer": dealer, "complainer": c.complainer,
            "seed": hex::encode(seed(0x80 + c.complainer as u8)),
            "d": ph(&c.d), "proof": pair(&c.proof.c, &c.proof.s),
            "judgement": match j { Judgement::Convicted => "convicted", Judgement::Void => "void" },
        })).collect::<Vec<_>>(),
        "qual": cer.qual,
        "election_key": ph(&big_y),
        "verification_keys": cer.qual.iter().map(|j| json!({"trustee": j, "key": ph(&dkg::verification_key(cer.qual_deals(), *j))})).collect::<Vec<_>>(),
        "secret_shares": cer.qual.iter().map(|j| json!({"trustee": j, "share": sh(&cer.x(*j).0)})).collect::<Vec<_>>(),
    });

    let message = sealed::encode_payload(b"secret ballot")
        .expect("encodes")
        .point;
    let r = group::seeded_scalar(tags::SEED_ENCRYPT, &seed(6), 0);
    let sealed_ct = Ciphertext::encrypt(&big_y, &message, &r);
    let shares: Vec<(u64, DecryptionShare)> = cer
        .qual
        .iter()
        .map(|j| {
            (
                *j,
                DecryptionShare::create(
                    &[&cid, &final_id],
                    &sealed_ct.alpha,
                    &cer.x(*j),
                    &seed(0x90 + *j as u8),
                ),
            )
        })
        .collect();
    let subsets: Vec<Value> = [vec![1u64, 3, 4], vec![3, 4, 5]]
        .iter()
        .map(|subset| {
            let picked: Vec<(u64, RistrettoPoint)> = shares
                .iter()
                .filter(|(j, _)| subset.contains(j))
                .map(|(j, s)| (*j, s.d))
                .collect();
            let m = dkg::recombine(cer.params, &sealed_ct.beta, &picked).expect("recombines");
            json!({
                "trustees": subset,
                "lagrange": subset.iter().map(|j| sh(&dkg::lagrange(subset, *j))).collect::<Vec<_>>(),
                "plaintext": ph(&m),
            })
        })
        .collect();
    let decryption = json!({
        "context": [hex::encode(cid), hex::encode(final_id)],
        "plaintext": ph(&message), "payload": hex::encode(b"secret ballot"), "r": sh(&r),
        "ciphertext": sealed_ct.to_hex(),
        "shares": shares.iter().map(|(j, s)| json!({
            "trustee": j, "seed": hex::encode(seed(0x90 + *j as u8)),
            "d": ph(&s.d), "proof": pair(&s.proof.c, &s.proof.s),
        })).collect::<Vec<_>>(),
        "subsets": subsets,
    });

    json!({
        "description": "Secret-ballot primitives (PROTOCOL.md, \"Secret ballots: group, encodings and proofs\"). Seeds are fixed test values; ids and keys are 32-byte stand-ins.",
        "rfc9496": {
            "small_multiples": SMALL_MULTIPLES,
            "bad_encodings": BAD_ENCODINGS,
            "one_way_map": ONE_WAY_MAP.iter().map(|(i, o)| json!({"input": i, "output": o})).collect::<Vec<_>>(),
            "labels": LABELS,
        },
        "hs": hs_rows,
        "gen": gen_rows,
        "seeded_scalar": seeded_rows,
        "scalars": scalars,
        "codec": codec_rows,
        "codec_invalid": invalid,
        "row": row_json,
        "elgamal": elgamal,
        "schnorr": schnorr,
        "ballot": ballot,
        "dleq": dleq,
        "dkg": dkg_json,
        "decryption": decryption,
    })
}

fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/v1")
        .join(name)
}

#[test]
fn secret_json_is_reproduced_byte_for_byte() {
    let text = serde_json::to_string_pretty(&secret_vectors()).expect("vectors serialize") + "\n";
    let path = data_path("secret.json");
    match std::fs::read_to_string(&path) {
        Ok(on_disk) => assert!(
            on_disk == text,
            "secret.json differs from what the code produces: vectors are never edited"
        ),
        Err(_) if std::env::var_os("PALABRE_WRITE_NEW_VECTORS").is_some() => {
            std::fs::write(&path, text).expect("write new vector file");
        }
        Err(e) => panic!("secret.json is missing ({e}); run with PALABRE_WRITE_NEW_VECTORS=1"),
    }
}

// ---------------------------------------------------------------- reading the file back

fn field<'v>(v: &'v Value, name: &str) -> &'v Value {
    v.get(name)
        .unwrap_or_else(|| panic!("vector member {name}"))
}

fn s_of(v: &Value) -> &str {
    v.as_str().expect("vector string")
}

fn point(v: &Value) -> RistrettoPoint {
    group::point_from_hex(s_of(v)).expect("vector point")
}

fn scalar(v: &Value) -> Scalar {
    group::scalar_from_hex(s_of(v)).expect("vector scalar")
}

fn bytes32(v: &Value) -> [u8; 32] {
    unhex::<32>(s_of(v))
}

fn proof_pair(v: &Value) -> (Scalar, Scalar) {
    (scalar(field(v, "c")), scalar(field(v, "s")))
}

/// The committed file, checked with the verifiers (not with the provers that wrote it).
#[test]
fn secret_json_verifies() {
    let text = std::fs::read_to_string(data_path("secret.json")).expect("secret.json");
    let v: Value = serde_json::from_str(&text).expect("JSON");

    for row in field(&v, "codec").as_array().expect("rows") {
        let payload = hex::decode(s_of(field(row, "payload"))).expect("hex");
        let mut padded = [0u8; 30];
        padded[..payload.len()].copy_from_slice(&payload);
        assert_eq!(
            sealed::decode_payload(&point(field(row, "point"))),
            Some(padded)
        );
    }
    for row in field(&v, "codec_invalid").as_array().expect("rows") {
        assert_eq!(sealed::decode_payload(&point(field(row, "point"))), None);
    }
    for row in field(&v, "scalars")
        .get("non_canonical")
        .and_then(Value::as_array)
        .expect("rows")
    {
        assert_eq!(
            group::scalar_from_hex(s_of(row)),
            Err(GroupError::BadScalar)
        );
    }

    let eg = field(&v, "elgamal");
    let ct = Ciphertext::from_hex(s_of(field(eg, "ciphertext"))).expect("ciphertext");
    assert_eq!(
        ct.decrypt(&scalar(field(eg, "secret_key"))),
        point(field(eg, "plaintext"))
    );

    let sc = field(&v, "schnorr");
    let (c, s) = proof_pair(field(sc, "proof"));
    let ctx0 = bytes32(&field(sc, "context")[0]);
    let pok = SchnorrProof { c, s };
    pok.verify(&[&ctx0], &point(field(sc, "public")))
        .expect("schnorr verifies");
    assert!(
        pok.verify(&[&id(0xa2)], &point(field(sc, "public")))
            .is_err()
    );

    let b = field(&v, "ballot");
    let ctx = BallotContext {
        consultation: bytes32(field(b, "consultation")),
        layout: bytes32(field(b, "layout")),
        author: bytes32(field(b, "author")),
    };
    let cts: Vec<Ciphertext> = field(b, "ciphertexts")
        .as_array()
        .expect("cts")
        .iter()
        .map(|c| Ciphertext::from_hex(s_of(c)).expect("ciphertext"))
        .collect();
    let pok = BallotPok {
        c: scalar(field(field(b, "pok"), "c")),
        s: field(field(b, "pok"), "s")
            .as_array()
            .expect("s")
            .iter()
            .map(scalar)
            .collect(),
    };
    pok.verify(&ctx, &cts).expect("ballot proof verifies");
    let copied = BallotContext {
        author: id(0xb1),
        ..ctx
    };
    assert_eq!(
        pok.verify(&copied, &cts),
        Err(palabre_core::proofs::ProofError::BadPok)
    );

    let d = field(&v, "dleq");
    let (c, s) = proof_pair(field(d, "proof"));
    let ctx_parts: Vec<[u8; 32]> = field(d, "context")
        .as_array()
        .expect("ctx")
        .iter()
        .map(bytes32)
        .collect();
    let st = DleqStatement {
        p: point(field(d, "p")),
        x: point(field(d, "x")),
        q: point(field(d, "q")),
        d: point(field(d, "d")),
    };
    DleqProof { c, s }
        .verify(&[&ctx_parts[0], &ctx_parts[1]], &st)
        .expect("dleq verifies");

    let g = field(&v, "dkg");
    let cid = bytes32(field(g, "consultation"));
    let params = Params::new(
        field(g, "n").as_u64().expect("n"),
        field(g, "t").as_u64().expect("t"),
    )
    .expect("params");
    let keys: Vec<RistrettoPoint> = field(g, "trustees")
        .as_array()
        .expect("trustees")
        .iter()
        .map(|t| {
            let e = point(field(t, "encryption_key"));
            let (c, s) = proof_pair(field(t, "encryption_pok"));
            SchnorrProof { c, s }
                .verify(&[&bytes32(field(t, "authority"))], &e)
                .expect("encryption key proof");
            e
        })
        .collect();
    let deals: Vec<Dealing> = field(g, "deals")
        .as_array()
        .expect("deals")
        .iter()
        .map(|d| {
            let (c, s) = proof_pair(field(d, "pok"));
            Dealing {
                dealer: field(d, "dealer").as_u64().expect("dealer"),
                commitments: field(d, "commitments")
                    .as_array()
                    .expect("A")
                    .iter()
                    .map(point)
                    .collect(),
                pok: SchnorrProof { c, s },
                shares: field(d, "shares")
                    .as_array()
                    .expect("shares")
                    .iter()
                    .map(|s| dkg::EncryptedShare {
                        to: field(s, "to").as_u64().expect("to"),
                        r: point(field(s, "r")),
                        sigma: scalar(field(s, "sigma")),
                    })
                    .collect(),
            }
        })
        .collect();
    for d in &deals {
        dkg::check_dealing(&cid, params, d).expect("deal is well formed");
    }
    let mut convicted = BTreeSet::new();
    for c in field(g, "complaints").as_array().expect("complaints") {
        let dealer = field(c, "dealer").as_u64().expect("dealer");
        let complainer = field(c, "complainer").as_u64().expect("complainer");
        let (pc, ps) = proof_pair(field(c, "proof"));
        let complaint = Complaint {
            complainer,
            d: point(field(c, "d")),
            proof: DleqProof { c: pc, s: ps },
        };
        let judgement = dkg::judge_complaint(
            &cid,
            &bytes32(field(c, "deal")),
            &deals[dealer as usize - 1],
            &complaint,
            &keys[complainer as usize - 1],
        )
        .expect("complaint proof verifies");
        let expected = s_of(field(c, "judgement"));
        assert_eq!(expected == "convicted", judgement == Judgement::Convicted);
        if judgement == Judgement::Convicted {
            convicted.insert(dealer);
        }
    }
    let qual = dkg::qual(&(1..=params.n).collect(), &convicted);
    let expected_qual: Vec<u64> = field(g, "qual")
        .as_array()
        .expect("qual")
        .iter()
        .map(|q| q.as_u64().expect("index"))
        .collect();
    assert_eq!(qual, expected_qual);
    let qual_deals: Vec<&Dealing> = deals.iter().filter(|d| qual.contains(&d.dealer)).collect();
    let y = dkg::election_key(qual_deals.iter().copied());
    assert_eq!(y, point(field(g, "election_key")));

    let dec = field(&v, "decryption");
    let ctx_parts: Vec<[u8; 32]> = field(dec, "context")
        .as_array()
        .expect("ctx")
        .iter()
        .map(bytes32)
        .collect();
    let ct = Ciphertext::from_hex(s_of(field(dec, "ciphertext"))).expect("ciphertext");
    let mut good = Vec::new();
    for share in field(dec, "shares").as_array().expect("shares") {
        let j = field(share, "trustee").as_u64().expect("trustee");
        let (c, s) = proof_pair(field(share, "proof"));
        let ds = DecryptionShare {
            d: point(field(share, "d")),
            proof: DleqProof { c, s },
        };
        let y_j = dkg::verification_key(qual_deals.iter().copied(), j);
        ds.verify(&[&ctx_parts[0], &ctx_parts[1]], &ct.alpha, &y_j)
            .expect("decryption share verifies");
        good.push((j, ds.d));
    }
    let message = point(field(dec, "plaintext"));
    for subset in field(dec, "subsets").as_array().expect("subsets") {
        let members: Vec<u64> = field(subset, "trustees")
            .as_array()
            .expect("t")
            .iter()
            .map(|j| j.as_u64().expect("j"))
            .collect();
        let picked: Vec<(u64, RistrettoPoint)> = good
            .iter()
            .filter(|(j, _)| members.contains(j))
            .copied()
            .collect();
        let m = dkg::recombine(params, &ct.beta, &picked).expect("recombines");
        assert_eq!(m, message);
        assert_eq!(m, point(field(subset, "plaintext")));
    }
    assert_eq!(
        sealed::decode_payload(&message).map(|p| p[..13].to_vec()),
        Some(b"secret ballot".to_vec())
    );
}

// ---------------------------------------------------------------- laws

/// Flips every byte of `bytes` with several masks; `accepts` must hold for the original
/// and fail for every flip.
fn every_flip_refused(what: &str, bytes: &[u8], accepts: impl Fn(&[u8]) -> bool) {
    assert!(accepts(bytes), "{what}: the valid transcript is accepted");
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut flipped = bytes.to_vec();
            flipped[i] ^= mask;
            assert!(
                !accepts(&flipped),
                "{what}: byte {i} ^ {mask:#04x} accepted"
            );
        }
    }
}

fn take<const N: usize>(bytes: &[u8], at: &mut usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[*at..*at + N]);
    *at += N;
    out
}

fn take_point(bytes: &[u8], at: &mut usize) -> Result<RistrettoPoint, GroupError> {
    group::point_from_bytes(&take::<32>(bytes, at))
}

fn take_scalar(bytes: &[u8], at: &mut usize) -> Result<Scalar, GroupError> {
    group::scalar_from_bytes(&take::<32>(bytes, at))
}

#[test]
fn a_flipped_byte_of_a_schnorr_transcript_is_refused() {
    let x = group::seeded_scalar(tags::SEED_KEY, &seed(9), 0);
    let ctx = id(0xa9);
    let pok = SchnorrProof::prove(&[&ctx], &x, &seed(9));
    let mut bytes = ctx.to_vec();
    bytes.extend(group::point_bytes(&RistrettoPoint::mul_base(&x)));
    bytes.extend(palabre_core::proofs::pair_bytes(&pok.c, &pok.s));
    every_flip_refused("schnorr", &bytes, |b| {
        let check = || -> Result<(), Box<dyn std::error::Error>> {
            let mut at = 0;
            let ctx = take::<32>(b, &mut at);
            let x_pub = take_point(b, &mut at)?;
            let c = take_scalar(b, &mut at)?;
            let s = take_scalar(b, &mut at)?;
            SchnorrProof { c, s }.verify(&[&ctx], &x_pub)?;
            Ok(())
        };
        check().is_ok()
    });
}

#[test]
fn a_flipped_byte_of_a_sealed_ballot_is_refused() {
    let y = RistrettoPoint::mul_base(&group::seeded_scalar(tags::SEED_KEY, &seed(10), 0));
    let ctx = BallotContext {
        consultation: id(CID),
        layout: id(0x1a),
        author: id(0xb0),
    };
    let plaintexts = sealed::encode_row(&[true, false, true]).expect("row");
    let plaintexts = [
        plaintexts[0],
        sealed::encode_column(ColumnKind::Support, 1).expect("1"),
    ];
    let sealing = sealed::seal(&y, &ctx, &plaintexts, &seed(10));
    let mut bytes = Vec::new();
    bytes.extend(ctx.consultation);
    bytes.extend(ctx.layout);
    bytes.extend(ctx.author);
    for ct in &sealing.ciphertexts {
        bytes.extend(ct.to_bytes());
    }
    bytes.extend(sealing.pok.c.to_bytes());
    for s in &sealing.pok.s {
        bytes.extend(s.to_bytes());
    }
    every_flip_refused("ballot", &bytes, |b| {
        let check = || -> Result<(), Box<dyn std::error::Error>> {
            let mut at = 0;
            let ctx = BallotContext {
                consultation: take::<32>(b, &mut at),
                layout: take::<32>(b, &mut at),
                author: take::<32>(b, &mut at),
            };
            let cts = (0..2)
                .map(|_| Ciphertext::from_bytes(&take::<64>(b, &mut at)))
                .collect::<Result<Vec<_>, _>>()?;
            let c = take_scalar(b, &mut at)?;
            let s = (0..2)
                .map(|_| take_scalar(b, &mut at))
                .collect::<Result<Vec<_>, _>>()?;
            BallotPok { c, s }.verify(&ctx, &cts)?;
            Ok(())
        };
        check().is_ok()
    });
}

#[test]
fn a_flipped_byte_of_a_decryption_share_is_refused() {
    let x = Secret(group::seeded_scalar(tags::SEED_KEY, &seed(11), 0));
    let y_j = RistrettoPoint::mul_base(&x.0);
    let alpha = RistrettoPoint::mul_base(&group::seeded_scalar(tags::SEED_ENCRYPT, &seed(11), 0));
    let (cid, final_id) = (id(CID), id(0xf1));
    let share = DecryptionShare::create(&[&cid, &final_id], &alpha, &x, &seed(11));
    let mut bytes = Vec::new();
    for part in [
        cid,
        final_id,
        group::point_bytes(&alpha),
        group::point_bytes(&y_j),
        group::point_bytes(&share.d),
    ] {
        bytes.extend(part);
    }
    bytes.extend(palabre_core::proofs::pair_bytes(
        &share.proof.c,
        &share.proof.s,
    ));
    every_flip_refused("decryption share", &bytes, |b| {
        let check = || -> Result<(), Box<dyn std::error::Error>> {
            let mut at = 0;
            let cid = take::<32>(b, &mut at);
            let final_id = take::<32>(b, &mut at);
            let alpha = take_point(b, &mut at)?;
            let y_j = take_point(b, &mut at)?;
            let d = take_point(b, &mut at)?;
            let c = take_scalar(b, &mut at)?;
            let s = take_scalar(b, &mut at)?;
            DecryptionShare {
                d,
                proof: DleqProof { c, s },
            }
            .verify(&[&cid, &final_id], &alpha, &y_j)?;
            Ok(())
        };
        check().is_ok()
    });
}

/// A deal is accepted when admission's check passes and every receiver opens its share
/// (a share that does not open leads to a complaint that convicts the dealer).
#[test]
fn a_flipped_byte_of_a_deal_is_refused() {
    let cid = id(CID);
    let params = Params::new(3, 2).expect("2 of 3");
    let trustees = trustees(3);
    let keys: Vec<RistrettoPoint> = trustees.iter().map(|t| t.e_pub).collect();
    let (dealing, _) = dkg::deal(&cid, params, 1, &keys, &seed(12)).expect("deal");
    let mut bytes = cid.to_vec();
    for a in &dealing.commitments {
        bytes.extend(group::point_bytes(a));
    }
    bytes.extend(palabre_core::proofs::pair_bytes(
        &dealing.pok.c,
        &dealing.pok.s,
    ));
    for s in &dealing.shares {
        bytes.extend(group::point_bytes(&s.r));
        bytes.extend(s.sigma.to_bytes());
    }
    every_flip_refused("deal", &bytes, |b| {
        let check = || -> Result<(), Box<dyn std::error::Error>> {
            let mut at = 0;
            let cid = take::<32>(b, &mut at);
            let commitments = (0..2)
                .map(|_| take_point(b, &mut at))
                .collect::<Result<Vec<_>, _>>()?;
            let c = take_scalar(b, &mut at)?;
            let s = take_scalar(b, &mut at)?;
            let mut shares = Vec::new();
            for to in [2, 3] {
                let r = take_point(b, &mut at)?;
                let sigma = take_scalar(b, &mut at)?;
                shares.push(dkg::EncryptedShare { to, r, sigma });
            }
            let d = Dealing {
                dealer: 1,
                commitments,
                pok: SchnorrProof { c, s },
                shares,
            };
            dkg::check_dealing(&cid, params, &d)?;
            for j in [2u64, 3] {
                dkg::open_share(&cid, &d, j, &trustees[j as usize - 1].e)?;
            }
            Ok(())
        };
        check().is_ok()
    });
}

#[test]
fn a_flipped_byte_of_a_complaint_is_refused_or_changes_nothing() {
    // A complaint is a transcript too: any flip makes its proof fail (refused).
    let cer = ceremony();
    let cid = id(CID);
    let (dealer, complaint, _) = cer.complaints[0];
    let mut bytes = deal_id(dealer).to_vec();
    bytes.extend(group::point_bytes(&complaint.d));
    bytes.extend(palabre_core::proofs::pair_bytes(
        &complaint.proof.c,
        &complaint.proof.s,
    ));
    let e_pub = cer.trustees[complaint.complainer as usize - 1].e_pub;
    every_flip_refused("complaint", &bytes, |b| {
        let check = || -> Result<(), Box<dyn std::error::Error>> {
            let mut at = 0;
            let deal = take::<32>(b, &mut at);
            let d = take_point(b, &mut at)?;
            let c = take_scalar(b, &mut at)?;
            let s = take_scalar(b, &mut at)?;
            let complaint = Complaint {
                complainer: complaint.complainer,
                d,
                proof: DleqProof { c, s },
            };
            dkg::judge_complaint(
                &cid,
                &deal,
                &cer.deals[dealer as usize - 1],
                &complaint,
                &e_pub,
            )?;
            Ok(())
        };
        check().is_ok()
    });
}

#[test]
fn every_subset_of_qual_of_the_ceremony_recombines_the_same() {
    let cer = ceremony();
    assert_eq!(cer.qual, vec![1, 3, 4, 5]);
    let y = cer.election_key();
    let m = sealed::encode_payload(b"any").expect("encodes").point;
    let ct = Ciphertext::encrypt(&y, &m, &Scalar::from(77u64));
    let shares: Vec<(u64, RistrettoPoint)> = cer
        .qual
        .iter()
        .map(|j| (*j, cer.x(*j).0 * ct.alpha))
        .collect();
    for mask in 0u32..16 {
        let subset: Vec<(u64, RistrettoPoint)> = shares
            .iter()
            .enumerate()
            .filter(|(k, _)| mask & (1 << k) != 0)
            .map(|(_, s)| *s)
            .collect();
        let got = dkg::recombine(cer.params, &ct.beta, &subset);
        if subset.len() >= 3 {
            assert_eq!(got, Ok(m), "subset {mask:04b}");
        } else {
            assert_eq!(got, Err(dkg::DkgError::TooFewShares));
        }
    }
    // The secret key is never assembled, but the shares are consistent with Y.
    for j in &cer.qual {
        assert_eq!(
            RistrettoPoint::mul_base(&cer.x(*j).0),
            dkg::verification_key(cer.qual_deals(), *j)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn decrypt_inverts_encrypt(key in any::<[u8; 32]>(), r in any::<[u8; 32]>(), payload in prop::collection::vec(any::<u8>(), 0..=30)) {
        let x = group::seeded_scalar(tags::SEED_KEY, &key, 0);
        let y = RistrettoPoint::mul_base(&x);
        let m = sealed::encode_payload(&payload).expect("encodes").point;
        let r = group::seeded_scalar(tags::SEED_ENCRYPT, &r, 0);
        let ct = Ciphertext::encrypt(&y, &m, &r);
        prop_assert_eq!(ct.decrypt(&x), m);
        prop_assert_eq!(Ciphertext::from_bytes(&ct.to_bytes()), Ok(ct));
        prop_assert_eq!(ct.rerandomize(&y, &r).decrypt(&x), m);
    }

    #[test]
    fn the_codec_round_trips(payload in prop::collection::vec(any::<u8>(), 0..=30)) {
        let e = sealed::encode_payload(&payload).expect("encodes");
        let mut padded = [0u8; 30];
        padded[..payload.len()].copy_from_slice(&payload);
        prop_assert_eq!(sealed::decode_payload(&e.point), Some(padded));
        let s = group::point_bytes(&e.point);
        prop_assert_eq!(s[0], 2 * e.ctr);
        prop_assert_eq!(s[31], 0);
    }

    #[test]
    fn rows_round_trip(selected in prop::collection::vec(any::<bool>(), 0..=720)) {
        let points = sealed::encode_row(&selected).expect("encodes");
        prop_assert_eq!(points.len(), sealed::row_elements(selected.len()));
        prop_assert_eq!(sealed::decode_row(selected.len(), &points), Some(selected));
    }

    #[test]
    fn every_t_subset_recombines_the_same(n in 2u64..=6, t_off in 0u64..5, seed_byte in any::<u8>(), payload in prop::collection::vec(any::<u8>(), 0..=30)) {
        let t = 2 + t_off % (n - 1);
        let params = Params::new(n, t).expect("params");
        let cid = id(seed_byte);
        let es: Vec<Scalar> = (1..=n).map(|j| group::seeded_scalar(tags::SEED_KEY, &[seed_byte; 32], j)).collect();
        let keys: Vec<RistrettoPoint> = es.iter().map(RistrettoPoint::mul_base).collect();
        let mut deals = Vec::new();
        let mut own = Vec::new();
        for i in 1..=n {
            let mut s = [seed_byte; 32];
            s[0] = i as u8;
            let (d, secret) = dkg::deal(&cid, params, i, &keys, &s).expect("deal");
            dkg::check_dealing(&cid, params, &d).expect("valid deal");
            deals.push(d);
            own.push(secret.own_share);
        }
        let y = dkg::election_key(&deals);
        let xs: Vec<Secret> = (1..=n).map(|j| {
            let shares: Vec<Secret> = deals.iter().map(|d| if d.dealer == j {
                own[j as usize - 1].clone()
            } else {
                dkg::open_share(&cid, d, j, &es[j as usize - 1]).expect("honest share")
            }).collect();
            dkg::secret_share(&shares)
        }).collect();
        let m = sealed::encode_payload(&payload).expect("encodes").point;
        let ct = Ciphertext::encrypt(&y, &m, &group::seeded_scalar(tags::SEED_ENCRYPT, &[seed_byte; 32], 0));
        for mask in 0u32..(1 << n) {
            if u64::from(mask.count_ones()) < t {
                continue;
            }
            let subset: Vec<(u64, RistrettoPoint)> = (1..=n)
                .filter(|j| mask & (1 << (j - 1)) != 0)
                .map(|j| (j, xs[j as usize - 1].0 * ct.alpha))
                .collect();
            prop_assert_eq!(dkg::recombine(params, &ct.beta, &subset), Ok(m));
        }
    }
}
