"use strict";
(() => {
  const { api, el } = window.edpbrl;
  const form = document.getElementById("start-form");
  const errorBox = document.getElementById("start-error");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    errorBox.hidden = true;
    const style = document.getElementById("style").value.trim();
    const k = parseInt(document.getElementById("k").value, 10);
    const episodes = parseInt(document.getElementById("episodes").value, 10);
    const button = document.getElementById("start");
    button.disabled = true;
    try {
      const body = { style, share: document.getElementById("share").checked };
      if (Number.isInteger(k)) body.k = k;
      if (Number.isInteger(episodes)) body.episodes = episodes;
      const data = await api("POST", "/api/sessions", body);
      window.edpbrl.remember(data.id, style);
      window.location.assign(data.url);
    } catch (err) {
      errorBox.textContent = err.message;
      errorBox.hidden = false;
      button.disabled = false;
    }
  });

  let recent = [];
  try { recent = JSON.parse(localStorage.getItem("edpbrl.sessions") || "[]"); } catch (_) { recent = []; }
  if (recent.length) {
    const list = document.getElementById("recent-list");
    for (const s of recent) {
      const when = new Date(s.at).toLocaleString();
      list.append(el("li", {}, el("a", { href: `/s/${s.id}`, text: s.style || "(no description)" }),
        el("span", { class: "muted", text: ` · ${when}` })));
    }
    document.getElementById("recent").hidden = false;
  }
})();
