// The risk page follows the live socket: a `risk_state` push (a state change, the trader's switch)
// updates the state line in place — no reload, so the emergency liquidation's live progress on the
// same page is never interrupted; a `risk_config` push (a new version) reloads the page's tables.
(function () {
  if (!window.live) return;
  const labels = JSON.parse(document.getElementById("risk-labels").textContent);
  window.live.on("risk_state", (data) => {
    const section = document.getElementById("risk-state");
    if (!section) return;
    section.dataset.state = data.state;
    section.dataset.switch = data.switch ? "1" : "0";
    document.getElementById("risk-state-label").textContent = labels[data.state] || data.state;
    document.getElementById("risk-switch").textContent = data.switch ? "ON" : "OFF";
    document.getElementById("risk-entries").textContent = data.entries_allowed ? labels.allowed : labels.blocked;
    const badge = section.querySelector(".risk-badge");
    if (badge) badge.className = "risk-badge " + data.state;
  });
  window.live.on("risk_config", () => {
    const form = document.querySelector("#risk-config details[open]");
    if (!form) location.reload(); // never under a trader's half-edited form
  });
})();
