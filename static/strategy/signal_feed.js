// The overview's signal feed: each `trade_signal` push adds (or updates) a row at the top.
(function () {
  const table = document.getElementById("signal-feed");
  if (!table || !window.live) return;
  const body = table.querySelector("tbody");
  const labelsNode = document.getElementById("signal-status-labels");
  const labels = labelsNode ? JSON.parse(labelsNode.textContent) : {};
  const MAX_ROWS = 20;
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
  const engineNode = document.getElementById("engine-status");
  const engineLabelsNode = document.getElementById("engine-status-labels");
  const engineLabels = engineLabelsNode ? JSON.parse(engineLabelsNode.textContent) : {};
  // system_status: whether the engine runs and whether entries may go out (the trading gate).
  window.live.on("system_status", (st) => {
    if (!engineNode || !st) return;
    engineNode.dataset.status = st.status;
    engineNode.querySelector("b").textContent = engineLabels[st.status] || st.status;
  });
  window.live.on("trade_signal", (s) => {
    if (!s || s.id === undefined) return;
    const empty = body.querySelector("tr.empty");
    if (empty) empty.remove();
    let row = body.querySelector('tr[data-signal="' + s.id + '"]');
    const fresh = !row;
    if (fresh) row = document.createElement("tr");
    row.dataset.signal = s.id;
    row.replaceChildren();
    row.appendChild(cell(time(s.at)));
    row.appendChild(cell(s.strategy || ""));
    const name = document.createElement("td");
    const link = document.createElement("a");
    link.href = "/signals/" + encodeURIComponent(s.id) + "/";
    link.textContent = (s.name || s.code) + " ";
    const code = document.createElement("code");
    code.textContent = s.code;
    link.appendChild(code);
    name.appendChild(link);
    row.appendChild(name);
    row.appendChild(cell(s.action, "side " + s.action));
    row.appendChild(cell(s.reason, "reason"));
    row.appendChild(cell(labels[s.status] || s.status, "status " + s.status));
    if (fresh) body.insertBefore(row, body.firstChild);
    while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
  });
})();
