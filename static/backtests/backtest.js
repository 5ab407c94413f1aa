// The backtest page: while the run is queued or running, poll GET /api/v1/backtests/{id} every second and
// move the progress bar; when it is finished, reload (the page then renders the metrics and trades).
// On a finished run, draw the equity and drawdown chart with Chart.js from #backtest-series.
(function () {
  "use strict";
  const box = document.getElementById("backtest-progress");
  if (!box) return;
  if (box.dataset.final !== "1") {
    const bar = document.getElementById("backtest-bar");
    const pct = document.getElementById("backtest-pct");
    const status = document.getElementById("backtest-status");
    const days = document.getElementById("backtest-days");
    const poll = async () => {
      try {
        const response = await fetch(box.dataset.api, { headers: { Accept: "application/json" },
                                                         credentials: "same-origin" });
        if (response.ok) {
          const run = await response.json();
          bar.value = run.progress;
          bar.textContent = run.progress + "%";
          pct.textContent = run.progress;
          status.textContent = run.status_label;
          status.dataset.status = run.status;
          days.textContent = run.days_done + " / " + run.days_total;
          if (run.is_final) {
            window.location.reload();
            return;
          }
        }
      } catch (e) { /* the next poll tries again */ }
      window.setTimeout(poll, 1000);
    };
    window.setTimeout(poll, 1000);
    return;
  }
  const data = document.getElementById("backtest-series");
  const canvas = document.getElementById("chart-equity");
  if (!data || !canvas || typeof Chart === "undefined") return;
  const series = JSON.parse(data.textContent);
  const labels = JSON.parse(document.getElementById("backtest-labels").textContent);
  window.STOCKAGENT_BACKTEST_CHART = new Chart(canvas, {
    type: "line",
    data: {
      labels: series.map((p) => String(p.time).slice(0, 10)),
      datasets: [
        { label: labels.equity, data: series.map((p) => p.equity), borderColor: "#2563eb",
          pointRadius: 2, yAxisID: "y" },
        { label: labels.drawdown, data: series.map((p) => -Number(p.drawdown_pct)),
          borderColor: "#dc2626", backgroundColor: "rgba(220,38,38,.15)", fill: true, pointRadius: 0,
          yAxisID: "dd" },
      ],
    },
    options: { animation: false, responsive: true, maintainAspectRatio: false,
               interaction: { mode: "index", intersect: false },
               scales: { y: { position: "left" }, dd: { position: "right", grid: { drawOnChartArea: false } } } },
  });
})();
