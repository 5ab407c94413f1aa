// The live socket: one at a time, reconnects with backoff and hands each {type, data} event to listeners.
(function () {
  const listeners = {};
  const indicator = document.getElementById("live-indicator");
  const MIN_DELAY = 1000, MAX_DELAY = 30000;
  const STABLE_MS = 30000;   // a socket must stay up this long before the backoff starts again from 1 s
  const PING_MS = 20000, PONG_WAIT_MS = 10000;
  const UNAUTHORIZED = 4401; // the server's "log in again": retrying would only loop
  const stats = { opened: 0, closed: 0, lastCloseCode: null };
  let delay = MIN_DELAY;
  let socket = null, retryTimer = null, pingTimer = null, pongTimer = null;
  function setState(on) {
    if (!indicator) return;
    indicator.classList.toggle("on", on);
    indicator.classList.toggle("off", !on);
    indicator.textContent = on ? window.STOCKAGENT.liveLabel : window.STOCKAGENT.offLabel;
  }
  function stopTimers() {
    clearInterval(pingTimer); clearTimeout(pongTimer); pingTimer = pongTimer = null;
  }
  function scheduleReconnect() {
    if (retryTimer) return;
    // Jitter spreads the reconnects of many tabs after a server restart.
    const wait = delay * (0.8 + Math.random() * 0.4);
    delay = Math.min(delay * 2, MAX_DELAY);
    retryTimer = setTimeout(() => { retryTimer = null; connect(); }, wait);
  }
  function connect() {
    if (socket && socket.readyState <= WebSocket.OPEN) return; // never two sockets
    const proto = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(proto + location.host + "/ws/live");
    socket = ws;
    let openedAt = 0;
    ws.onopen = () => {
      openedAt = Date.now(); stats.opened += 1; setState(true);
      document.dispatchEvent(new CustomEvent("live:open", { detail: { opened: stats.opened } }));
      // A socket that dies right after opening must not reset the backoff, or a broken server is hammered
      // with a new socket every second; only one that proved stable does.
      pingTimer = setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN) return;
        ws.send(JSON.stringify({ type: "ping" }));
        if (!pongTimer) pongTimer = setTimeout(() => ws.close(4000, "no pong"), PONG_WAIT_MS);
      }, PING_MS);
    };
    ws.onclose = (ev) => {
      stopTimers();
      if (socket === ws) socket = null;
      if (openedAt) stats.closed += 1;
      stats.lastCloseCode = ev.code;
      setState(false);
      document.dispatchEvent(new CustomEvent("live:closed", { detail: { code: ev.code } }));
      if (ev.code === UNAUTHORIZED) return;
      if (openedAt && Date.now() - openedAt >= STABLE_MS) delay = MIN_DELAY;
      scheduleReconnect();
    };
    ws.onmessage = (msg) => {
      clearTimeout(pongTimer); pongTimer = null; // any message proves the socket alive
      const event = JSON.parse(msg.data);
      if (event.type === "pong") return;
      (listeners[event.type] || []).forEach((fn) => fn(event.data));
      document.dispatchEvent(new CustomEvent("live:" + event.type, { detail: event.data }));
    };
  }
  window.live = {
    on: (type, fn) => { (listeners[type] = listeners[type] || []).push(fn); },
    isOpen: () => socket !== null && socket.readyState === WebSocket.OPEN,
    stats: stats,
  };
  // Health events refresh the status strip and, on the system page, the table.
  window.live.on("health", (report) => {
    const strip = document.getElementById("status-strip");
    if (strip) strip.dataset.ok = report.ok ? "1" : "0";
    report.components.forEach((c) => {
      document.querySelectorAll('.chip[data-component="' + c.component + '"]').forEach((chip) => {
        chip.className = "chip " + c.status;
        chip.dataset.status = c.status;
        chip.querySelector("b").textContent = c.status_label || c.status;
      });
      const row = document.querySelector('#health-table tr[data-component="' + c.component + '"]');
      if (row) {
        const cell = row.querySelector(".status");
        cell.className = "status " + c.status; cell.dataset.status = c.status;
        cell.textContent = c.status_label || c.status;
        row.querySelector(".last-seen").textContent = c.last_seen_kst || "-";
        row.querySelector(".age").textContent = c.age_seconds === null ? "-" : c.age_seconds;
        row.querySelector(".count").textContent = c.data_count;
        row.querySelector(".msg").textContent = c.message_label || c.message;
      }
    });
  });
  connect();
})();
