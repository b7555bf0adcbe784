//! Keys and signatures: canonical, non-weak keys only; strict verification only; batch
//! verification agrees with strict verification.

use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::CompressedEdwardsY;
use palabre_core::crypto::{Domain, KeyError, PublicKey, Signature, SignedMessage, verify_many};

use palabre_core::crypto::SecretKey;
use palabre_core::testkit::world::{key, key_of};

fn hex32(s: &str) -> [u8; 32] {
    let v = hex::decode(s).expect("test hex");
    v.try_into().expect("32 bytes")
}

#[test]
fn small_order_keys_are_weak() {
    // The eight encodings of small-order points (the identity, the point of order 2,
    // the two of order 4 and the four of order 8).
    let small_order = [
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    ];
    for k in small_order {
        assert_eq!(PublicKey::from_bytes(&hex32(k)), Err(KeyError::Weak), "{k}");
    }
}

#[test]
fn non_canonical_encodings_are_refused() {
    // y = p + 1 decodes to the identity's y = 1 but is not its canonical encoding.
    let y_p_plus_1 = "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f";
    assert_eq!(
        PublicKey::from_bytes(&hex32(y_p_plus_1)),
        Err(KeyError::NotCanonical)
    );
    // A real key with its y coordinate pushed above p is refused too when it decodes.
    let uppercase = key(1).public_key().to_hex().to_uppercase();
    assert_eq!(uppercase.parse::<PublicKey>(), Err(KeyError::BadEncoding));
    assert_eq!("abc".parse::<PublicKey>(), Err(KeyError::BadEncoding));
}

#[test]
fn mixed_order_keys_are_refused() {
    let honest = key(7).public_key();
    let point = CompressedEdwardsY(*honest.as_bytes())
        .decompress()
        .expect("valid key");
    let mixed = (point + EIGHT_TORSION[1]).compress().to_bytes();
    assert_eq!(PublicKey::from_bytes(&mixed), Err(KeyError::Weak));
}

#[test]
fn the_checked_key_cache_never_admits_a_refused_key() {
    // Parsing an honest key puts it in the cache of checked keys; its mixed-order
    // neighbours and a refused key asked for twice must still be refused every time.
    let honest = key(8).public_key();
    assert_eq!(PublicKey::from_bytes(honest.as_bytes()), Ok(honest));
    assert_eq!(PublicKey::from_bytes(honest.as_bytes()), Ok(honest));
    let point = CompressedEdwardsY(*honest.as_bytes())
        .decompress()
        .expect("valid key");
    for torsion in &EIGHT_TORSION[1..] {
        let mixed = (point + torsion).compress().to_bytes();
        for _ in 0..2 {
            assert_eq!(PublicKey::from_bytes(&mixed), Err(KeyError::Weak));
        }
    }
    // A key that differs from a cached one only in its last byte shares its slot.
    let mut near = *honest.as_bytes();
    near[31] ^= 0x01;
    let fresh = CompressedEdwardsY(near)
        .decompress()
        .map(|p| p.is_torsion_free());
    let expected_ok = fresh == Some(true)
        && CompressedEdwardsY(near)
            .decompress()
            .map(|p| p.compress().to_bytes())
            == Some(near)
        && !CompressedEdwardsY(near)
            .decompress()
            .is_some_and(|p| p.is_small_order());
    assert_eq!(PublicKey::from_bytes(&near).is_ok(), expected_ok);
}

#[test]
fn the_identity_forgery_is_refused() {
    // Under the identity key, (R = identity, S = 0) satisfies the plain (cofactored or
    // not) equation for every message; ed25519-dalek's plain `verify` accepts it.
    let identity = hex32("0100000000000000000000000000000000000000000000000000000000000000");
    let mut forged = [0u8; 64];
    forged[0] = 1;
    let dalek_key = ed25519_dalek::VerifyingKey::from_bytes(&identity).expect("decodes");
    let dalek_sig = ed25519_dalek::Signature::from_bytes(&forged);
    assert!(dalek_key.verify_strict(b"anything", &dalek_sig).is_err());
    assert!(
        ed25519_dalek::Verifier::verify(&dalek_key, b"anything", &dalek_sig).is_ok(),
        "plain verify accepts the forgery: this is the trap strict verification avoids"
    );
    assert_eq!(PublicKey::from_bytes(&identity), Err(KeyError::Weak));
}

#[test]
fn signatures_are_domain_separated() {
    let k = key(3);
    let sig = k.sign(Domain::Event, b"{}");
    assert!(k.public_key().verify(Domain::Event, b"{}", &sig).is_ok());
    assert_eq!(
        k.public_key().verify(Domain::Receipt, b"{}", &sig),
        Err(KeyError::BadSignature)
    );
}

#[test]
fn batch_verification_agrees_with_strict() {
    let keys: Vec<_> = (1..=20u8).map(key).collect();
    let pks: Vec<PublicKey> = keys.iter().map(|k| k.public_key()).collect();
    let messages: Vec<Vec<u8>> = (0..20u8).map(|i| Domain::Event.message(&[i; 10])).collect();
    let mut sigs: Vec<Signature> = keys
        .iter()
        .zip(&messages)
        .map(|(k, m)| k.sign(Domain::Event, &m[Domain::Event.tag().len()..]))
        .collect();
    let items = |sigs: &[Signature]| -> Vec<bool> {
        let batch: Vec<SignedMessage<'_>> = (0..20)
            .map(|i| SignedMessage {
                message: &messages[i],
                key: &pks[i],
                sig: &sigs[i],
            })
            .collect();
        verify_many(&batch)
    };
    assert_eq!(items(&sigs), vec![true; 20]);
    sigs[5].0[40] ^= 1;
    // S pushed above the group order: strict verification refuses it.
    let mut s_plus_l = sigs[9];
    add_group_order_to_s(&mut s_plus_l.0);
    sigs[9] = s_plus_l;
    // R with a torsion component added: refused by strict, accepted by some batch draws.
    let r = CompressedEdwardsY(sigs[12].0[..32].try_into().expect("32 bytes"))
        .decompress()
        .expect("R decodes");
    sigs[12].0[..32].copy_from_slice(&(r + EIGHT_TORSION[4]).compress().to_bytes());
    let verdicts = items(&sigs);
    let expected: Vec<bool> = (0..20).map(|i| i != 5 && i != 9 && i != 12).collect();
    assert_eq!(verdicts, expected);
}

/// s ← s + ℓ (little-endian), making a non-canonical S for the same point equation.
fn add_group_order_to_s(sig: &mut [u8; 64]) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = sig[32 + i] as u16 + L[i] as u16 + carry;
        sig[32 + i] = sum as u8;
        carry = sum >> 8;
    }
}

#[test]
fn residents_keys_keep_their_byte_era_seeds() {
    // A resident below 256 has the seed `[1, town, resident, 0, ...]` (what vectors pin);
    // the high bytes of larger residents go to seed bytes 3..6.
    let seed = |bytes: &[u8]| {
        let mut s = [0u8; 32];
        s[..bytes.len()].copy_from_slice(bytes);
        SecretKey::from_seed(&s).public_key()
    };
    assert_eq!(key_of(0, 0).public_key(), seed(&[1, 0, 0]));
    assert_eq!(key_of(2, 255).public_key(), seed(&[1, 2, 255]));
    assert_eq!(key_of(2, 256).public_key(), seed(&[1, 2, 0, 1]));
    assert_eq!(
        key_of(4, 0x0102_0304).public_key(),
        seed(&[1, 4, 4, 3, 2, 1])
    );
    assert_ne!(key_of(1, 256).public_key(), key_of(1, 0).public_key());
}
