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
const say = (form, text, ok, link) => {
  const out = $(".out", form) || $("#out");
  out.textContent = text;
  if (link) out.append(" · ", anchor(...link));
  out.className = "out " + (ok ? "ok" : "err");
};
const anchor = (href, text, cls) => {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  if (cls) a.className = cls;
  return a;
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
async function keyOp(mode, value, name = "me") {
  const d = await db();
  return new Promise((ok, ko) => {
    const s = d.transaction("keys", mode).objectStore("keys");
    const r = value === undefined ? s.get(name) : s.put(value, name);
    r.onsuccess = () => ok(r.result);
    r.onerror = () => ko(r.error);
  });
}
const myKey = () => keyOp("readonly");
// A household may share one phone: "all" keeps every key of this device, "me" the one
// taking part now. A new key is added, never written over another.
async function allKeys() {
  const all = (await keyOp("readonly", undefined, "all")) || [];
  const me = await myKey();
  if (me && !all.some((k) => k.pub === me.pub)) all.push(me);
  return all;
}
async function addKey(entry) {
  const all = (await allKeys()).filter((k) => k.pub !== entry.pub);
  all.push(entry);
  await keyOp("readwrite", all, "all");
  await keyOp("readwrite", entry);
}
async function useKey(pub) {
  const k = (await allKeys()).find((x) => x.pub === pub);
  if (k) await keyOp("readwrite", k);
}
const label = (k) => k.name || k.pub.slice(0, 8) + "…";

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
  if (!r.ok) {
    // In the page's language where the code is one a resident meets, else the API's words.
    const code = answer.error && answer.error.code;
    const plain = T.refusals.split("|").find((p) => p.startsWith(code + ":"));
    throw new Error(plain ? plain.slice(code.length + 1) : (answer.error && answer.error.message) || r.status);
  }
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
  keep({ kind, title: form.dataset.title || "", event, receipt: answer.receipt, authority: answer.authority, at: Date.now() });
  const n = answer.receipt.receipt.index;
  if (kind === "ballot") await showCurrent();
  say(form, T.done + " " + n, true, ["/me#r-" + n, T.seeReceipts]);
}

async function register(form) {
  // A second person on this device: only by an explicit choice, the first key kept.
  if ((await myKey()) && !($("#another") && $("#another").checked)) { say(form, T.choose, false); return; }
  const code = form.code.value.replace(/[\s-]/g, "").toUpperCase();
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const pub = hex(await crypto.subtle.exportKey("raw", pair.publicKey));
  const invitation = hex(await sha256(cat(enc.encode("palabre/v1/invitation\n"), unhex(T.authority), enc.encode(code))));
  const proof = await sign(pair.privateKey, "palabre/v1/key-possession\n", canon({ authority: T.authority, invitation, subject: pub }));
  const answer = await post("/api/v1/credentials/redeem", JSON.stringify({ code, key: pub, proof }));
  await addKey({ priv: pair.privateKey, pub, name: form.who ? form.who.value.trim() : "" });
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist();
  keep({ kind: "credential", title: "", event: JSON.stringify(answer.credential), receipt: answer.receipt, authority: answer.authority, at: Date.now() });
  say(form, T.registered, true);
  $("#have").hidden = true;
  $("#next").hidden = false;
  $("#next .backup").focus();
}

async function backup() {
  const me = await myKey();
  if (!me) return;
  const jwk = await crypto.subtle.exportKey("jwk", me.priv);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([JSON.stringify({ palabre_key: jwk, public: me.pub, name: me.name || "" })], { type: "application/json" }));
  a.download = "palabre-key-" + (me.name || me.pub.slice(0, 8)).replace(/[^\p{L}\p{N}]+/gu, "-") + ".json";
  a.click();
}

async function restore(file) {
  const saved = JSON.parse(await file.text());
  const priv = await crypto.subtle.importKey("jwk", saved.palabre_key, { name: "Ed25519" }, true, ["sign"]);
  await addKey({ priv, pub: saved.public, name: saved.name || "" });
  say($("#keys"), T.restored, true);
}

