// The emergency-sell partial: a first click opens the confirmation, the second sends
// POST /api/v1/risk/emergency-sell with the page's Idempotency-Key (a double click, a retry: one run);
// the run's progress is drawn from the answer and from every /ws/live `liquidation_progress` event.
(function () {
  const box = document.getElementById("emergency-sell");
  if (!box) return;
  const labels = JSON.parse(document.getElementById("emergency-sell-labels").textContent);
  const progress = document.getElementById("emergency-sell-progress");
  const errorBox = document.getElementById("emergency-sell-error");
  const fmt = new Intl.NumberFormat("ko-KR");

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }
  function render(run) {
    if (!run || !run.id) return;

    progress.hidden = false;
    progress.dataset.run = run.id;
    progress.dataset.status = run.status;
    const status = progress.querySelector(".status");
    status.textContent = labels[run.status] || run.status;
    status.dataset.status = run.status;
    progress.querySelector(".summary").textContent =
      labels.cancelled + " " + run.cancelled + "/" + run.cancel_total + " · " +
      labels.positions + " " + run.sold_out + "/" + run.positions_total;
    const body = progress.querySelector("tbody");
    body.textContent = "";
    run.lines.forEach(function (line) {
      const tr = document.createElement("tr");
      tr.dataset.code = line.code;
      tr.dataset.state = line.state;
      tr.appendChild(cell(line.code + " " + (line.name || "")));
      tr.appendChild(cell(fmt.format(line.quantity), "qty"));
      tr.appendChild(cell(fmt.format(line.sold), "sold"));
      tr.appendChild(cell(fmt.format(line.left), "left"));
      tr.appendChild(cell(labels[line.state] || line.state, "state"));
      tr.appendChild(cell(line.reason || "", "reason"));
      body.appendChild(tr);
    });
    (run.cancel_failed || []).forEach(function (text) {
      const tr = document.createElement("tr");
      tr.dataset.state = "not-cancelled";
      tr.appendChild(cell(text));
      tr.appendChild(cell("")); tr.appendChild(cell("")); tr.appendChild(cell(""));
      tr.appendChild(cell(labels.blocked, "state")); tr.appendChild(cell(""));
      body.appendChild(tr);
    });
  }
  function csrfToken() {
    const input = box.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function fail(text) { errorBox.textContent = text; errorBox.hidden = false; }

  const initial = JSON.parse(document.getElementById("emergency-sell-initial").textContent);
  if (initial) render(initial);
  document.addEventListener("live:liquidation_progress", function (ev) { render(ev.detail); });

  const start = document.getElementById("emergency-sell-start");
  const confirmBox = document.getElementById("emergency-sell-confirm");
  if (!start) return;
  start.addEventListener("click", function () { confirmBox.hidden = false; start.disabled = true; });
  document.getElementById("emergency-sell-abort").addEventListener("click", function () {
    confirmBox.hidden = true; start.disabled = false;
  });
  const go = document.getElementById("emergency-sell-confirm-button");
  let sending = false;
  go.addEventListener("click", function () {
    if (sending) return; // the key makes a second request harmless; this saves the round trip
    sending = true;
    errorBox.hidden = true;
    fetch(box.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "X-CSRFToken": csrfToken(),
        "Idempotency-Key": box.dataset.key,
      },
      body: JSON.stringify({ reason: document.getElementById("emergency-sell-reason").value }),
    })
      .then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, status: r.status, body: body }; });
      })
      .then(function (res) {
        if (res.ok) { render(res.body); confirmBox.hidden = true; return; }
        fail(res.status === 403 ? labels.forbidden : (res.body.detail || labels.failedRequest));
      })
      .catch(function () { fail(labels.failedRequest); })
      .finally(function () { sending = false; });
  });
})();
