// The scanner page: the table follows `scanner_update` pushes while in live mode (the latest run); the slider
// replays the day's runs (each stop loads that run's table, ?partial=1&snapshot=ID). Moving the slider to
// its end, or "live", follows the pushes again. After the socket was down it reloads the latest run.
(function () {
  const body = document.getElementById("scanner-body");
  const box = document.getElementById("scanner-replay");
  const slider = document.getElementById("scan-slider");
  const out = document.getElementById("scan-at");
  const mode = document.getElementById("scan-mode");
  const labels = JSON.parse(document.getElementById("scan-labels").textContent);
  let runs = JSON.parse(document.getElementById("scan-runs").textContent) || [];
  let live = box.dataset.live === "1" || runs.length === 0;
  const clock = new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Seoul", hour: "2-digit", minute: "2-digit", hour12: false });
  let seq = 0;
  function label(i) { out.textContent = runs[i] ? clock.format(new Date(runs[i].at)) : ""; }
  function setLive(on) {
    live = on;
    box.dataset.live = on ? "1" : "0";
    mode.textContent = on ? labels.live : labels.replay;
  }
  function load(id) {
    const url = new URL(location.href);
    url.searchParams.set("partial", "1");
    if (id) url.searchParams.set("snapshot", id); else url.searchParams.delete("snapshot");
    const mine = ++seq;  // a slow reply never overwrites a later choice
    return fetch(url.toString(), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null && mine === seq) body.innerHTML = html; });
  }
  slider.addEventListener("input", function () { label(parseInt(slider.value, 10)); });
  slider.addEventListener("change", function () {
    const i = parseInt(slider.value, 10);
    if (!runs[i]) return;
    setLive(i === runs.length - 1);
    load(runs[i].id);
  });
  document.getElementById("scan-live").addEventListener("click", function () {
    setLive(true);
    slider.value = String(runs.length - 1);
    label(runs.length - 1);
    load(runs.length ? runs[runs.length - 1].id : null);
  });
  window.live.on("scanner_update", function (d) {
    if (runs.length && runs[0].day && d.day !== runs[0].day) runs = [];  // a new trading day
    runs.push({ id: d.snapshot_id, at: d.at, day: d.day });
    box.hidden = false;
    slider.max = String(runs.length - 1);
    if (!live) return;
    slider.value = String(runs.length - 1);
    label(runs.length - 1);
    load(d.snapshot_id);
  });
  let wasDown = false;
  document.addEventListener("live:closed", function () { wasDown = true; });
  document.addEventListener("live:open", function () {
    if (wasDown && live) { wasDown = false; location.reload(); }  // runs pushed meanwhile were missed
  });
})();
