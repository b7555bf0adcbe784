#!/usr/bin/env python3
"""Recomputes secret.json from the specification, independently of Palabre's Rust code.

Group operations come from libsodium's ristretto255 functions (through ctypes, so any
libsodium >= 1.0.18 works: Debian's libsodium23, or the one PyNaCl was built against);
SHA-512 from hashlib; scalar arithmetic from Python integers mod l. Every value of the
file that can be derived from the seeds and inputs it records is recomputed and
compared: Hs, Gen, seeded scalars, the RFC 9496 vectors, the codec, ElGamal, the
Schnorr and ballot proofs, the DLEQ proof, the 3-of-5 DKG (deals, the bad share, both
complaints, QUAL, Y, Y_j, x_j) and the decryption from two subsets.

Run:  python3 secret_vectors.py [path/to/secret.json]
Exit status 0 and "secret.json: N checks agree" when everything matches.
(PROTOCOL.md, "Secret ballots: group, encodings and proofs".)
"""

import ctypes
import ctypes.util
import hashlib
import json
import os
import sys

L_ORDER = 2**252 + 27742317777372353535851937790883648493


def load_sodium():
    names = [os.environ.get("LIBSODIUM"), ctypes.util.find_library("sodium"), "libsodium.so.23", "libsodium.dylib"]
    for name in names:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        if lib.sodium_init() < 0:
            sys.exit("sodium_init failed")
        return lib
    sys.exit("libsodium not found (set LIBSODIUM=/path/to/libsodium.so)")


S = load_sodium()
CHECKS = 0


def agree(what, got, want):
    global CHECKS
    if got != want:
        sys.exit(f"MISMATCH {what}:\n  spec:   {got}\n  file:   {want}")
    CHECKS += 1


# ----------------------------------------------------------------- group (libsodium)

def is_point(b):
    return len(b) == 32 and S.crypto_core_ristretto255_is_valid_point(bytes(b)) == 1


def add(p, q):
    out = ctypes.create_string_buffer(32)
    assert S.crypto_core_ristretto255_add(out, p, q) == 0, "invalid point"
    return out.raw


def sub(p, q):
    out = ctypes.create_string_buffer(32)
    assert S.crypto_core_ristretto255_sub(out, p, q) == 0, "invalid point"
    return out.raw


IDENTITY = bytes(32)


def mul(n, p):
    """n·P for an integer n (reduced mod l); the identity is a valid result here."""
    assert is_point(p)
    out = ctypes.create_string_buffer(32)
    S.crypto_scalarmult_ristretto255(out, sc(n), p)  # returns -1 only for the identity
    return out.raw


def mul_base(n):
    out = ctypes.create_string_buffer(32)
    S.crypto_scalarmult_ristretto255_base(out, sc(n))
    return out.raw


def from_uniform(b64):
    out = ctypes.create_string_buffer(32)
    assert S.crypto_core_ristretto255_from_hash(out, bytes(b64)) == 0
    return out.raw


def sc(n):
    return (n % L_ORDER).to_bytes(32, "little")


BASE = mul_base(1)


def sc_from(b):
    n = int.from_bytes(b, "little")
    return n if n < L_ORDER else None


def h(b):
    return bytes.fromhex(b)


def x(b):
    return b.hex()


def u64be(i):
    return i.to_bytes(8, "big")


# ----------------------------------------------------------------- the specification

TAG = {
    name: f"palabre/v1/{name}\n".encode()
    for name in ["generator", "ballot-pok", "dkg-pok", "dkg-share", "dleq", "seed/encrypt", "seed/nonce", "seed/poly", "seed/share", "seed/key"]
}


def hs(tag, *parts):
    return int.from_bytes(hashlib.sha512(tag + b"".join(parts)).digest(), "little") % L_ORDER


def gen(label, i):
    return from_uniform(hashlib.sha512(TAG["generator"] + label + u64be(i)).digest())


def seeded(tag, seed, i):
    return hs(TAG[tag], seed, u64be(i))


def encode_payload(payload):
    padded = payload + bytes(30 - len(payload))
    for ctr in range(128):
        s = bytes([2 * ctr]) + padded + b"\x00"
        if is_point(s):
            return s, ctr
    raise ValueError("no ctr")


