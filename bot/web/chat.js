// The web chat: one session id per browser (localStorage), one message id per message so a
// retried request is not answered twice; moderator replies are fetched while the page is open,
// shown once each and acknowledged.
(function () {
  "use strict";
  const log = document.getElementById("log");
  const form = document.getElementById("form");
  const input = document.getElementById("text");
  const KEY = "workright.session";
  function randomId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  let session = localStorage.getItem(KEY);
  const firstVisit = !session;
  if (firstVisit) { session = randomId(); localStorage.setItem(KEY, session); }

  function bubble(cls, text) {
    const div = document.createElement("div");
    div.className = "msg " + cls;
    div.textContent = text;   // never innerHTML: texts are untrusted
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }
  function render(reply, extraClass) {
    const div = bubble("bot" + (extraClass ? " " + extraClass : ""), reply.text);
    if (reply.buttons && reply.buttons.length) {
      const row = document.createElement("div");
      row.className = "buttons";
      for (const b of reply.buttons) {
        const btn = document.createElement("button");
        btn.type = "button";
        btn.textContent = b.label;
        btn.addEventListener("click", () => send(b.value, b.label));
        row.appendChild(btn);
      }
      div.appendChild(row);
    }
    if (reply.citations && reply.citations.length) {
      const cites = document.createElement("div");
      cites.className = "cites";
      reply.citations.forEach((c, i) => {
        if (i) cites.appendChild(document.createTextNode(" · "));
        const a = document.createElement("a");
        a.textContent = c.title;
        if (c.url) { a.href = c.url; a.target = "_blank"; a.rel = "noopener noreferrer"; }
        cites.appendChild(a);
      });
      div.appendChild(cites);
    }
  }
  async function send(text, shown) {
    bubble("me", shown === undefined ? text : shown);
    const body = JSON.stringify({ session: session, text: text, message_id: randomId() });
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const res = await fetch("/api/messages", {
          method: "POST", headers: { "Content-Type": "application/json" }, body: body,
        });
        const data = await res.json();
        (data.replies || []).forEach((r) => render(r));
        if (!res.ok && !(data.replies || []).length) bubble("bot error", data.error || "error");
        return;
      } catch (e) {
        await new Promise((r) => setTimeout(r, 1000 * (attempt + 1)));
      }
    }
    bubble("bot error", "网络错误，请稍后再试。Network error, please try again.");
  }
  // Moderator replies: each id is shown once (a reply whose acknowledgement was lost comes
  // back after a minute), then acknowledged so the server counts it as delivered.
  const SHOWN = "workright.shown";
  function shownIds() {
    try { return new Set(JSON.parse(localStorage.getItem(SHOWN) || "[]")); }
    catch (e) { return new Set(); }
  }
  async function poll() {
    try {
      const res = await fetch("/api/messages/outbox?session=" + encodeURIComponent(session));
      if (!res.ok) return;
      const data = await res.json();
      const replies = data.replies || [];
      if (!replies.length) return;
      const shown = shownIds();
      for (const r of replies) {
        if (!shown.has(r.id)) { render(r, "moderator"); shown.add(r.id); }
      }
      localStorage.setItem(SHOWN, JSON.stringify(Array.from(shown).slice(-200)));
      await fetch("/api/messages/outbox/ack", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ session: session, ids: replies.map((r) => r.id) }),
      });
    } catch (e) { /* offline: try again later; unacknowledged replies come back */ }
  }
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    send(text);
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
  });
  if (firstVisit) send("/start", "👋"); else send("/help", "?");
  poll();
  setInterval(poll, 5000);
})();
