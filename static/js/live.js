// The live socket: reconnects with backoff and hands each {type, data} event to listeners.
(function () {
  const listeners = {};
  const indicator = document.getElementById("live-indicator");
  let delay = 1000;
  function setState(on) {
    if (!indicator) return;
    indicator.classList.toggle("on", on);
    indicator.classList.toggle("off", !on);
    indicator.textContent = on ? window.STOCKAGENT.liveLabel : window.STOCKAGENT.offLabel;
  }
  function connect() {
    const proto = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(proto + location.host + "/ws/live");
    ws.onopen = () => { delay = 1000; setState(true); };
    ws.onclose = () => { setState(false); setTimeout(connect, delay); delay = Math.min(delay * 2, 30000); };
    ws.onmessage = (msg) => {
      const event = JSON.parse(msg.data);
      (listeners[event.type] || []).forEach((fn) => fn(event.data));
      document.dispatchEvent(new CustomEvent("live:" + event.type, { detail: event.data }));
    };
  }
  window.live = { on: (type, fn) => { (listeners[type] = listeners[type] || []).push(fn); } };
  // Health events refresh the status strip and, on the system page, the table.
  window.live.on("health", (report) => {
    const strip = document.getElementById("status-strip");
    if (strip) strip.dataset.ok = report.ok ? "1" : "0";
    report.components.forEach((c) => {
      document.querySelectorAll('.chip[data-component="' + c.component + '"]').forEach((chip) => {
        chip.className = "chip " + c.status;
        chip.querySelector("b").textContent = c.status;
      });
      const row = document.querySelector('#health-table tr[data-component="' + c.component + '"]');
      if (row) {
        const cell = row.querySelector(".status");
        cell.className = "status " + c.status; cell.textContent = c.status;
        row.querySelector(".last-seen").textContent = c.last_seen_kst || "-";
        row.querySelector(".age").textContent = c.age_seconds === null ? "-" : c.age_seconds;
        row.querySelector(".count").textContent = c.data_count;
        row.querySelector(".msg").textContent = c.message;
      }
    });
  });
  connect();
})();
