// The risk page follows the live socket: a `risk_state` or `risk_config` push reloads the page's
// figures (a state change, the switch, a new configuration version) without a click.
(function () {
  if (!window.live) return;
  let pending = null;
  function refresh() {
    if (pending) return;
    pending = setTimeout(() => { pending = null; location.reload(); }, 300);
  }
  window.live.on("risk_state", (data) => {
    const section = document.getElementById("risk-state");
    if (section) { section.dataset.state = data.state; section.dataset.switch = data.switch ? "1" : "0"; }
    refresh();
  });
  window.live.on("risk_config", refresh);
})();
