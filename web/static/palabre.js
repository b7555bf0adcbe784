// Palabre's one script. It keeps the resident's Ed25519 key in this browser (WebCrypto,
// stored in IndexedDB), builds the canonical bytes of what the resident submits exactly
// as PROTOCOL.md says (RFC 8785 over integers and strings), signs, posts, and keeps the
// receipts. Every page reads without it; forms that need a signature say so.

const $ = (s, r = document) => r.querySelector(s);
const $$ = (s, r = document) => [...r.querySelectorAll(s)];
const enc = new TextEncoder();
const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
const cat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) { out.set(p, i); i += p.length; }
  return out;
};
const sha256 = async (b) => new Uint8Array(await crypto.subtle.digest("SHA-256", b));
const T = document.body.dataset;
const say = (form, text, ok) => {
  const out = $(".out", form) || $("#out");
  out.textContent = text;
  out.className = "out " + (ok ? "ok" : "err");
};

// RFC 8785 for Palabre's content: objects with sorted keys, strings, integers, arrays.
function canon(v) {
  if (Array.isArray(v)) return "[" + v.map(canon).join(",") + "]";
  if (v && typeof v === "object") {
    return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}";
  }
  return JSON.stringify(v);
}

function db() {
  return new Promise((ok, ko) => {
    const r = indexedDB.open("palabre", 1);
    r.onupgradeneeded = () => r.result.createObjectStore("keys");
    r.onsuccess = () => ok(r.result);
    r.onerror = () => ko(r.error);
  });
}
async function keyOp(mode, value) {
  const d = await db();
  return new Promise((ok, ko) => {
    const s = d.transaction("keys", mode).objectStore("keys");
    const r = value === undefined ? s.get("me") : s.put(value, "me");
    r.onsuccess = () => ok(r.result);
    r.onerror = () => ko(r.error);
  });
}
const myKey = () => keyOp("readonly");

async function sign(priv, tag, text) {
  return hex(await crypto.subtle.sign({ name: "Ed25519" }, priv, cat(enc.encode(tag), enc.encode(text))));
}

function receipts() {
  try { return JSON.parse(localStorage.getItem("palabre.receipts") || "[]"); } catch { return []; }
}
function keep(entry) {
  const all = receipts();
  all.push(entry);
  localStorage.setItem("palabre.receipts", JSON.stringify(all));
}

async function post(url, body) {
  const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body });
  let answer = {};
  try { answer = await r.json(); } catch { /* an empty or non-JSON answer */ }
  if (!r.ok) throw new Error((answer.error && answer.error.message) || r.status);
  return answer;
}

// What each form becomes: an event body of its kind.
const bodies = {
  proposal: (f) => {
    const b = { consultation: f.consultation.value, title: f.title.value.trim(), body: f.body.value.trim() };
    if (f.cost) b.cost = parseInt(f.cost.value, 10);
    return b;
  },
  argument: (f) => ({ proposal: f.proposal.value, stance: f.stance.value, body: f.body.value.trim() }),
  ballot: (f) => {
    const m = f.dataset.method;
    let choice;
    if (m === "answers") {
      choice = { answers: {} };
      for (const i of $$("input[type=radio]:checked", f)) choice.answers[i.name.slice(2)] = i.value;
    } else if (m === "grades") {
      choice = { grades: {} };
      for (const i of $$("input[type=radio]:checked", f)) choice.grades[i.name.slice(2)] = parseInt(i.value, 10);
    } else {
      choice = { approve: $$("input[name=approve]:checked", f).map((i) => i.value).sort() };
    }
    return { consultation: f.consultation.value, choice };
  },
};

// A secret vote's ballot (form[data-sealed], with sealed.js): the choice sealed in this
// page with fresh randomness; the server never sees it.
const sealedBody = async (form, args) =>
  ({ consultation: args.consultation, sealed: (await palabreSeal(args)).sealed });

async function submit(form) {
  const me = await myKey();
  if (!me) { say(form, T.needKey, false); return; }
  const kind = form.dataset.kind;
  const args = form.dataset.sealed && palabreSeal.form(form, me.pub);
  const words = args ? args.choice : bodies[kind](form);
  // A retry of the same words sends the same signed event again, never a second one.
  const same = me.pub + canon(words);
  let event = form.pending && form.pending.same === same && form.pending.event;
  if (!event) {
    const body = args ? await sealedBody(form, args) : words;
    const unsigned = { author: me.pub, body, created_at_ms: Date.now(), kind, v: 1 };
    event = canon({ ...unsigned, sig: await sign(me.priv, "palabre/v1/event\n", canon(unsigned)) });
    form.pending = { same, event };
  }
  const answer = await post("/api/v1/events", event);
  form.pending = null;
  const box = $(".opening", form);
  if (box) { box.hidden = true; $("textarea", box).value = ""; }
  keep({ kind, title: form.dataset.title || "", event, receipt: answer.receipt, at: Date.now() });
  say(form, T.done + " " + answer.receipt.receipt.index, true);
}