// A desk card's QR code opens /me#key=<seed hex>: the key moves into this browser, and
// the fragment (never sent to the server) is wiped from the address bar and history.
async function fromCard(seedHex) {
  const der = cat(unhex("302e020100300506032b657004220420"), unhex(seedHex));
  const priv = await crypto.subtle.importKey("pkcs8", der, { name: "Ed25519" }, true, ["sign"]);
  const x = (await crypto.subtle.exportKey("jwk", priv)).x.replace(/-/g, "+").replace(/_/g, "/");
  const pub = hex(Uint8Array.from(atob(x + "=".repeat((4 - (x.length % 4)) % 4)), (c) => c.charCodeAt(0)));
  await addKey({ priv, pub, name: "" });
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
  const kinds = Object.fromEntries(T.kinds.split(",").map((p) => p.split(":")));
  const all = receipts();
  const events = all.map((e) => { try { return JSON.parse(e.event); } catch { return {}; } });
  // The latest ballot of a voter in a consultation replaces the earlier ones.
  const ballot = (i) => all[i].kind === "ballot" && events[i].body ? events[i].author + events[i].body.consultation : null;
  const latest = {};
  all.forEach((_, i) => { if (ballot(i)) latest[ballot(i)] = i; });
  for (let i = all.length - 1; i >= 0; i--) {
    const entry = all[i];
    const { index, tree_head: { head } } = entry.receipt.receipt;
    const li = document.createElement("li");
    const b = document.createElement("button");
    const out = document.createElement("span");
    li.id = "r-" + index;
    li.textContent = `${new Date(entry.at).toLocaleString(document.documentElement.lang)} · ${kinds[entry.kind] || entry.kind} ${entry.title} · ${T.receipt.replace("{n}", index)} `;
    if (ballot(i) && latest[ballot(i)] !== i) {
      li.className = "replaced";
      li.append(`(${T.replaced}) `);
    }
    b.type = "button";
    b.textContent = T.check;
    b.onclick = () => check(entry, out).catch((e) => { out.textContent = e.message; });
    out.setAttribute("role", "status");
    // The file palabre check-receipt reads: the receipt, and the town's signed authority
    // event, which names the node to ask.
    const file = JSON.stringify({ receipt: entry.receipt, authority: entry.authority, event: entry.event });
    const down = anchor("data:application/json," + encodeURIComponent(file), T.download, "button download");
    down.download = `palabre-receipt-${index}.json`;
    li.append(b, " ", down, " ", anchor(`/receipt/${head.authority}/${index}`, T.print, "button"), " ", out);
    list.append(li);
  }
}

// Who signs: a visitor without a key learns it before filling a form; on a shared
// device, each form says whose key signs, with a way to change it.
async function whoSigns() {
  const me = await myKey();
  const all = await allKeys();
  for (const form of $$("form[data-kind]")) {
    const p = document.createElement("p");
    if (!me) {
      p.className = "warn";
      p.append(T.registerFirst + " ", anchor("/register", T.register));
    } else if (all.length > 1) {
      p.className = "meta signer";
      p.append(`${T.signedAs} ${label(me)} · `, anchor("/me", T.change));
    } else continue;
    form.prepend(p);
  }
  const have = $("#have");
  if (have && me) have.hidden = false;
  const box = $("#ids");
  if (!box || all.length < 2) return;
  box.hidden = false;
  for (const l of $$("label", box)) l.remove();
  for (const k of all) {
    const l = document.createElement("label");
    const i = document.createElement("input");
    l.className = "check";
    i.type = "radio";
    i.name = "id";
    i.checked = me && k.pub === me.pub;
    i.onchange = () => useKey(k.pub).then(showKey);
    l.append(i, " " + label(k));
    box.append(l);
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

// A ballot's limit ("2 max") holds before sending: once it is reached, the other
// choices are disabled until one is unticked.
for (const set of $$("fieldset[data-max]")) {
  const boxes = $$("input[type=checkbox]", set);
  const hold = () => {
    const full = boxes.filter((b) => b.checked).length >= +set.dataset.max;
    for (const b of boxes) b.disabled = full && !b.checked;
  };
  for (const b of boxes) b.addEventListener("change", hold);
  hold();
}
for (const b of $$(".backup")) b.onclick = backup;
const pr = $("#print");
if (pr) { pr.hidden = false; pr.onclick = () => window.print(); }
const card = location.hash.match(/^#key=([0-9a-f]{64})$/);
if (card && $("#keys")) {
  history.replaceState(null, "", location.pathname);
  fromCard(card[1]).then(showKey).catch((e) => say($("#keys"), e.message, false));
}
const r = $("#restore");
if (r) r.onchange = () => r.files[0] && restore(r.files[0]).catch((e) => say($("#keys"), e.message, false));
listReceipts();
function showKey() {
  return myKey().then((me) => { const k = $("#mykey"); if (k && me) k.textContent = me.pub; }).then(whoSigns).then(showCurrent);
}

// The vote that counts for this key here: the latest ballot it sent, kept with its
// receipt, told in the form's own words (a later vote replaces it).
async function showCurrent() {
  const f = $("form[data-kind=ballot]");
  if (!f) return;
  const me = await myKey();
  if (!me) return;
  let last = null;
  for (const r of receipts()) {
    if (r.kind !== "ballot") continue;
    const e = JSON.parse(r.event);
    if (e.author === me.pub && e.body.consultation === f.consultation.value && e.body.choice) last = e.body.choice;
  }
  const p = $(".current", f);
  p.hidden = !last;
  if (!last) return;
  const words = [];
  for (const i of $$("input[name=approve], input[name^='a-'], input[name^='g-']", f)) {
    const k = i.name.slice(2);
    const on = last.approve ? last.approve.includes(i.value) : String((last.answers || last.grades || {})[k]) === i.value;
    const legend = i.type === "radio" ? $("legend", i.closest("fieldset")).textContent + " — " : "";
    if (on) words.push(legend + i.parentElement.textContent.trim());
  }
  $("b", p).textContent = words.join(" · ");
}
showKey();
