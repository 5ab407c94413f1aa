// The reports page: daily return, cumulative return against KOSPI/KOSDAQ, and drawdown, drawn with
// Chart.js (static/vendor/chartjs) from the JSON the page embeds (#reports-data).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("reports-data").textContent);
  const labels = JSON.parse(document.getElementById("reports-labels").textContent);
  const days = data.daily.map((p) => p.date);
  const num = (v) => (v === null || v === undefined ? null : Number(v));
  const base = { animation: false, responsive: true, maintainAspectRatio: false,
                 interaction: { mode: "index", intersect: false } };
  const charts = {};
  const draw = (id, datasets) => {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    charts[id] = new Chart(canvas, { type: "line", data: { labels: days, datasets }, options: base });
  };
  draw("chart-daily", [{ label: labels.daily, data: data.daily.map((p) => num(p.return_pct)),
                         borderColor: "#2563eb", pointRadius: 2 }]);
  const cumulative = [{ label: labels.cumulative, data: data.daily.map((p) => num(p.cumulative_pct)),
                        borderColor: "#16a34a", pointRadius: 2 }];
  const colors = { KS11: "#9333ea", KQ11: "#ea580c" };
  Object.entries(data.index || {}).forEach(([code, series]) => {
    if (!series.length) return;
    const byDay = Object.fromEntries(series.map((p) => [p.date, num(p.cumulative_pct)]));
    cumulative.push({ label: labels[code] || code, data: days.map((d) => (d in byDay ? byDay[d] : null)),
                      borderColor: colors[code] || "#64748b", borderDash: [4, 3], pointRadius: 0,
                      spanGaps: true });
  });
  draw("chart-cumulative", cumulative);
  draw("chart-drawdown", [{ label: labels.drawdown, data: data.daily.map((p) => -num(p.drawdown_pct)),
                            borderColor: "#dc2626", backgroundColor: "rgba(220,38,38,.15)", fill: true,
                            pointRadius: 0 }]);
  window.STOCKAGENT_REPORT_CHARTS = charts;
})();
