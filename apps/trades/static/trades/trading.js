// Live tables of the trading pages: a container with data-live-refresh="event event" reloads its
// server-rendered rows (?partial=1) when one of those /ws/live events arrives (debounced); with
// data-order-ids="id id" only events of those orders count (one order's page). While the socket is down
// it polls every data-poll-seconds instead, and it reloads once when the socket is back (events sent
// meanwhile were missed). The positions table also reprices rows on price_update at once, and
// reloads on a position_update only when the quantity changed (the realtime process sends one per held
// code every TRADES_PRICE_PUSH_MS: reloading on each would keep the page fetching); one that carries a
// `stop` (the books, the risk engine's stop moving) updates the row's stop price.
(function () {
  function partialUrl() {
    const url = new URL(location.href);
    url.searchParams.set("partial", "1");
    return url.toString();
  }
  document.querySelectorAll("[data-live-refresh]").forEach(function (box) {
    const target = box.tagName === "TABLE" ? box.querySelector("tbody") : box;
    let timer = null;
    let busy = false;
    function refresh() {
      if (busy) return;
      busy = true;
      fetch(partialUrl(), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) target.innerHTML = html; })
        .finally(function () { busy = false; });
    }
    function soon() { clearTimeout(timer); timer = setTimeout(refresh, 250); }
    box.liveRefreshSoon = soon;
    const ids = box.dataset.orderIds ? box.dataset.orderIds.split(" ") : null;
    function onEvent(d) { if (!ids || (d && ids.indexOf(String(d.order_id)) >= 0)) soon(); }
    box.dataset.liveRefresh.split(" ").forEach(function (type) { if (type) window.live.on(type, onEvent); });
    const poll = parseFloat(box.dataset.pollSeconds || "0");
    if (poll > 0) setInterval(function () { if (!window.live.isOpen()) refresh(); }, poll * 1000);
    let wasDown = false;
    document.addEventListener("live:closed", function () { wasDown = true; });
    document.addEventListener("live:open", function () { if (wasDown) { wasDown = false; soon(); } });
  });
  const positions = document.getElementById("positions");
  if (positions) {
    const fmt = new Intl.NumberFormat("ko-KR");
    window.live.on("price_update", function (d) {
      const row = positions.querySelector('tr[data-code="' + d.code + '"]');
      if (!row || typeof d.price !== "number") return;
      const qty = parseInt(row.dataset.qty, 10), cost = parseInt(row.dataset.cost, 10);
      const pnl = d.price * qty - cost;
      row.querySelector(".price").textContent = fmt.format(d.price) + "원";
      row.querySelector(".pnl").textContent = fmt.format(pnl) + "원";
      if (cost) row.querySelector(".rate").textContent = (pnl >= 0 ? "+" : "") + (pnl * 100 / cost).toFixed(2) + "%";
    });
    window.live.on("position_update", function (d) {
      const row = positions.querySelector('tr[data-code="' + d.code + '"]');
      const qty = row ? parseInt(row.dataset.qty, 10) : 0;
      if (qty !== d.qty && positions.liveRefreshSoon) positions.liveRefreshSoon();
      else if (row && "stop" in d) row.querySelector(".stop").textContent = typeof d.stop === "number" ? fmt.format(d.stop) + "원" : "-";
    });
  }
})();
