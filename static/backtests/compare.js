// Backtest comparison page: every run's return curve (% of its own starting equity, one point per day's
// close) on one Chart.js line chart, from #compare-curves.
(function () {
  "use strict";
  const data = document.getElementById("compare-curves");
  const canvas = document.getElementById("chart-compare");
  if (!data || !canvas || typeof Chart === "undefined") return;
  const curves = JSON.parse(data.textContent);
  const times = Array.from(new Set(curves.flatMap((c) => c.points.map((p) => p.time)))).sort();
  const colors = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];
  window.STOCKAGENT_COMPARE_CHART = new Chart(canvas, {
    type: "line",
    data: {
      labels: times,
      datasets: curves.map((c, i) => {
        const byTime = new Map(c.points.map((p) => [p.time, Number(p.return_pct)]));
        return { label: c.label, data: times.map((t) => (byTime.has(t) ? byTime.get(t) : null)),
                 borderColor: colors[i % colors.length], pointRadius: 2, spanGaps: true };
      }),
    },
    options: { animation: false, responsive: true, maintainAspectRatio: false,
               interaction: { mode: "index", intersect: false } },
  });
})();
