// The status strip's exchange clock: ticks locally at the exchange's speed (the simulator may run 60x) and
// asks the server for the phase again when the current one ends (and every few minutes against drift).
(function () {
  const chip = document.getElementById("market-status");
  if (!chip) return;
  const fmt = new Intl.DateTimeFormat("en-CA", {
    timeZone: "Asia/Seoul", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  let base, loadedAt, speed, next, refreshing = false, lastSync = Date.now();
  function load(now, s, nxt) {
    base = new Date(now).getTime(); loadedAt = Date.now(); speed = s || 1;
    next = nxt ? new Date(nxt).getTime() : null;
  }
  function show(ms) {
    const p = Object.fromEntries(fmt.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
    chip.querySelector(".clock").textContent = `${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  }
  function refresh() {
    if (refreshing) return;
    refreshing = true;
    fetch("/api/v1/market/status", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((s) => {
        if (!s) return;
        load(s.now, s.speed, s.next_change);
        chip.className = "chip market " + s.phase;
        chip.querySelector(".phase").textContent = s.label;
        chip.dataset.phase = s.phase;
        lastSync = Date.now();
        document.dispatchEvent(new CustomEvent("market:phase", { detail: s }));
      })
      .catch(() => {})
      .finally(() => { refreshing = false; });
  }
  load(chip.dataset.now, parseFloat(chip.dataset.speed), chip.dataset.next);
  chip.dataset.phase = chip.className.split(" ").pop();
  setInterval(() => {
    const now = base + (Date.now() - loadedAt) * speed;
    show(now);
    if ((next && now >= next) || Date.now() - lastSync > 300000) refresh();
  }, 1000);
  window.marketClock = { refresh: refresh };
})();
