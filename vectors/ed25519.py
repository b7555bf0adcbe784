#!/usr/bin/env python3
"""Writes crates/palabre-core/tests/data/v1/ed25519.json: the negative signature and key
vectors of PROTOCOL.md ("Keys and signatures"), made without Palabre's Rust code.

The curve arithmetic below is plain Python integers, written from the formulas of
RFC 8032 (section 5.1); each case is also run through libsodium (PyNaCl:
`crypto_sign_open`, which checks like `crypto_sign_verify_detached`, and
`crypto_core_ed25519_is_valid_point`) and the verdicts are recorded next to it. Core's
test `vectors::ed25519_vectors` then checks every claim of the file with
curve25519-dalek and checks that Palabre refuses each event with the code given.

Usage: python3 vectors/ed25519.py > crates/palabre-core/tests/data/v1/ed25519.json
(only to create the file: vector files are never edited once published).
Needs PyNaCl (pip install pynacl) for the libsodium columns.
"""

import hashlib
import json
import sys

import nacl.bindings as sodium
from nacl.exceptions import BadSignatureError

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

IDENTITY = (0, 1)


def inv(x):
    return pow(x, P - 2, P)


def add(p1, p2):
    """Twisted Edwards addition, a = -1, affine (complete for this curve)."""
    (x1, y1), (x2, y2) = p1, p2
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + x2 * y1) * inv(1 + t) % P
    y3 = (y1 * y2 + x1 * x2) * inv(1 - t) % P
    return (x3, y3)


def neg(pt):
    return ((-pt[0]) % P, pt[1])


def mul(k, pt):
    out = IDENTITY
    while k > 0:
        if k & 1:
            out = add(out, pt)
        pt = add(pt, pt)
        k >>= 1
    return out


def recover_x(y, sign):
    """x from y and its sign bit; None when y gives no point."""
    xx = (y * y - 1) * inv(D * y * y + 1) % P
    if xx == 0:
        return None if sign else 0
    x = pow(xx, (P + 3) // 8, P)
    if (x * x - xx) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - xx) % P != 0:
        return None
    if x & 1 != sign:
        x = P - x
    return x


def encode(pt):
    x, y = pt
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def decode_lax(b):
    """Decodes as lax verifiers do: y reduced mod p, x = 0 with the sign bit kept as 0."""
    n = int.from_bytes(b, "little")
    y, sign = (n & (2**255 - 1)) % P, n >> 255
    x = recover_x(y, sign)
    if x is None and sign:
        x = recover_x(y, 0)
        if x != 0:
            return None
    return None if x is None else (x, y)


def canonical(b):
    """RFC 8032 5.1.3: y < p, a point, and not x = 0 with the sign bit set."""
    n = int.from_bytes(b, "little")
    y, sign = n & (2**255 - 1), n >> 255
    return y < P and recover_x(y, sign) is not None


B = (recover_x(4 * inv(5) % P, 0), 4 * inv(5) % P)


def order_divides(pt, n):
    return mul(n, pt) == IDENTITY


def small_order(pt):
    return order_divides(pt, 8)


def h(*parts):
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little")


