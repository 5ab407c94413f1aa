// The strategy page follows the live socket: a `trade_signal` push (seed 004 §8.3, pushed by the realtime
// engine when a signal is stored and decided) prepends a row to the recent signals, or updates the row of
// the same signal id; a `strategy_config` push (a new version) reloads the page unless a form is open.
(function () {
  if (!window.live) return;
  const labels = JSON.parse(document.getElementById("strategy-labels").textContent);
  const MAX_ROWS = 50;
  function kst(iso) {
    if (!iso) return "-";
    const d = new Date(iso);
    const parts = new Intl.DateTimeFormat("en-GB", {
      timeZone: "Asia/Seoul", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      second: "2-digit", hour12: false,
    }).formatToParts(d).reduce((o, p) => { o[p.type] = p.value; return o; }, {});
    return `${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
  }
  function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
  window.live.on("trade_signal", (data) => {
    const body = document.getElementById("signal-rows");
    if (!body || !data) return;
    const empty = body.querySelector("tr.empty");
    if (empty) empty.remove();
    const id = data.id != null ? String(data.id) : "";
    let row = id ? body.querySelector(`tr[data-signal="${id}"]`) : null;
    const fresh = document.createElement("tr");
    fresh.dataset.signal = id;
    fresh.className = "live";
    const reasons = (data.risk_reasons || []).map((r) => r.message || r.code || r).join(" · ");
    fresh.append(
      cell(kst(data.at)),
      cell(data.strategy || "-"),
      cell(`${data.code || ""} ${data.name || ""}`.trim()),
      cell(labels[data.action] || data.action || "-"),
      cell(data.price != null ? Number(data.price).toLocaleString("ko-KR") + labels.won : "-"),
      cell(((labels.status || {})[data.status] || data.status || "") + (reasons ? ` (${reasons})` : "")),
      cell(data.reason || ""),
      cell(""),
    );
    fresh.children[5].className = "status";
    if (row) {
      fresh.lastChild.innerHTML = row.lastChild.innerHTML; // the features stay as rendered
      row.replaceWith(fresh);
    } else {
      body.prepend(fresh);
      while (body.rows.length > MAX_ROWS) body.deleteRow(-1);
    }
  });
  window.live.on("strategy_config", () => {
    if (!document.querySelector("section.strategy details[open]")) location.reload();
  });
})();