def decode_payload(p):
    if p[31] != 0 or p[0] % 2:
        return None
    for ctr in range(p[0] // 2):
        if is_point(bytes([2 * ctr]) + p[1:31] + b"\x00"):
            return None
    return p[1:31]


def encrypt(y, m, r):
    return mul_base(r) + add(m, mul(r, y))


def schnorr_prove(ctx, secret, seed):
    k = seeded("seed/nonce", seed, 0)
    c = hs(TAG["dkg-pok"], *ctx, mul_base(secret), mul_base(k))
    return c, (k + c * secret) % L_ORDER


def schnorr_verify(ctx, pub, c, s):
    k = sub(mul_base(s), mul(c, pub))
    return hs(TAG["dkg-pok"], *ctx, pub, k) == c


def dleq_prove(ctx, p, q, secret, seed):
    k = seeded("seed/nonce", seed, 0)
    c = hs(TAG["dleq"], *ctx, p, mul(secret, p), q, mul(secret, q), mul(k, p), mul(k, q))
    return c, (k + c * secret) % L_ORDER


def dleq_verify(ctx, p, xp, q, d, c, s):
    a = sub(mul(s, p), mul(c, xp))
    bq = sub(mul(s, q), mul(c, d))
    return hs(TAG["dleq"], *ctx, p, xp, q, d, a, bq) == c


def feldman(commitments, j):
    acc = IDENTITY
    for k, a in enumerate(commitments):
        acc = add(acc, mul(pow(j, k, L_ORDER), a))
    return acc


def poly(coeffs, j):
    return sum(a * pow(j, k, L_ORDER) for k, a in enumerate(coeffs)) % L_ORDER


def pad(cid, i, j, r, shared):
    return hs(TAG["dkg-share"], cid, u64be(i), u64be(j), r, shared)


def lagrange(subset, j):
    num, den = 1, 1
    for m in subset:
        if m != j:
            num = num * m % L_ORDER
            den = den * (m - j) % L_ORDER
    return num * pow(den, -1, L_ORDER) % L_ORDER


# ----------------------------------------------------------------- the checks

def main(path):
    v = json.load(open(path))

    rfc = v["rfc9496"]
    for i, enc in enumerate(rfc["small_multiples"]):
        agree(f"{i}·B", x(mul_base(i)) if i else x(IDENTITY), enc)
        agree(f"{i}·B decodes", is_point(h(enc)), True)
    for bad in rfc["bad_encodings"]:
        agree(f"bad encoding {bad}", is_point(h(bad)), False)
    for row in rfc["one_way_map"]:
        agree("one-way map", x(from_uniform(h(row["input"]))), row["output"])
    for label, row in zip(rfc["labels"], rfc["one_way_map"]):
        agree("label hash", hashlib.sha512(label.encode()).hexdigest(), row["input"])

    for row in v["hs"]:
        agree("Hs", x(sc(hs(row["tag"].encode(), *map(h, row["parts"])))), row["scalar"])
    for row in v["gen"]:
        agree("Gen", x(gen(h(row["label"]), row["i"])), row["point"])
    for row in v["seeded_scalar"]:
        agree("seeded", x(sc(hs(row["tag"].encode(), h(row["seed"]), u64be(row["i"])))), row["scalar"])
    for s in v["scalars"]["canonical"]:
        agree("canonical scalar", sc_from(h(s)) is not None, True)
    for s in v["scalars"]["non_canonical"]:
        agree("non-canonical scalar", sc_from(h(s)), None)

    for row in v["codec"]:
        point, ctr = encode_payload(h(row["payload"]))
        agree("codec point", x(point), row["point"])
        agree("codec ctr", ctr, row["ctr"])
        agree("codec decode", x(decode_payload(point)), (h(row["payload"]) + bytes(30)).hex()[:60])
    for row in v["codec_invalid"]:
        agree("invalid plaintext", decode_payload(h(row["point"])), None)

    row = v["row"]
    bitmap = bytearray(30 * max(1, -(-row["columns"] // 240)))
    for i in row["selected"]:
        bitmap[i // 8] |= 1 << (i % 8)
    points = [x(encode_payload(bytes(bitmap[k:k + 30]))[0]) for k in range(0, len(bitmap), 30)]
    agree("row points", points, row["points"])

    eg = v["elgamal"]
    y = mul_base(sc_from(h(eg["secret_key"])))
    agree("public key", x(y), eg["public_key"])
    agree("plaintext", x(encode_payload(b"palabre")[0]), eg["plaintext"])
    ct = encrypt(y, h(eg["plaintext"]), sc_from(h(eg["r"])))
    agree("ciphertext", x(ct), eg["ciphertext"])
    r2 = sc_from(h(eg["rerandomize_r"]))
    agree("rerandomized", x(add(ct[:32], mul_base(r2)) + add(ct[32:], mul(r2, y))), eg["rerandomized"])
    agree("decrypt", x(sub(ct[32:], mul(sc_from(h(eg["secret_key"])), ct[:32]))), eg["plaintext"])

    sn = v["schnorr"]
    ctx = [h(c) for c in sn["context"]]
    c, s = schnorr_prove(ctx, sc_from(h(sn["secret"])), h(sn["seed"]))
    agree("schnorr", [x(sc(c)), x(sc(s))], [sn["proof"]["c"], sn["proof"]["s"]])
    agree("schnorr verifies", schnorr_verify(ctx, h(sn["public"]), c, s), True)

    b = v["ballot"]
    seed, y = h(b["seed"]), h(b["election_key"])
    rs = [seeded("seed/encrypt", seed, k) for k in range(len(b["plaintexts"]))]
    agree("ballot r", [x(sc(r)) for r in rs], b["randomness"])
    cts = [encrypt(y, h(m), r) for m, r in zip(b["plaintexts"], rs)]
    agree("ballot ciphertexts", [x(ct) for ct in cts], b["ciphertexts"])
    nonces = [seeded("seed/nonce", seed, k) for k in range(len(cts))]
    head = [h(b["consultation"]), h(b["layout"]), h(b["author"]), u64be(len(cts))]
    c = hs(TAG["ballot-pok"], *head, *cts, *[mul_base(k) for k in nonces])
    agree("ballot pok c", x(sc(c)), b["pok"]["c"])
    agree("ballot pok s", [x(sc(k + c * r)) for k, r in zip(nonces, rs)], b["pok"]["s"])
    ks = [sub(mul_base(sc_from(h(s))), mul(c, ct[:32])) for s, ct in zip(b["pok"]["s"], cts)]
    agree("ballot pok verifies", hs(TAG["ballot-pok"], *head, *cts, *ks), c)

    d = v["dleq"]
    ctx = [h(c) for c in d["context"]]
    secret = sc_from(h(d["secret"]))
    agree("dleq d", x(mul(secret, h(d["q"]))), d["d"])
    c, s = dleq_prove(ctx, h(d["p"]), h(d["q"]), secret, h(d["seed"]))
    agree("dleq", [x(sc(c)), x(sc(s))], [d["proof"]["c"], d["proof"]["s"]])
    agree("dleq verifies", dleq_verify(ctx, h(d["p"]), h(d["x"]), h(d["q"]), h(d["d"]), c, s), True)

    g = v["dkg"]
    cid, n, t = h(g["consultation"]), g["n"], g["t"]
    es, keys = {}, {}
    for tr in g["trustees"]:
        j = tr["index"]
        es[j] = seeded("seed/key", h(tr["key_seed"]), 0)
        keys[j] = mul_base(es[j])
        agree("encryption secret", x(sc(es[j])), tr["encryption_secret"])
        agree("encryption key", x(keys[j]), tr["encryption_key"])
        c, s = schnorr_prove([h(tr["authority"])], es[j], h(tr["key_seed"]))
        agree("encryption pok", [x(sc(c)), x(sc(s))], [tr["encryption_pok"]["c"], tr["encryption_pok"]["s"]])
    coeffs, deals = {}, {d["dealer"]: d for d in g["deals"]}
    for tr in g["trustees"]:
        i, seed = tr["index"], h(tr["deal_seed"])
        coeffs[i] = [seeded("seed/poly", seed, k) for k in range(t)]
        deal = deals[i]
        agree("commitments", [x(mul_base(a)) for a in coeffs[i]], deal["commitments"])
        c, s = schnorr_prove([cid, u64be(i)], coeffs[i][0], seed)
        agree("deal pok", [x(sc(c)), x(sc(s))], [deal["pok"]["c"], deal["pok"]["s"]])
        shares = []
        for j in range(1, n + 1):
            if j == i:
                continue
            k = seeded("seed/share", seed, j)
            r = mul_base(k)
            sigma = poly(coeffs[i], j) + pad(cid, i, j, r, mul(k, keys[j]))
            if (i, j) == (g["bad_share"]["dealer"], g["bad_share"]["to"]):
                sigma += 1  # the planted bad share: sigma + 1
            shares.append({"r": x(r), "sigma": x(sc(sigma)), "to": j})
        agree("shares", shares, deal["shares"])
    convicted = set()
    for comp in g["complaints"]:
        i, j = comp["dealer"], comp["complainer"]
        share = next(s for s in deals[i]["shares"] if s["to"] == j)
        r = h(share["r"])
        dd = mul(es[j], r)
        agree("complaint d", x(dd), comp["d"])
        c, s = dleq_prove([cid, h(comp["deal"])], BASE, r, es[j], h(comp["seed"]))
        agree("complaint proof", [x(sc(c)), x(sc(s))], [comp["proof"]["c"], comp["proof"]["s"]])
        agree("complaint verifies", dleq_verify([cid, h(comp["deal"])], BASE, keys[j], r, dd, c, s), True)
        s_ij = (sc_from(h(share["sigma"])) - pad(cid, i, j, r, dd)) % L_ORDER
        ok = mul_base(s_ij) == feldman([h(a) for a in deals[i]["commitments"]], j)
        agree("judgement", "void" if ok else "convicted", comp["judgement"])
        if not ok:
            convicted.add(i)
    qual = sorted(set(range(1, n + 1)) - convicted)
    agree("QUAL", qual, g["qual"])
    y = IDENTITY
    for i in qual:
        y = add(y, mul_base(coeffs[i][0]))
    agree("Y", x(y), g["election_key"])
    xs = {j: sum(poly(coeffs[i], j) for i in qual) % L_ORDER for j in qual}
    for row in g["verification_keys"]:
        j = row["trustee"]
        yj = IDENTITY
        for i in qual:
            yj = add(yj, feldman([h(a) for a in deals[i]["commitments"]], j))
        agree("Y_j", x(yj), row["key"])
        agree("Y_j = x_j·B", x(mul_base(xs[j])), row["key"])
    for row in g["secret_shares"]:
        agree("x_j", x(sc(xs[row["trustee"]])), row["share"])

    dec = v["decryption"]
    ctx = [h(c) for c in dec["context"]]
    m = encode_payload(h(dec["payload"]))[0]
    agree("message", x(m), dec["plaintext"])
    ct = encrypt(y, m, sc_from(h(dec["r"])))
    agree("sealed ciphertext", x(ct), dec["ciphertext"])
    alpha, beta = ct[:32], ct[32:]
    ds = {}
    for share in dec["shares"]:
        j = share["trustee"]
        ds[j] = mul(xs[j], alpha)
        agree("decryption share d", x(ds[j]), share["d"])
        c, s = dleq_prove(ctx, BASE, alpha, xs[j], h(share["seed"]))
        agree("decryption share proof", [x(sc(c)), x(sc(s))], [share["proof"]["c"], share["proof"]["s"]])
    for subset in dec["subsets"]:
        members = subset["trustees"]
        lams = [lagrange(members, j) for j in members]
        agree("lagrange", [x(sc(l)) for l in lams], subset["lagrange"])
        acc = IDENTITY
        for j, lam in zip(members, lams):
            acc = add(acc, mul(lam, ds[j]))
        agree("recombined", x(sub(beta, acc)), subset["plaintext"])
        agree("recombined = message", x(sub(beta, acc)), x(m))

    print(f"{os.path.basename(path)}: {CHECKS} checks agree")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "secret.json"))
