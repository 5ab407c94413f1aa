// The overview's feed of the day: strategy signals (`trade_signal`, a row per signal, updated in place when
// its outcome arrives), fills (`order_filled`) and condition hits (`conditions.update` events), newest on top.
(function () {
  const table = document.getElementById("signal-feed");
  if (!table || !window.live) return;
  const body = table.querySelector("tbody");
  const json = (id) => { const n = document.getElementById(id); return n ? JSON.parse(n.textContent) : {}; };
  const labels = json("signal-status-labels");
  const sides = json("feed-side-labels");
  const words = json("feed-labels");
  const MAX_ROWS = 30;
  const won = new Intl.NumberFormat("ko-KR");
  function cell(text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    return td;
  }
  function time(iso) {
    const d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleTimeString("en-GB", { timeZone: "Asia/Seoul", hour12: false });
  }
  function money(v) {
    return typeof v === "number" ? window.STOCKAGENT.won.replace("%s", won.format(v)) : "-";
  }
  // One row: attr ("signal", "fill", "condition-event") + id identify it; a known row is replaced in place.
  function put(attr, id, item) {
    const empty = body.querySelector("tr.empty");
    if (empty) empty.remove();
    let row = body.querySelector("tr[data-" + attr + '="' + id + '"]');
    const fresh = !row;
    if (fresh) row = document.createElement("tr");
    row.setAttribute("data-" + attr, id);
    row.dataset.kind = item.kind;
    row.replaceChildren();
    row.appendChild(cell(time(item.at)));
    row.appendChild(cell(item.source || "", "source"));
    const name = document.createElement("td");
    const link = document.createElement("a");
    link.href = item.url;
    link.textContent = (item.name || item.code) + " ";
    const code = document.createElement("code");
    code.textContent = item.code;
    link.appendChild(code);
    name.appendChild(link);
    row.appendChild(name);
    row.appendChild(cell(sides[item.side] || item.side, "side " + item.side));
    row.appendChild(cell(item.detail, "reason"));
    row.appendChild(cell(item.statusLabel, "status " + item.status));
    if (fresh) body.insertBefore(row, body.firstChild);
    while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
    return row;
  }
  const engineNode = document.getElementById("engine-status");
  const engineLabels = json("engine-status-labels");
  // system_status: whether the engine runs and whether entries may go out (the trading gate).
  window.live.on("system_status", (st) => {
    if (!engineNode || !st) return;
    engineNode.dataset.status = st.status;
    engineNode.querySelector("b").textContent = engineLabels[st.status] || st.status;
  });
  window.live.on("trade_signal", (s) => {
    if (!s || s.id === undefined) return;
    put("signal", s.id, {
      kind: "signal", at: s.at, source: s.strategy, code: s.code, name: s.name, side: s.action,
      detail: s.reason, status: s.status, statusLabel: labels[s.status] || s.status,
      url: "/signals/" + encodeURIComponent(s.id) + "/",
    });
  });
  window.live.on("order_filled", (f) => {
    if (!f || f.fill_id === undefined) return;
    put("fill", f.fill_id, {
      kind: "fill", at: f.at, source: words.fill, code: f.code, name: f.name, side: f.side,
      detail: f.qty + words.shares + " @ " + money(f.price), status: "filled", statusLabel: words.fill,
      url: "/orders/" + encodeURIComponent(f.order_id) + "/",
    });
  });
  window.live.on("conditions.update", (d) => {
    if (!d || !d.events || !d.condition) return;
    d.events.forEach((e) => {
      put("condition-event", e.id, {
        kind: "condition", at: e.at, source: d.condition.name, code: e.code, name: e.name, side: e.kind,
        detail: money(e.price), status: e.kind, statusLabel: sides[e.kind] || e.kind,
        url: "/conditions/" + encodeURIComponent(d.condition.id) + "/",
      });
    });
  });
})();