async function register(form) {
  const code = form.code.value.replace(/[\s-]/g, "").toUpperCase();
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const pub = hex(await crypto.subtle.exportKey("raw", pair.publicKey));
  const invitation = hex(await sha256(cat(enc.encode("palabre/v1/invitation\n"), unhex(T.authority), enc.encode(code))));
  const proof = await sign(pair.privateKey, "palabre/v1/key-possession\n", canon({ authority: T.authority, invitation, subject: pub }));
  const answer = await post("/api/v1/credentials/redeem", JSON.stringify({ code, key: pub, proof }));
  await keyOp("readwrite", { priv: pair.privateKey, pub });
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist();
  keep({ kind: "credential", title: "", event: JSON.stringify(answer.credential), receipt: answer.receipt, at: Date.now() });
  say(form, T.registered, true);
}

async function backup() {
  const me = await myKey();
  if (!me) return;
  const jwk = await crypto.subtle.exportKey("jwk", me.priv);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([JSON.stringify({ palabre_key: jwk, public: me.pub })], { type: "application/json" }));
  a.download = "palabre-key.json";
  a.click();
}

async function restore(file) {
  const saved = JSON.parse(await file.text());
  const priv = await crypto.subtle.importKey("jwk", saved.palabre_key, { name: "Ed25519" }, true, ["sign"]);
  await keyOp("readwrite", { priv, pub: saved.public });
  say($("#keys"), T.restored, true);
}

// A desk card's QR code opens /me#key=<seed hex>: the key moves into this browser, and
// the fragment (never sent to the server) is wiped from the address bar and history.
async function fromCard(seedHex) {
  const der = cat(unhex("302e020100300506032b657004220420"), unhex(seedHex));
  const priv = await crypto.subtle.importKey("pkcs8", der, { name: "Ed25519" }, true, ["sign"]);
  const x = (await crypto.subtle.exportKey("jwk", priv)).x.replace(/-/g, "+").replace(/_/g, "/");
  const pub = hex(Uint8Array.from(atob(x + "=".repeat((4 - (x.length % 4)) % 4)), (c) => c.charCodeAt(0)));
  await keyOp("readwrite", { priv, pub });
  say($("#keys"), T.restored, true);
}

// RFC 9162 inclusion: does `leaf` sit at `index` of the tree of `size` with `root`?
async function included(leaf, index, size, proof, root) {
  let [fn, sn, r] = [index, size - 1, leaf];
  const node = async (a, b) => sha256(cat(new Uint8Array([1]), a, b));
  for (const p of proof.map(unhex)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await node(p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await node(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 && hex(r) === root;
}

async function check(entry, out) {
  const { index, tree_head: { head } } = entry.receipt.receipt;
  const r = await fetch(`/api/v1/logs/${head.authority}/proof/inclusion?index=${index}&size=${head.size}`);
  const leaf = await sha256(cat(new Uint8Array([0]), enc.encode(entry.event)));
  const ok = r.ok && (await included(leaf, index, head.size, (await r.json()).proof, head.root));
  out.textContent = ok ? T.included : T.notIncluded;
  out.className = "out " + (ok ? "ok" : "err");
}

function listReceipts() {
  const list = $("#receipts");
  if (!list) return;
  list.textContent = "";
  for (const entry of receipts().reverse()) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    const out = document.createElement("span");
    li.textContent = `${new Date(entry.at).toLocaleString()} · ${entry.kind} ${entry.title} · #${entry.receipt.receipt.index} `;
    b.type = "button";
    b.textContent = T.check;
    b.onclick = () => check(entry, out).catch((e) => { out.textContent = e.message; });
    out.setAttribute("role", "status");
    li.append(b, " ", out);
    list.append(li);
  }
}

for (const note of $$(".nojs")) note.hidden = true;
for (const button of $$("form button[disabled]")) button.disabled = false;
for (const form of $$("form[data-kind], form[data-register]")) {
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    // One send at a time: a double tap does not send twice.
    if (form.busy) return;
    form.busy = true;
    const buttons = $$("button", form);
    for (const x of buttons) x.disabled = true;
    const act = form.dataset.register !== undefined ? register(form) : submit(form);
    act.catch((err) => say(form, T.refused + " " + err.message, false))
      .finally(() => { form.busy = false; for (const x of buttons) x.disabled = false; });
  });
}
// "Check this encryption" (PROTOCOL.md, the opening): seal the choice, hand out the
// file that reveals its randomness, and never cast that sealing: a cast seals afresh.
async function audit(form) {
  const me = await myKey();
  if (!me) { say(form, T.needKey, false); return; }
  const { opening } = await palabreSeal(palabreSeal.form(form, me.pub), true);
  const text = JSON.stringify(opening), box = $(".opening", form), link = $("a", box);
  $("textarea", box).value = text;
  URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  box.hidden = false;
  say(form, form.dataset.audited, true);
}
for (const form of $$("form[data-sealed]")) {
  const a = $(".audit", form);
  a.onclick = () => audit(form).catch((err) => say(form, T.refused + " " + err.message, false));
}

const b = $("#backup");
if (b) b.onclick = backup;
const card = location.hash.match(/^#key=([0-9a-f]{64})$/);
if (card && $("#keys")) {
  history.replaceState(null, "", location.pathname);
  fromCard(card[1]).then(showKey).catch((e) => say($("#keys"), e.message, false));
}
const r = $("#restore");
if (r) r.onchange = () => r.files[0] && restore(r.files[0]).catch((e) => say($("#keys"), e.message, false));
listReceipts();
function showKey() {
  return myKey().then((me) => { const k = $("#mykey"); if (k && me) k.textContent = me.pub; });
}
showKey();
