"use strict";
(() => {
  const { api } = window.edpbrl;
  const sid = document.getElementById("result").dataset.session;
  const share = document.getElementById("share");
  const shareError = document.getElementById("share-error");
  share.addEventListener("change", async () => {
    shareError.hidden = true;
    try {
      await api("POST", `/api/sessions/${sid}/share`, { share: share.checked });
    } catch (err) {
      share.checked = !share.checked;
      shareError.textContent = err.message;
      shareError.hidden = false;
    }
  });
  const form = document.getElementById("extend-form");
  const errorBox = document.getElementById("extend-error");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    errorBox.hidden = true;
    const episodes = parseInt(document.getElementById("more-episodes").value, 10);
    try {
      await api("POST", `/api/sessions/${sid}/extend`, { episodes });
      window.location.assign(`/s/${sid}`);
    } catch (err) {
      errorBox.textContent = err.message;
      errorBox.hidden = false;
    }
  });
})();
