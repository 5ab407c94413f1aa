// The per-stock chart (/chart/<code>/): 1-minute candles, session VWAP, the opening range, volume and
// the entry/exit/signal markers, drawn with the vendored TradingView Lightweight Charts (window.LightweightCharts).
// Data: GET /api/v1/market/chart/<code>?date= (bars + VWAP + opening range) and …/markers; live: `bar_update`
// (a closed bar of this code), `order_filled` and `trade_signal` on /ws/live.
//
// Times: the library shows UTC. KRX has no daylight saving, so bar times are shifted by +9 h and the axis
// reads Korea time whatever the browser's zone.
(function () {
  const el = document.getElementById("chart");
  const configNode = document.getElementById("chart-config");
  if (!el || !configNode || !window.LightweightCharts) return;
  const cfg = JSON.parse(configNode.textContent);
  const L = cfg.labels;
  const LWC = window.LightweightCharts;
  const KST_SHIFT = 9 * 3600;
  const UP = "#d60a22", DOWN = "#0b57d0"; // Korean convention: rising red, falling blue
  const state = { date: cfg.date, bars: [], session: null, markers: [], openingRange: null };

  const toTime = (iso) => Math.floor(Date.parse(iso) / 1000) + KST_SHIFT;
  const won = (v) => (v === null || v === undefined ? "-" : Number(v).toLocaleString("en-US", { maximumFractionDigits: 2 }));
  const hhmmss = (iso) => iso.slice(11, 19); // the API's times are KST ISO strings

  const chart = LWC.createChart(el, {
    autoSize: true,
    layout: { background: { color: "#ffffff" }, textColor: "#222" },
    grid: { vertLines: { color: "#eef0f3" }, horzLines: { color: "#eef0f3" } },
    timeScale: { timeVisible: true, secondsVisible: false, borderColor: "#ccd" },
    rightPriceScale: { borderColor: "#ccd" },
    localization: { locale: cfg.language === "en" ? "en-US" : "ko-KR", priceFormatter: (p) => won(Math.round(p)) },
  });
  const candles = chart.addSeries(LWC.CandlestickSeries, {
    upColor: UP, downColor: DOWN, borderUpColor: UP, borderDownColor: DOWN, wickUpColor: UP, wickDownColor: DOWN,
    priceFormat: { type: "price", precision: 0, minMove: 1 },
  });
  candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.28 } });
  const vwapLine = chart.addSeries(LWC.LineSeries, {
    color: "#f08c00", lineWidth: 2, title: "VWAP", priceLineVisible: false, crosshairMarkerVisible: false,
    priceFormat: { type: "price", precision: 2, minMove: 0.01 },
  });
  const volume = chart.addSeries(LWC.HistogramSeries, { priceScaleId: "volume", priceFormat: { type: "volume" }, lastValueVisible: false, priceLineVisible: false });
  chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.78, bottom: 0 } });
  const markerLayer = LWC.createSeriesMarkers(candles, []);
  let orLines = [];

  // ---- session VWAP, the same arithmetic as apps/market/indicators.py `vwap`: a bar's volume priced at
  // its traded value when it has one, else at its typical price; cumulative over the day.
  function withVwap(bars) {
    let value = 0, vol = 0;
    return bars.map((b) => {
      const priced = b.value > 0 ? b.value : ((b.high + b.low + b.close) / 3) * b.volume;
      value += priced; vol += b.volume;
      return Object.assign({}, b, { vwap: vol > 0 ? value / vol : null });
    });
  }
  // The opening range: high/low of the bars ending within the first N minutes (apps/market/aggregator.py).
  function openingRange(bars) {
    if (!state.session) return null;
    const cutoff = Date.parse(state.session.open) + cfg.openingRangeMinutes * 60000;
    const first = bars.filter((b) => Date.parse(b.time) <= cutoff);
    if (!first.length) return null;
    return { high: Math.max(...first.map((b) => b.high)), low: Math.min(...first.map((b) => b.low)) };
  }

  function drawOpeningRange(range) {
    orLines.forEach((line) => candles.removePriceLine(line));
    orLines = [];
    state.openingRange = range;
    document.getElementById("legend-or").textContent = range ? won(range.low) + " – " + won(range.high) : "-";
    el.dataset.orHigh = range ? range.high : "";
    el.dataset.orLow = range ? range.low : "";
    if (!range) return;
    const line = (price, title) => candles.createPriceLine({ price: price, color: "#7048e8", lineWidth: 1, lineStyle: LWC.LineStyle.Dashed, axisLabelVisible: true, title: title });
    orLines = [line(range.high, L.orHigh), line(range.low, L.orLow)];
  }

  function drawBars(fit) {
    const bars = state.bars;
    candles.setData(bars.map((b) => ({ time: toTime(b.time), open: b.open, high: b.high, low: b.low, close: b.close })));
    vwapLine.setData(bars.filter((b) => b.vwap !== null).map((b) => ({ time: toTime(b.time), value: b.vwap })));
    volume.setData(bars.map((b) => ({ time: toTime(b.time), value: b.volume, color: b.close >= b.open ? "rgba(214,10,34,.35)" : "rgba(11,87,208,.35)" })));
    const last = bars[bars.length - 1];
    document.getElementById("legend-vwap").textContent = last && last.vwap !== null ? won(last.vwap) : "-";
    el.dataset.bars = String(bars.length);
    el.dataset.lastBar = last ? last.time : "";
    document.getElementById("chart-empty").hidden = bars.length > 0;
    if (fit) chart.timeScale().fitContent();
    drawMarkers(); // markers sit on bars: a bar that arrives late brings its marker
  }

  // ---- markers
  function markerText(m) {
    if (m.kind === "signal") return L.signal + " " + (m.strategy || "");
    const who = m.strategy || m.cause_label || "";
    return (m.kind === "entry" ? L.buy : L.sell) + " " + m.quantity + " @" + won(m.price) + (who ? " · " + who : "");
  }
  function drawMarkers() {
    const times = new Set(state.bars.map((b) => toTime(b.time)));
    const shown = state.markers.filter((m) => times.has(toTime(m.time)));
    markerLayer.setMarkers(shown.map((m) => {
      const t = toTime(m.time);
      if (m.kind === "signal") {
        const buy = m.side === "buy";
        return { time: t, position: buy ? "belowBar" : "aboveBar", shape: "circle", color: "#f08c00", text: markerText(m), size: 0.8 };
      }
      const entry = m.kind === "entry";
      return { time: t, position: entry ? "belowBar" : "aboveBar", shape: entry ? "arrowUp" : "arrowDown", color: entry ? UP : DOWN, text: markerText(m) };
    }));
    el.dataset.markers = String(shown.length);
    el.dataset.markersTotal = String(state.markers.length);
  }
  function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    return td;
  }
  function drawMarkerTable() {
    const body = document.querySelector("#markers tbody");
    body.replaceChildren();
    if (!state.markers.length) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = cell(L.empty);
      td.colSpan = 8;
      tr.append(td);
      body.append(tr);
      return;
    }
    state.markers.forEach((m) => {
      const tr = document.createElement("tr");
      tr.className = "marker " + m.kind;
      tr.dataset.kind = m.kind;
      const who = m.kind === "signal" ? m.strategy + (m.status_label ? " · " + m.status_label : "") : [m.strategy, m.cause_label].filter(Boolean).join(" · ");
      tr.append(cell(hhmmss(m.at)), cell(L[m.kind] || m.kind), cell(L[m.side] || m.side),
        cell(m.quantity === undefined ? "-" : String(m.quantity), "num"), cell(won(m.price), "num"), cell(who || "-"), cell(m.reason || ""));
      const link = cell("");
      const url = m.order_url || (m.order_id ? "/orders/" + m.order_id + "/" : null);
      if (url) {
        const a = document.createElement("a");
        a.href = url;
        a.textContent = L.order;
        link.append(a);
      }
      tr.append(link);
      body.append(tr);
    });
  }

  // ---- loading
  const query = () => (state.date ? "?date=" + encodeURIComponent(state.date) : "");
  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(url + ": " + response.status);
    return response.json();
  }
  async function loadBars() {
    const data = await getJson(cfg.barsUrl + query());
    state.date = data.date;
    state.session = data.session || null;
    state.bars = withVwap(data.bars || []);
    // The server's VWAP (indicators.vwap) wins where it has one; ours only fills bars pushed live.
    (data.bars || []).forEach((b, i) => { if (b.vwap !== null && b.vwap !== undefined) state.bars[i].vwap = b.vwap; });
    drawBars(true);
    drawOpeningRange(data.opening_range || openingRange(state.bars));
  }
  async function loadMarkers() {
    const data = await getJson(cfg.markersUrl + query());
    state.markers = data.markers || [];
    drawMarkers();
    drawMarkerTable();
  }
  let markerTimer = null;
  function reloadMarkersSoon() {
    // A burst of fills is one reload.
    clearTimeout(markerTimer);
    markerTimer = setTimeout(() => loadMarkers().catch(fail), 250);
  }
  function fail(err) {
    el.dataset.state = "error";
    el.dataset.error = String(err);
    const empty = document.getElementById("chart-empty");
    empty.hidden = false;
    empty.textContent = L.loadFailed;
  }
  async function loadAll() {
    el.dataset.state = "loading";
    try {
      await loadBars();
      await loadMarkers();
      el.dataset.state = "ready";
      el.dataset.date = state.date || "";
    } catch (err) {
      fail(err);
    }
  }

  // ---- live
  function onBar(bar) {
    if (bar.code !== cfg.code) return;
    const day = bar.time.slice(0, 10);
    if (day !== state.date) {
      // The page without ?date follows the newest session: the first bar of a new day switches to it.
      if (!cfg.explicitDate && (!state.date || day > state.date)) { state.date = day; loadAll(); }
      return;
    }
    const t = Date.parse(bar.time);
    const raw = state.bars.filter((b) => Date.parse(b.time) !== t); // a bar written again replaces itself
    raw.push(bar);
    raw.sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
    state.bars = withVwap(raw);
    drawBars(false);
    drawOpeningRange(openingRange(state.bars));
    el.dataset.liveBars = String(Number(el.dataset.liveBars || 0) + 1);
  }
  if (window.live) {
    window.live.on("bar_update", onBar);
    if (cfg.liveMarkers !== false) { // a backtest's markers (an overlay) do not change with the live books
      window.live.on("order_filled", (d) => { if (d.code === cfg.code) reloadMarkersSoon(); });
      window.live.on("trade_signal", (d) => { if (d.code === cfg.code) reloadMarkersSoon(); });
    }
  }
  chart.subscribeCrosshairMove((param) => {
    const legend = document.getElementById("legend-bar");
    const bar = param.time ? param.seriesData.get(candles) : null;
    legend.textContent = bar ? ["O", won(bar.open), "H", won(bar.high), "L", won(bar.low), "C", won(bar.close)].join(" ") : "";
  });
  window.stockChart = { chart: chart, state: state, reload: loadAll };
  loadAll();
})();
