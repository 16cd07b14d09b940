"use strict";
(() => {
  const { api, el } = window.edpbrl;
  const root = document.getElementById("app");
  const sid = root.dataset.session;
  const base = `/api/sessions/${sid}`;
  const $ = (id) => document.getElementById(id);
  const views = ["designing", "failed", "asking"];

  let current = null;   // last state from the server
  let selected = null;  // selected position (0-based) or null
  let busy = false;     // a request is in flight: ignore keys, so nothing is sent twice
  let learnedAt = -1;   // answer count the learned panel was last loaded for
  let learning = false; // a summary request is in flight (one at a time: no pile-up on a busy server)
  let learnAgain = false; // ... and the person passed another summary point meanwhile

  // keys 1..9 select the first nine options and 0 the tenth (K ≤ 10)
  const keyOf = (pos) => (pos === 9 ? "0" : String(pos + 1));
  const posOf = (key) => (key === "0" ? 9 : Number(key) - 1);

  function show(view) {
    for (const v of views) $(v).hidden = v !== view;
  }

  function setError(msg) {
    const box = $("action-error");
    box.textContent = msg || "";
    box.hidden = !msg;
  }

  function select(pos) {
    if (!current || !current.question) return;
    if (pos < 0 || pos >= current.question.options.length) return;
    selected = pos;
    document.querySelectorAll(".option").forEach((node) => {
      const on = Number(node.dataset.position) === pos;
      node.classList.toggle("selected", on);
      node.setAttribute("aria-selected", on ? "true" : "false");
    });
    $("confirm").disabled = false;
  }

  function renderQuestion(s) {
    const q = s.question;
    $("counter").textContent = `Question ${q.number} of ${q.total}`;
    $("question-progress").max = q.total;
    $("question-progress").value = q.number - 1;
    $("answered").textContent = `${s.n_answered} answered`;
    $("slot-hint").textContent = q.slot ? `(varying: ${q.slot})` : "";
    const box = $("options");
    box.replaceChildren();
    const n = q.options.length;
    box.style.setProperty("--k", n);
    box.style.setProperty("--cols", n <= 5 ? n : Math.ceil(n / 2));  // K > 5: two rows
    $("max-key").textContent = n === 10 ? "9" : String(n);
    $("key-zero").hidden = n !== 10;
    for (const o of q.options) {
      const card = el("div", {
        class: "option card", role: "option", "data-position": String(o.position),
        "aria-selected": "false", tabindex: "0",
      });
      card.append(el("span", { class: "key", text: keyOf(o.position), "aria-hidden": "true" }));
      if (o.image) {
        card.append(el("img", { src: o.image, alt: o.text, class: "option-image" }));
      }
      card.append(el("p", { class: o.image ? "prompt-text small" : "prompt-text", text: o.text || "(empty prompt)" }));
      card.addEventListener("click", () => select(o.position));
      card.addEventListener("dblclick", () => { select(o.position); send("choose"); });
      box.append(card);
    }
    selected = null;
    $("confirm").disabled = true;
    $("undo").disabled = !s.can_undo;
    root.dataset.questionId = q.id;
  }

  async function renderLearned(s, again = false) {
    if (s.n_answered === learnedAt || !(again || s.show_summary)) return;
    if (learning) { learnAgain = true; return; }
    learning = true;
    learnedAt = s.n_answered;
    try {
      const sum = await api("GET", `${base}/summary`);
      $("uncertainty").textContent = Number(sum.uncertainty).toFixed(3);
      $("learned-n").textContent = `(after ${sum.n_answers} answers)`;
      const slots = $("learned-slots");
      slots.replaceChildren();
      for (const sl of sum.slots) {
        const likes = el("p", { class: "likes" }, el("span", { class: "tag", text: "likes" }));
        for (const [tok] of sl.top) likes.append(el("span", { class: "token plus", text: tok || "(nothing)" }));
        const dislikes = el("p", { class: "dislikes" }, el("span", { class: "tag", text: "dislikes" }));
        for (const [tok] of sl.bottom) dislikes.append(el("span", { class: "token minus", text: tok || "(nothing)" }));
        slots.append(el("div", { class: "slot" }, el("h3", { text: sl.slot }), likes, dislikes));
      }
      $("learned").hidden = false;
    } catch (_) { /* the panel is optional */ }
    learning = false;
    if (learnAgain && current && current.state === "asking") {
      learnAgain = false;
      renderLearned(current, true);
    }
  }

  function render(s) {
    current = s;
    root.dataset.state = s.state;
    if (s.state === "designing" || s.state === "loading") {
      show("designing");
      $("designing-title").textContent = s.state === "loading"
        ? "Restoring your session…" : "Preparing your questions…";
      // `total` is the solver's iteration cap, not an estimate of the work left, so the bar is
      // indeterminate and the solver's own message (iteration, duality gap) shows the progress
      const p = s.progress || {};
      $("design-progress").removeAttribute("value");
      const step = p.done ? `step ${p.done}` : "";
      $("design-message").textContent = [step, p.message].filter(Boolean).join(" · ");
      setTimeout(poll, 250);
    } else if (s.state === "error") {
      show("failed");
      $("failed-message").textContent = s.error || "unknown error";
    } else if (s.state === "done") {
      goToResult("All done. Writing your personalised prompts…");
    } else if (s.state === "asking") {
      show("asking");
      renderQuestion(s);
      renderLearned(s);
    }
  }

  // The best prompts come from a beam search that can take a while with a large vocabulary:
  // compute them (the server caches the result) while showing a message, then open the page.
  async function goToResult(message) {
    show("designing");
    $("designing-title").textContent = message;
    $("design-progress").removeAttribute("value");  // indeterminate
    $("design-message").textContent = "";
    try { await api("GET", `${base}/result`); } catch (_) { /* the page reports errors */ }
    window.location.assign(`/s/${sid}/result`);
  }

  async function poll() {
    try { render(await api("GET", base)); } catch (err) {
      show("failed");
      $("failed-message").textContent = err.message;
    }
  }

  async function send(action) {
    if (busy || !current || current.state !== "asking") return;
    const body = { question_id: current.question.id, action };
    if (action === "choose") {
      if (selected === null) return;
      body.position = selected;
    }
    busy = true;
    setError("");
    try {
      render(await api("POST", `${base}/answer`, body));
    } catch (err) {
      setError(err.message);
      if (err.status === 409) await poll();
    } finally {
      busy = false;
    }
  }

  async function undo() {
    if (busy || !current || !current.can_undo) return;
    busy = true;
    setError("");
    try {
      learnedAt = -1;
      render(await api("POST", `${base}/undo`, {}));
    } catch (err) {
      setError(err.message);
    } finally {
      busy = false;
    }
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (!current || current.state !== "asking") return;
    const key = ev.key;
    if (/^[0-9]$/.test(key)) {
      select(posOf(key));
    } else if (key === "Enter") {
      ev.preventDefault();
      send("choose");
    } else if (key === "u" || key === "U") {
      undo();
    } else if (key === "s" || key === "S") {
      send("skip");
    } else if (key === "t" || key === "T") {
      send("no_preference");
    } else {
      return;
    }
    ev.preventDefault();
  });
  $("confirm").addEventListener("click", () => send("choose"));
  $("skip").addEventListener("click", () => send("skip"));
  $("nopref").addEventListener("click", () => send("no_preference"));
  $("undo").addEventListener("click", () => undo());
  $("see-result").addEventListener("click", (ev) => {
    ev.preventDefault();
    if (!busy) goToResult("Writing your personalised prompts so far…");
  });

  window.edpbrl.remember(sid, (document.querySelector(".style-note q") || {}).textContent);
  poll();
})();
