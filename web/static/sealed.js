/* sealed.js: seals a secret ballot in the page (PROTOCOL.md, "Secret ballots"), byte for
byte as palabre-core's sealed::seal does for the same seed. Hand-written: ristretto255
(RFC 9496) over BigInt, ElGamal, the batched proof of knowledge. Not constant-time
(SECRET-BALLOTS.md §6, §9). Posting is the vote page's.

await palabreSeal({key, consultation, layout, author, mode, choice, columns, seed}, audit)
 key: the election key Y; consultation, layout: event ids; author: the credential key
 (all 64 hex). mode "split": choice = one value per layout group (0..255); mode "row":
 choice = the chosen column indexes, columns = the layout's column count. seed: tests
 only (32 bytes); otherwise crypto.getRandomValues.
-> {sealed: {layout, groups: [[128 hex]], pok: {c, s: [64 hex]}}}, the ballot's member.
 With audit true, also opening: the check-encryption file (the r's and the plaintext):
 never cast a sealing whose opening was shown. The seed is zeroed and the r's dropped
 before returning (a BigInt cannot be wiped in place).
 Throws Error("malformed" | "bad_point" | "invalid_choice").
palabreSeal.t holds the internals for the tests. */
(() => {
  const P = 2n ** 255n - 19n, L = 2n ** 252n + 27742317777372353535851937790883648493n,
    m = (a) => (a %= P) < 0n ? a + P : a,
    pw = (b, e) => {
      let r = 1n;
      for (; e; e >>= 1n, b = m(b * b)) if (e & 1n) r = m(r * b);
      return r;
    },
    ng = (a) => (a & 1n) == 1n,
    ab = (a) => ng(a) ? P - a : a,
    I = pw(2n, (P - 1n) / 4n),
    D = m(-121665n * pw(121666n, P - 2n)),
    D2 = m(2n * D),
    // RFC 9496 SQRT_RATIO_M1: [u/v is square, the non-negative root (or of i·u/v)].
    sr = (u, v) => {
      const v3 = m(v * v * v), r0 = m(u * v3 * pw(m(u * v3 * v3 * v), (P - 5n) / 8n)),
        c = m(v * r0 * r0), f = c == m(-u);
      return [c == u || f, ab(f || c == m(-u * I) ? m(r0 * I) : r0)];
    },
    IAD = sr(1n, m(-1n - D))[1],
    le = (b) => {
      let x = 0n;
      for (let i = b.length; i--;) x = x << 8n | BigInt(b[i]);
      return x;
    },
    bl = (x) => {
      const b = new Uint8Array(32);
      for (let i = 0; i < 32; i++, x >>= 8n) b[i] = Number(x & 255n);
      return b;
    },
    hx = (b) => Array.from(b, (v) => v.toString(16).padStart(2, "0")).join(""),
    xh = (h) => {
      if (!/^[0-9a-f]{64}$/.test(h)) throw Error("malformed");
      return Uint8Array.from(h.match(/../g), (v) => parseInt(v, 16));
    },
    O = [0n, 1n, 1n, 0n],
    // Extended coordinates [X, Y, Z, T]; the a = −1 unified addition.
    add = ([X, Y, Z, T], [x, y, z, t]) => {
      const a = m((Y - X) * (y - x)), b = m((Y + X) * (y + x)), c = m(T * D2 * t),
        d = m(2n * Z * z), e = b - a, f = d - c, g = d + c, h = b + a;
      return [m(e * f), m(g * h), m(f * g), m(e * h)];
    },
    // RFC 9496 §4.3.1: null unless the canonical encoding of a point.
    dec = (b) => {
      const s = le(b);
      if (s >= P || ng(s)) return null;
      const q = m(s * s), u = m(1n - q), w = m(1n + q), w2 = m(w * w), v = m(-D * u * u - w2),
        [ok, i] = sr(1n, m(v * w2)), dx = m(i * w), x = ab(m(2n * s * dx)),
        y = m(u * i * dx * v), t = m(x * y);
      return !ok || ng(t) || !y ? null : [x, y, 1n, t];
    },
    // RFC 9496 §4.3.2.
    enc = ([x, y, z, t]) => {
      const u = m((z + y) * (z - y)), w = m(x * y), i = sr(1n, m(u * w * w))[1],
        d1 = m(i * u), d2 = m(i * w), zi = m(d1 * d2 * t), r = ng(m(t * zi));
      if (r) [x, y] = [m(y * I), m(x * I)];
      if (ng(m(x * zi))) y = m(-y);
      return bl(ab(m((r ? m(d1 * IAD) : d2) * (z - y))));
    },
    // Fixed-base table: j·16^i·p for 64 windows of 4 bits (enough below ℓ < 2^253).
    tab = (p) => {
      const t = [];
      for (let i = 0; i < 64; i++) {
        const r = [O];
        for (let j = 1; j < 16; j++) r.push(add(r[j - 1], p));
        t.push(r);
        p = add(r[15], p);
      }
      return t;
    },
    mul = (t, k) => {
      let q = O;
      for (let i = 0; k; i++, k >>= 4n) if (k & 15n) q = add(q, t[i][Number(k & 15n)]);
      return q;
    },
    cat = (p) => {
      const u = new Uint8Array(p.reduce((n, x) => n + x.length, 0));
      p.reduce((o, x) => (u.set(x, o), o + x.length), 0);
      return u;
    },
    // Hs(tag, parts) = SHA-512(palabre/v1/tag\n ‖ parts) mod ℓ.
    hs = async (tag, ...p) => le(new Uint8Array(await crypto.subtle.digest("SHA-512",
      cat([new TextEncoder().encode(`palabre/v1/${tag}\n`), ...p])))) % L,
    be = (i) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, BigInt(i));
      return b;
    },
    // The codec: [2·ctr] ‖ payload ‖ 0 for the smallest ctr that decodes.
    pt = (pl) => {
      const s = new Uint8Array(32);
      s.set(pl, 1);
      for (let c = 0; c < 128; c++) {
        s[0] = 2 * c;
        const q = dec(s);
        if (q) return q;
      }
      throw Error("invalid_choice");
    },
    int = (v, n) => {
      if (!Number.isInteger(v) || v < 0 || v >= n) throw Error("invalid_choice");
      return v;
    },
    B = dec(xh("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76")),
    TB = tab(B),
    sx = (x) => hx(bl(x)),
    seal = async ({ key, consultation, layout, author, mode, choice, columns, seed }, audit) => {
      const [y, cid, lid, aid] = [key, consultation, layout, author].map(xh), Y = dec(y),
        split = mode == "split", pls = [];
      if (!Y) throw Error("bad_point");
      if (!Array.isArray(choice) || !(split || mode == "row")) throw Error("malformed");
      if (split) for (const v of choice) pls.push([int(v, 256)]);
      else {
        const w = Math.max(1, Math.ceil(int(columns, 2 ** 20) / 240)), bm = new Uint8Array(30 * w);
        for (const i of choice) bm[int(i, columns) >> 3] |= 1 << (i & 7);
        for (let k = 0; k < w; k++) pls.push(bm.subarray(30 * k, 30 * k + 30));
      }
      const M = pls.map(pt), n = M.length, sd = Uint8Array.from(seed || crypto.getRandomValues(new Uint8Array(32))),
        r = [], k = [];
      if (sd.length != 32 || !n) throw Error("malformed");
      for (let i = 0; i < n; i++) {
        r.push(await hs("seed/encrypt", sd, be(i)));
        k.push(await hs("seed/nonce", sd, be(i)));
      }
      const TY = tab(Y), cts = M.map((q, i) => [enc(mul(TB, r[i])), enc(add(q, mul(TY, r[i])))]),
        c = await hs("ballot-pok", cid, lid, aid, be(n), ...cts.flat(), ...k.map((x) => enc(mul(TB, x)))),
        hex = cts.map(([a, b]) => hx(a) + hx(b)),
        shape = (l) => split ? l.map((x) => [x]) : [l],
        sealed = { layout, groups: shape(hex), pok: { c: sx(c), s: k.map((x, i) => sx((x + c * r[i]) % L)) } },
        out = { sealed };
      if (audit) {
        out.opening = { consultation, author, election_key: key, mode, choice, sealed, randomness: shape(r.map(sx)) };
        if (!split) out.opening.columns = columns;
      }
      r.fill(0n), k.fill(0n), sd.fill(0);
      return out;
    };
  seal.t = { dec, enc, hx, xh, pt, add, mul, tab, B };
  // The vote page's form (consultation.html, data-sealed): palabreSeal's arguments for
  // the choice its inputs hold, read column by column in the layout's order (a column
  // the page does not show, a hidden proposal, is 0 / not chosen).
  seal.form = (f, author) => {
    const d = f.dataset, cols = d.columns.split(" "), row = d.sealed == "row",
      v = cols.map((id) => {
        const box = f.querySelector(`[name=approve][value="${id}"]`),
          r = f.querySelector(`[name=a-${id}]:checked,[name=g-${id}]:checked`);
        return box ? +box.checked : r ? { yes: 1, no: 2, abstain: 3 }[r.value] ?? +r.value : 0;
      }),
      choice = row ? v.flatMap((x, i) => x ? [i] : []) : v;
    if (row && d.max && choice.length > +d.max) throw Error(d.tooMany);
    return { key: d.key, consultation: f.consultation.value, layout: d.layout, author, mode: d.sealed, choice, columns: cols.length };
  };
  self.palabreSeal = seal;
})();
