// The overview page, kept current over /ws/live: the account summary and the day's equity curve
// (`account_balance`), automatic trading and the risk state (`risk_state`), the market phase (the status
// strip's exchange clock), the last fill (`order_filled`) and the position cards (`price_update`,
// `position_update`, with the stop price when it carries one; the cards are reloaded from
// `?partial=positions` when a quantity changes).
(function () {
  if (!window.live) return;
  const json = (id) => { const n = document.getElementById(id); return n ? JSON.parse(n.textContent) : {}; };
  const labels = json("overview-labels");
  const riskLabels = json("risk-state-labels");
  const won = new Intl.NumberFormat("ko-KR");
  const money = (v) => (typeof v === "number" ? window.STOCKAGENT.won.replace("%s", won.format(v)) : "-");
  const rate = (v) => {
    const n = parseFloat(v);
    return isNaN(n) ? "-" : (n > 0 ? "+" : "") + n.toFixed(2) + "%";
  };
  const kstTime = (iso, withDay) => {
    const d = new Date(iso);
    if (isNaN(d)) return "-";
    const opts = { timeZone: "Asia/Seoul", hourCycle: "h23", hour: "2-digit", minute: "2-digit", second: "2-digit" };
    if (withDay) { opts.month = "2-digit"; opts.day = "2-digit"; }
    const p = Object.fromEntries(new Intl.DateTimeFormat("en-CA", opts).formatToParts(d).map((x) => [x.type, x.value]));
    const t = p.hour + ":" + p.minute + ":" + p.second;
    return withDay ? p.month + "-" + p.day + " " + t : t;
  };
  const sign = (node, v) => {
    node.classList.toggle("pos", typeof v === "number" && v > 0);
    node.classList.toggle("neg", typeof v === "number" && v < 0);
  };

  // --- the equity curve -------------------------------------------------------------------------------
  const points = json("equity-data");
  const canvas = document.getElementById("equity-chart");
  let chart = null;
  if (canvas && window.Chart) {
    chart = new Chart(canvas, {
      type: "line",
      data: { labels: points.map((p) => kstTime(p.at)),
              datasets: [{ label: labels.assets, data: points.map((p) => p.value), borderColor: "#2563eb",
                           pointRadius: 0, tension: 0.1 }] },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
                 interaction: { mode: "index", intersect: false }, plugins: { legend: { display: false } } },
    });
  }
  window.STOCKAGENT_EQUITY_CHART = chart;

  // --- the account summary ----------------------------------------------------------------------------
  const account = document.getElementById("ov-account");
  window.live.on("account_balance", (b) => {
    if (!account || !b) return;
    account.dataset.hasBalance = "1";
    account.querySelectorAll("[data-field]").forEach((node) => {
      const k = node.dataset.field, v = b[k];
      if (k === "at") node.textContent = kstTime(v);
      else if (k === "day_pnl_rate") node.textContent = rate(v);
      else node.textContent = money(v);
      if (k === "day_pnl") sign(node, v);
    });
    if (chart && typeof b.estimated_assets === "number") {
      chart.data.labels.push(kstTime(b.at));
      chart.data.datasets[0].data.push(b.estimated_assets);
      chart.update();
      const empty = document.getElementById("equity-empty");
      if (empty) empty.hidden = true;
    }
  });

  // --- the system status ------------------------------------------------------------------------------
  const trading = document.getElementById("ov-trading");
  const risk = document.getElementById("ov-risk");
  function showGate(s) {
    if (!trading || s.switch === undefined) return;
    trading.dataset.switch = s.switch ? "1" : "0";
    trading.dataset.entries = s.entries_allowed ? "1" : "0";
    trading.querySelector("b").textContent = s.switch ? labels.running : labels.stopped;
    trading.querySelector("small").textContent = s.entries_allowed ? labels.allowed : labels.blocked;
  }
  window.live.on("system_status", (s) => { if (s) showGate(s); });
  window.live.on("risk_state", (s) => {
    if (!s) return;
    if (risk && s.state) {
      risk.dataset.state = s.state;
      risk.querySelector("b").textContent = riskLabels[s.state] || s.state;
    }
    showGate(s);
  });
  const market = document.getElementById("ov-market");
  document.addEventListener("market:phase", (ev) => {
    if (!market) return;
    market.dataset.phase = ev.detail.phase;
    market.querySelector("b").textContent = ev.detail.label;
  });
  const lastFill = document.getElementById("ov-last-fill");
  window.live.on("order_filled", (f) => { if (lastFill && f && f.at) lastFill.textContent = kstTime(f.at, true); });

  // --- the position cards -----------------------------------------------------------------------------
  const cards = document.getElementById("position-cards");
  if (!cards) return;
  let timer = null, busy = false;
  function reload() {
    if (busy) return;
    busy = true;
    fetch("/?partial=positions", { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then((r) => (r.ok ? r.text() : null))
      .then((html) => { if (html !== null) cards.innerHTML = html; })
      .finally(() => { busy = false; });
  }
  const reloadSoon = () => { clearTimeout(timer); timer = setTimeout(reload, 250); };
  const card = (code) => cards.querySelector('.pos-card[data-code="' + code + '"]');
  function showPnl(node, pnl) {
    const cost = parseInt(node.dataset.cost, 10);
    const el = node.querySelector(".pnl");
    el.textContent = money(pnl);
    sign(el, pnl);
    if (cost && typeof pnl === "number") node.querySelector(".rate").textContent = rate((pnl * 100) / cost);
  }
  window.live.on("price_update", (d) => {
    const node = d && card(d.code);
    if (!node || typeof d.price !== "number") return;
    node.querySelector(".price").textContent = money(d.price);
    showPnl(node, d.price * parseInt(node.dataset.qty, 10) - parseInt(node.dataset.cost, 10));
  });
  window.live.on("position_update", (d) => {
    if (!d) return;
    const node = card(d.code);
    if (!node || parseInt(node.dataset.qty, 10) !== d.qty) { reloadSoon(); return; }
    if (typeof d.pnl === "number") showPnl(node, d.pnl);
    // The books and the risk engine send the stop price when it moves (the per-tick pushes do not).
    if ("stop" in d) node.querySelector(".stop").textContent = money(d.stop);
  });
  // Events sent while the socket was down were missed: reload the cards once it is back.
  let wasDown = false;
  document.addEventListener("live:closed", () => { wasDown = true; });
  document.addEventListener("live:open", () => { if (wasDown) { wasDown = false; reloadSoon(); } });
})();
