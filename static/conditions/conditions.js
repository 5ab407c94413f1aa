// Condition pages: follow "conditions.update" on /ws/live; the trader's switches and buttons call the JSON API
// (which enforces the trader role). Viewers get the same live updates and no controls.
(function () {
  const root = document.getElementById("cond-page");
  if (!root) return;
  const L = JSON.parse(document.getElementById("cond-labels").textContent);
  const page = root.dataset.page;
  const conditionId = page === "detail" ? Number(root.dataset.condition) : null;
  const message = document.getElementById("cond-message");
  // The feed is paged on the server; live events join page 1 only, which keeps its page size.
  const MAX_EVENTS = Number(root.dataset.recent) || 25;
  const onFirstPage = (root.dataset.feedPage || "1") === "1";

  // ---- formatting (same output as the krw / signed_rate / kst template filters)
  const pad = (n) => String(n).padStart(2, "0");
  function kst(iso) {
    if (!iso) return "-";
    const d = new Date(new Date(iso).getTime() + 9 * 3600 * 1000); // KST has no daylight saving
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  }
  const won = (window.STOCKAGENT && window.STOCKAGENT.won) || "%s원";
  const krw = (v) => (v === null || v === undefined || v === "" ? "-" : won.replace("%s", Number(v).toLocaleString("en-US")));
  function rate(v) {
    if (v === null || v === undefined || v === "") return "-";
    const n = Number(v);
    return (n >= 0 ? "+" : "") + n.toFixed(2) + "%";
  }
  const signedKrw = (v) => (v === null || v === undefined || v === "" ? "-" : (Number(v) > 0 ? "+" : "") + krw(v));
  const plain = (v) => (v === null || v === undefined ? "-" : String(v));
  const qty = (v) => (v === null || v === undefined || v === "" ? "-" : Number(v).toLocaleString("en-US"));
  const fill = (template, values) => template.replace(/%\((\w+)\)s/g, (_, k) => plain(values[k]));

  function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    return td;
  }
  // The code linked to its chart page (the `chart_link` template filter); with a time, that day's chart.
  function codeCell(code, at) {
    const td = document.createElement("td");
    const a = document.createElement("a");
    a.className = "code-link";
    a.href = "/chart/" + encodeURIComponent(code) + "/" + (at ? "?date=" + kst(at).slice(0, 10) : "");
    a.title = L.chart || "";
    const c = document.createElement("code");
    c.textContent = code;
    a.appendChild(c);
    td.appendChild(a);
    return td;
  }
  function say(text, ok) {
    if (!message) return;
    message.textContent = text || "";
    message.className = "flash " + (ok ? "ok" : "bad");
  }

  // ---- API
  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  async function api(url, method, body) {
    const options = { method: method || "GET", credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method && method !== "GET") {
      options.headers["X-CSRFToken"] = csrfToken();
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    const response = await fetch(url, options);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { ok: response.ok, status: response.status, data: data };
  }
  function errorText(data, status) {
    if (!data) return L.failed + " (HTTP " + status + ")";
    if (data.detail) return String(data.detail);
    return Object.entries(data).map(([k, v]) => k + ": " + (Array.isArray(v) ? v.join(" ") : v)).join("; ");
  }

  // ---- a condition's state (list row or detail header)
  const TOGGLES = ["active", "realtime", "notify_entry", "notify_exit"];
  function applyCondition(scope, c) {
    if (!scope || !c) return;
    const set = (field, text) => scope.querySelectorAll('[data-field="' + field + '"]').forEach((el) => {
      if (!el.classList.contains("switch")) el.textContent = text;
    });
    set("name", c.name);
    set("member_count", plain(c.member_count));
    set("last_checked_at", kst(c.last_checked_at));
    set("last_error", c.last_error || (page === "detail" ? "-" : ""));
    scope.querySelectorAll('[data-field="listed"]').forEach((el) => { el.hidden = !!c.listed; });
    if (c.alert_hold_seconds !== undefined) {
      scope.querySelectorAll('[data-field="alert_hold_seconds"]').forEach((el) => {
        const input = el.querySelector("input");
        if (input && document.activeElement !== input) input.value = c.alert_hold_seconds;
        const value = el.querySelector(".value");
        if (value) value.textContent = c.alert_hold_seconds;
      });
    }
    if (scope.tagName === "TR") scope.classList.toggle("unlisted", !c.listed);
    TOGGLES.forEach((field) => {
      scope.querySelectorAll('.switch[data-field="' + field + '"]').forEach((el) => {
        const input = el.querySelector("input[data-toggle]");
        if (input) { input.checked = !!c[field]; return; }
        const state = el.querySelector(".state");
        if (state) { state.textContent = c[field] ? L.on : L.off; state.className = "state " + (c[field] ? "on" : "off"); }
      });
    });
  }
  function scopeFor(id) {
    if (page === "detail") return id === conditionId ? root : null;
    return root.querySelector('tr[data-condition="' + id + '"]');
  }

  // ---- switches (trader only: viewers have no inputs)
  root.addEventListener("change", async (ev) => {
    if (ev.target.id === "alert-hold") { saveHold(ev.target); return; }
    const input = ev.target.closest("input[data-toggle]");
    if (!input) return;
    const scope = page === "detail" ? root : input.closest("tr[data-condition]");
    const id = page === "detail" ? conditionId : Number(scope.dataset.condition);
    const field = input.dataset.toggle;
    const wanted = input.checked;
    input.disabled = true;
    const res = await api(root.dataset.page === "detail" ? root.dataset.api : root.dataset.api + "/" + id, "PATCH", { [field]: wanted });
    input.disabled = false;
    if (res.ok) {
      applyCondition(scope, res.data);
      say(L.saved, true);
    } else {
      input.checked = !wanted;
      say(errorText(res.data, res.status), false);
    }
  });

  async function saveHold(input) {
    const seconds = Number(input.value);
    input.disabled = true;
    const res = await api(root.dataset.api, "PATCH", { alert_hold_seconds: Number.isInteger(seconds) ? seconds : input.value });
    input.disabled = false;
    if (res.ok) {
      applyCondition(root, res.data);
      say(L.saved, true);
    } else {
      say(errorText(res.data, res.status), false);
    }
  }

  // ---- a stock flapping in and out, collapsed into one feed row: open / close its events
  root.addEventListener("click", (ev) => {
    const button = ev.target.closest(".flap-toggle");
    if (!button) return;
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    button.textContent = open ? "▾" : "▸";
    let row = button.closest("tr").nextElementSibling;
    while (row && row.dataset.flapOf === button.dataset.flap) {
      row.hidden = !open;
      row = row.nextElementSibling;
    }
  });

  // ---- list page
  if (page === "list") {
    const sync = document.getElementById("sync-conditions");
    if (sync) {
      sync.addEventListener("click", async () => {
        sync.disabled = true;
        const res = await api(sync.dataset.url, "POST", {});
        sync.disabled = false;
        if (res.ok) {
          say(fill(L.synced, { created: res.data.created.length, renamed: res.data.renamed.length, unlisted: res.data.unlisted.length }), true);
          if (res.data.created.length || res.data.renamed.length || res.data.unlisted.length || res.data.relisted.length) refreshList();
        } else {
          say(errorText(res.data, res.status), false);
        }
      });
    }
  }
  async function refreshList() {
    const res = await api(root.dataset.api);
    if (!res.ok) return;
    const known = new Set(Array.from(root.querySelectorAll("tr[data-condition]")).map((tr) => Number(tr.dataset.condition)));
    if (res.data.length !== known.size || res.data.some((c) => !known.has(c.id))) {
      location.reload(); // conditions added or removed: the server renders the rows
      return;
    }
    res.data.forEach((c) => applyCondition(scopeFor(c.id), c));
  }

  // ---- detail page: members and events
  const membersBody = document.querySelector("#members tbody");
  const eventsBody = document.querySelector("#events tbody");
  let lastChecked = root.dataset.checked ? new Date(root.dataset.checked).getTime() : 0;
  const seen = new Set(Array.from(document.querySelectorAll("#events tr[data-event]")).map((tr) => Number(tr.dataset.event)));

  function renderMembers(members) {
    if (!membersBody) return;
    membersBody.replaceChildren();
    if (!members.length) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = cell(L.none);
      td.colSpan = 7;
      tr.appendChild(td);
      membersBody.appendChild(tr);
      return;
    }
    members.forEach((m) => {
      const tr = document.createElement("tr");
      tr.dataset.code = m.code;
      tr.append(codeCell(m.code), cell(m.name || "-"), cell(krw(m.price), "num"), cell(signedKrw(m.change), "num"), cell(rate(m.change_rate), "num"),
        cell(qty(m.volume), "num"), cell(kst(m.entered_at)));
      membersBody.appendChild(tr);
    });
  }
  function renderRun(run) {
    const el = document.getElementById("last-run");
    if (!el) return;
    if (!run) { el.textContent = "-"; return; }
    el.textContent = kst(run.started_at) + " · " + (L.source[run.source] || run.source) + " · " +
      (run.error ? L.failed + ": " + run.error : plain(run.member_count));
  }
  function eventRow(e, fresh) {
    const tr = document.createElement("tr");
    tr.dataset.event = e.id;
    tr.className = "kind-" + e.kind + (fresh ? " fresh" : "");
    const price = cell(krw(e.price), "num");
    if (e.price_source) {
      const src = document.createElement("small");
      src.className = "src";
      src.textContent = L.priceSource[e.price_source] || e.price_source;
      price.append(" ", src);
    }
    tr.append(cell(kst(e.at)), cell(L.kind[e.kind] || e.kind, "kind"), codeCell(e.code, e.at), cell(e.name || "-"),
      price, cell(signedKrw(e.change), "num"), cell(rate(e.change_rate), "num"), cell(L.source[e.source] || e.source));
    return tr;
  }
  function addEvents(events) {
    if (!eventsBody || !onFirstPage) return;
    events.forEach((e) => {
      if (e.condition !== conditionId || seen.has(e.id)) return;
      seen.add(e.id);
      eventsBody.querySelectorAll("tr.empty").forEach((tr) => tr.remove());
      eventsBody.prepend(eventRow(e, true));
    });
    // The page keeps its size in rows the trader sees (a collapsed stock's hidden events do not count;
    // trimming from the end removes them before their row).
    const shown = () => eventsBody.querySelectorAll(":scope > tr:not(.flap-item)").length;
    while (shown() > MAX_EVENTS) eventsBody.lastElementChild.remove();
  }
  async function refreshResults() {
    const res = await api(root.dataset.results);
    if (!res.ok) return;
    applyCondition(root, res.data.condition);
    renderMembers(res.data.members);
    renderRun(res.data.last_run);
  }
  async function refreshEvents() {
    const res = await api(root.dataset.events + "?page_size=" + (root.dataset.recent || 50));
    if (!res.ok || !eventsBody) return;
    res.data.results.slice().reverse().forEach((e) => addEvents([e]));
  }

  if (page === "detail") {
    const button = document.getElementById("search-now");
    if (button) {
      button.addEventListener("click", async () => {
        button.disabled = true;
        say(L.searching, true);
        const res = await api(root.dataset.search, "POST", {});
        button.disabled = false;
        if (res.data && res.data.condition) {
          applyCondition(root, res.data.condition);
          renderMembers(res.data.members || []);
          renderRun(res.data.last_run);
          addEvents(res.data.events || []);
        }
        if (res.ok) {
          const r = res.data.result;
          say(r.baseline ? L.baseline : fill(L.searched, { count: r.member_count, entries: r.entries, exits: r.exits }), true);
        } else {
          say(errorText(res.data, res.status), false);
        }
      });
    }
  }

  // ---- live
  if (window.live) {
    window.live.on("conditions.update", (data) => {
      if (!data) return;
      if (data.reload) {
        if (page === "list") refreshList();
        else api(root.dataset.api).then((res) => { if (res.ok) applyCondition(root, res.data); });
        return;
      }
      const c = data.condition;
      if (!c) return;
      const scope = scopeFor(c.id);
      if (!scope) {
        if (page === "list") refreshList();
        return;
      }
      applyCondition(scope, c);
      if (page === "detail") {
        addEvents(data.events || []);
        // A new check also refreshes prices and volumes, even when nobody entered or left.
        const checked = c.last_checked_at ? new Date(c.last_checked_at).getTime() : 0;
        if (data.members_changed || checked !== lastChecked) refreshResults();
        lastChecked = checked;
      }
    });
  }
  // After a reconnect, catch up on what the socket missed.
  const indicator = document.getElementById("live-indicator");
  if (indicator && window.MutationObserver) {
    let wasOff = false;
    new MutationObserver(() => {
      if (indicator.classList.contains("off")) { wasOff = true; return; }
      if (wasOff && indicator.classList.contains("on")) {
        wasOff = false;
        if (page === "list") refreshList();
        else { refreshResults(); refreshEvents(); }
      }
    }).observe(indicator, { attributes: true, attributeFilter: ["class"] });
  }
})();