def secret(seed):
    digest = hashlib.sha512(seed).digest()
    a = int.from_bytes(digest[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, digest[32:]


def find_order8():
    """A point of order 8: one whose double is (±sqrt(−1), 0), i.e. with y² + x² = 0.
    On −x² + y² = 1 + d·x²·y² that gives d·y⁴ + 2·y² − 1 = 0, y² = (−1 ± sqrt(1 + d)) / d."""
    for y2 in candidate_y2():
        y = sqrt(y2)
        if y is None:
            continue
        x = recover_x(y, 0)
        if x is None:
            continue
        pt = (x, y)
        if mul(8, pt) == IDENTITY and mul(4, pt) != IDENTITY:
            return pt
    raise SystemExit("no order-8 point found")


def sqrt(a):
    a %= P
    if a == 0:
        return 0
    x = pow(a, (P + 3) // 8, P)
    if (x * x - a) % P != 0:
        x = x * SQRT_M1 % P
    return x if (x * x - a) % P == 0 else None


def candidate_y2():
    r = sqrt(1 + D)
    if r is None:
        return []
    return [(-1 + r) * inv(D) % P, (-1 - r) * inv(D) % P]


T8 = find_order8()
SMALL = [mul(i, T8) for i in range(8)]
assert len({s for s in SMALL}) == 8

SEED = bytes([120]) * 32
TAG = b"palabre/v1/event\n"
VOTE_OPEN = 1_900_000_000_000 + 10 * 24 * 60 * 60 * 1000


def unsigned_event(author_hex, created_at_ms):
    return {
        "author": author_hex,
        "body": {"choice": {"approve": []}, "consultation": "00" * 32},
        "created_at_ms": created_at_ms,
        "kind": "ballot",
        "v": 1,
    }


def jcs(value):
    # ASCII keys and text and integers only: Python's sorted, compact encoding is RFC 8785.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def message_for(author_bytes, created_at_ms):
    return TAG + jcs(unsigned_event(author_bytes.hex(), created_at_ms))


def signed_event(author_bytes, created_at_ms, sig):
    event = unsigned_event(author_bytes.hex(), created_at_ms)
    event["sig"] = sig.hex()
    return jcs(event).decode()


def equations(a_bytes, m, sig):
    """(cofactorless, cofactored) for a verifier that decodes leniently and reduces S."""
    a_pt, r_pt = decode_lax(a_bytes), decode_lax(sig[:32])
    if a_pt is None or r_pt is None:
        return False, False
    s = int.from_bytes(sig[32:], "little") % L
    k = h(sig[:32], a_bytes, m) % L
    lhs, rhs = mul(s, B), add(r_pt, mul(k, a_pt))
    return lhs == rhs, mul(8, lhs) == mul(8, rhs)


def libsodium(a_bytes, m, sig):
    try:
        sodium.crypto_sign_open(sig + m, a_bytes)
        verifies = True
    except BadSignatureError:
        verifies = False
    return verifies, bool(sodium.crypto_core_ed25519_is_valid_point(a_bytes))


def describe_point(b):
    pt = decode_lax(b)
    if pt is None:
        return {"canonical": False, "on_curve": False, "small_order": False, "torsion_free": False}
    return {
        "canonical": canonical(b),
        "on_curve": True,
        "small_order": small_order(pt),
        "torsion_free": order_divides(pt, L),
    }


cases = []


def case(name, explanation, a_bytes, created_at_ms, sig, code):
    m = message_for(a_bytes, created_at_ms)
    cofactorless, cofactored = equations(a_bytes, m, sig)
    verifies, valid_point = libsodium(a_bytes, m, sig)
    s = int.from_bytes(sig[32:], "little")
    cases.append(
        {
            "name": name,
            "explanation": explanation,
            "public_key": a_bytes.hex(),
            "message": m.decode(),
            "signature": sig.hex(),
            "key": describe_point(a_bytes),
            "r": describe_point(sig[:32]),
            "s_canonical": s < L,
            "cofactorless_equation": cofactorless,
            "cofactored_equation": cofactored,
            "libsodium_crypto_sign_verify_detached": verifies,
            "libsodium_crypto_core_ed25519_is_valid_point": valid_point,
            "signed_event": signed_event(a_bytes, created_at_ms, sig),
            "code": code,
        }
    )


a, prefix = secret(SEED)
A_PT = mul(a, B)
A = encode(A_PT)
assert A == sodium.crypto_sign_seed_keypair(SEED)[0]


def honest(m, nonce_extra=b""):
    r = h(prefix, m, nonce_extra) % L
    r_bytes = encode(mul(r, B))
    k = h(r_bytes, A, m) % L
    return r_bytes, (r + k * a) % L


m0 = message_for(A, VOTE_OPEN)
r_bytes, s = honest(m0)
good = r_bytes + s.to_bytes(32, "little")
assert sodium.crypto_sign(m0, sodium.crypto_sign_seed_keypair(SEED)[1])[:64] == good
case("valid", "An honest signature of the key of seed 78…78: accepted.", A, VOTE_OPEN, good, None)

case(
    "s_plus_l",
    "S + ℓ in place of S: the equation still holds modulo ℓ, but S is not canonical (S ≥ ℓ).",
    A,
    VOTE_OPEN,
    r_bytes + (s + L).to_bytes(32, "little"),
    "bad_signature",
)

s_high = s + 15 * L if s + 15 * L < 2**256 else s + 14 * L
case(
    "s_high_bits",
    "S + 15ℓ (or 14ℓ): top bits of S set; refused by S < ℓ, and by the older bit test.",
    A,
    VOTE_OPEN,
    r_bytes + s_high.to_bytes(32, "little"),
    "bad_signature",
)


def with_r(r_enc, name, explanation, code="bad_signature"):
    m = message_for(A, VOTE_OPEN)
    k = h(r_enc, A, m) % L
    sig = r_enc + (k * a % L).to_bytes(32, "little")
    case(name, explanation, A, VOTE_OPEN, sig, code)


with_r(
    encode(IDENTITY),
    "small_order_r_identity",
    "R = identity and S = k·a: [S]B = R + [k]A holds exactly; only the rule that R is not "
    "of small order refuses it.",
)
with_r(
    encode(T8),
    "small_order_r_order_8",
    "R of order 8 and S = k·a: the cofactored equation holds, the cofactorless one does not.",
)
with_r(
    (P + 1).to_bytes(32, "little"),
    "non_canonical_r",
    "R = the identity encoded with y = p + 1 (not canonical) and S = k·a: holds for a "
    "verifier that reduces y and compares points.",
)
with_r(
    (2).to_bytes(32, "little") if decode_lax((2).to_bytes(32, "little")) is None else (3).to_bytes(32, "little"),
    "r_not_on_curve",
    "R is not the encoding of any point.",
)

# A mixed-order key: A + T8. A nonce is searched such that k ≡ 0 (mod 8), so that
# [k]T8 vanishes and the cofactorless equation holds: libsodium's verify accepts it.
A_MIXED = encode(add(A_PT, T8))
m = message_for(A_MIXED, VOTE_OPEN)
for i in range(1000):
    r = h(prefix, m, i.to_bytes(4, "little")) % L
    r_enc = encode(mul(r, B))
    k = h(r_enc, A_MIXED, m) % L
    if k % 8 == 0:
        sig = r_enc + ((r + k * a) % L).to_bytes(32, "little")
        break
else:
    raise SystemExit("no nonce found")
case(
    "mixed_order_key",
    "A + T (T of order 8), an honest key with a torsion part, and a signature for which "
    "[S]B = R + [k]A holds exactly: libsodium's crypto_sign_verify_detached accepts it; "
    "the key is refused because ℓ·A ≠ identity.",
    A_MIXED,
    VOTE_OPEN,
    sig,
    "weak_key",
)

# A key of order 8 with S = 0 and R = −[k]A: searched over created_at_ms.
A_SMALL = encode(T8)
for i in range(1000):
    found = None
    for r_pt in SMALL:
        r_enc = encode(r_pt)
        k = h(r_enc, A_SMALL, message_for(A_SMALL, VOTE_OPEN + i)) % L
        if add(r_pt, mul(k, T8)) == IDENTITY:
            found = r_enc
            break
    if found:
        break
case(
    "small_order_key",
    "A of order 8, R = −[k]A and S = 0: the equation holds exactly, for this message only.",
    A_SMALL,
    VOTE_OPEN + i,
    found + bytes(32),
    "weak_key",
)

ID = encode(IDENTITY)
case(
    "identity_key_forgery",
    "A = identity, R = identity, S = 0: [0]B = identity + [k]identity for every message; "
    "plain verification accepts it.",
    ID,
    VOTE_OPEN,
    ID + bytes(32),
    "weak_key",
)
case(
    "non_canonical_identity_key",
    "A = the identity encoded with y = p + 1, R = identity, S = 0: the forgery above with a "
    "key encoding that is not canonical.",
    (P + 1).to_bytes(32, "little"),
    VOTE_OPEN,
    ID + bytes(32),
    "bad_key",
)
case(
    "identity_key_with_sign_bit",
    "A = 01 00…00 80: x = 0 with the sign bit set (RFC 8032 decoding fails), R = identity, S = 0.",
    (1 | (1 << 255)).to_bytes(32, "little"),
    VOTE_OPEN,
    ID + bytes(32),
    "bad_key",
)

# A non-canonical encoding of a point of large order, if y − p for some small y gives one.
for y in range(2, 19):
    enc = (P + y).to_bytes(32, "little")
    pt = decode_lax(enc)
    if pt is not None and not small_order(pt):
        case(
            "non_canonical_key",
            f"A encoded with y = p + {y}, a point of large order: the encoding is not canonical.",
            enc,
            VOTE_OPEN,
            good,
            "bad_key",
        )
        break

for y in range(2, 100):
    enc = y.to_bytes(32, "little")
    if decode_lax(enc) is None:
        case("key_not_on_curve", f"A with y = {y}: no x satisfies the curve equation.", enc, VOTE_OPEN, good, "bad_key")
        break

# Every encoding of a small-order point, canonical or not, and the code of each as a key.
keys = [encode(pt) for pt in SMALL]
for y in (0, 1):
    keys.append((P + y).to_bytes(32, "little"))
    keys.append((P + y | (1 << 255)).to_bytes(32, "little"))
keys.append((1 | (1 << 255)).to_bytes(32, "little"))
keys.append((P - 1 | (1 << 255)).to_bytes(32, "little"))
key_rows = []
for enc in keys:
    info = describe_point(enc)
    key_rows.append(
        {
            "public_key": enc.hex(),
            **info,
            "libsodium_crypto_core_ed25519_is_valid_point": bool(
                sodium.crypto_core_ed25519_is_valid_point(enc)
            ),
            "code": "bad_key" if not info["canonical"] else "weak_key",
        }
    )

out = {
    "about": "Ed25519 keys and signatures Palabre refuses, each with the code a node answers "
    "for an event signed so (PROTOCOL.md, \"Keys and signatures\"). Made by vectors/ed25519.py "
    "with plain Python arithmetic and libsodium, independently of Palabre's code.",
    "seed": SEED.hex(),
    "domain_tag": TAG.decode(),
    "l": str(L),
    "p": str(P),
    "cases": cases,
    "small_order_keys": key_rows,
}
sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
