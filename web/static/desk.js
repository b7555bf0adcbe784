/* desk.js: the desk's assisted secret ballot (staff/ballot.html, form[data-desk]), over
sealed.js (loaded first). The agent's device derives the card's public key, seals the
choice for it as a resident's vote page does, and the form then sends the card and the
sealed member only: the choice's inputs are disabled before sending, so the node never
sees it (PROTOCOL.md, "Secret ballots", the desk). Loaded on that page only. */
(() => {
  const { hx, xh } = palabreSeal.t;
  const desk = async (f) => {
    const h = f.card.value.split("key=").pop().replace(/[\s-]/g, "").toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(h)) throw Error(f.dataset.badCard);
    const der = Uint8Array.from([48, 46, 2, 1, 0, 48, 5, 6, 3, 43, 101, 112, 4, 34, 4, 32, ...xh(h)]),
      k = await crypto.subtle.importKey("pkcs8", der, { name: "Ed25519" }, true, ["sign"]),
      x = (await crypto.subtle.exportKey("jwk", k)).x.replace(/-/g, "+").replace(/_/g, "/"),
      pub = hx(Uint8Array.from(atob(x + "=".repeat((4 - x.length % 4) % 4)), (c) => c.charCodeAt(0)));
    f.sealed.value = JSON.stringify((await palabreSeal(palabreSeal.form(f, pub))).sealed);
    for (const i of f.querySelectorAll("[name=approve],[name^='a-'],[name^='g-']")) i.disabled = true;
    f.submit();
  };
  for (const f of document.querySelectorAll("form[data-desk]")) f.onsubmit = (e) => {
    e.preventDefault();
    desk(f).catch((err) => { f.querySelector("output").textContent = err.message; });
  };
})();
