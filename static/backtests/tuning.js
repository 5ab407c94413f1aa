// The tuning page: while the run is not final, poll GET /api/v1/tuning/{id} every second and move the
// progress bar (finished trials / all trials, counted from the trial rows); when it is final, reload (the
// page then renders the out-of-sample headline, the per-window choice, the heat map and the trials).
(function () {
  "use strict";
  const box = document.getElementById("tuning-progress");
  if (!box || box.dataset.final === "1") return;
  const bar = document.getElementById("tuning-bar");
  const pct = document.getElementById("tuning-pct");
  const status = document.getElementById("tuning-status");
  const count = document.getElementById("tuning-count");
  const poll = async () => {
    try {
      const response = await fetch(box.dataset.api, { headers: { Accept: "application/json" },
                                                       credentials: "same-origin" });
      if (response.ok) {
        const run = await response.json();
        const p = run.progress;
        bar.value = p.progress;
        bar.textContent = p.progress + "%";
        pct.textContent = p.progress;
        status.textContent = run.status_label;
        status.dataset.status = run.status;
        count.textContent = p.finished + " / " + p.total;
        if (run.is_final) {
          window.location.reload();
          return;
        }
      }
    } catch (e) { /* the next poll tries again */ }
    window.setTimeout(poll, 1000);
  };
  window.setTimeout(poll, 1000);
})();
