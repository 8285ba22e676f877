// The director's dashboard: the 766 index, key figures and charts from the metrics API, drawn as
// inline SVG, kept live by the server-sent event stream. No dependencies, no build step.
"use strict";

const TZ = "Asia/Ho_Chi_Minh";
const SVG = "http://www.w3.org/2000/svg";
const nf = new Intl.NumberFormat("vi-VN");
const nf2 = new Intl.NumberFormat("vi-VN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const FEED_MAX = 50;
const FEED_RETRY_MS = 3000;  // a closed stream is opened again after this pause
const CHANNELS = [["online", "Trực tuyến", "#1565c0"], ["counter", "Trực tiếp", "#6d4c41"], ["postal", "Bưu chính", "#00897b"]];
const RATINGS = { good: "Tốt", fair: "Khá", average: "Trung bình", weak: "Yếu", no_data: "Chưa có dữ liệu" };

const $ = (id) => document.getElementById(id);
// Two decimals, as the province's figures are published: with one, 99.98 % on time showed as 100,0 %.
const pct = (r) => (r === null || r === undefined ? "–" : `${nf2.format(r * 100)} %`);
const state = { period: "", agency: "", refreshTimer: null, source: null, refreshing: false, refreshAgain: false };

function setValue(id, value, text) {
  const el = $(id);
  el.dataset.value = value === null || value === undefined ? "" : String(value);
  el.textContent = text;
}

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function canvas(container, width, height, label) {
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  container.replaceChildren(root);
  return root;
}

async function getJSON(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null));
  const response = await fetch(`${path}?${query}`, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

// -- rendering -------------------------------------------------------------------------------

function renderIndex(index) {
  setValue("index-total", index.total, index.total === null ? "–" : nf2.format(index.total));
  const rating = $("index-rating");
  rating.className = `rating ${index.rating}`;
  rating.dataset.value = index.rating;
  rating.textContent = `${RATINGS[index.rating] || index.rating} (${index.rating})`;
  $("index-period").textContent = `Kỳ ${index.period.label}` + (index.filters.agency ? ` · ${index.filters.agency}` : "");
  const rowHeight = 26, width = 420, barX = 150, barW = 190;
  const root = canvas($("groups"), width, index.groups.length * rowHeight + 4, "Points per group");
  index.groups.forEach((group, i) => {
    const y = i * rowHeight + 4;
    const g = svg("g", { "data-testid": `group-${group.key}`, "data-value": group.points ?? "" });
    g.append(svg("text", { x: 0, y: y + 14 }, group.label_vi));
    g.append(svg("rect", { x: barX, y: y + 3, width: barW, height: 14, fill: "#e3e7eb", rx: 3 }));
    const share = group.max_points && group.points !== null ? group.points / group.max_points : 0;
    g.append(svg("rect", { x: barX, y: y + 3, width: Math.max(barW * share, 0), height: 14, fill: "#b71c1c", rx: 3 }));
    const points = (p) => (p === null ? "–" : nf2.format(p));
    g.append(svg("text", { x: barX + barW + 6, y: y + 14 }, `${points(group.points)} / ${nf.format(group.max_points)}`));
    g.append(svg("title", {}, group.indicators.map((s) => `${s.label}: ${pct(s.rate)} → ${points(s.points)}`).join("\n")));
    root.append(g);
  });
  const others = index.inputs_not_from_events.map((i) => `${i.indicator} (${i.source})`).join(", ");
  $("not-from-events").textContent = others || "none";
}

function renderSummary(summary) {
  setValue("kpi-received", summary.received.total, nf.format(summary.received.total));
  setValue("kpi-online-rate", summary.received.online_rate, pct(summary.received.online_rate));
  setValue("kpi-on-time", summary.resolved.on_time_rate, pct(summary.resolved.on_time_rate));
  setValue("kpi-resolved", summary.resolved.total, nf.format(summary.resolved.total));
  setValue("kpi-overdue-ip", summary.in_progress.overdue, nf.format(summary.in_progress.overdue));
  setValue("kpi-payment", summary.payment.online_payment_rate, pct(summary.payment.online_payment_rate));
  const days = summary.resolved.average_working_days;
  setValue("kpi-days", days, days === null ? "–" : nf2.format(days));
  setValue("kpi-sync", summary.portal_sync.sync_rate, pct(summary.portal_sync.sync_rate));
  setValue("kpi-satisfied", summary.satisfaction.satisfied_share, pct(summary.satisfaction.satisfied_share));
  const b = summary.bundles;
  setValue("kpi-bundles", b.completed, `${nf.format(b.completed)} / ${nf.format(b.partially_completed)} (của ${nf.format(b.started)})`);
  renderChannels(summary.received);
  renderOverdue(summary.overdue_by_field);
}

function renderChannels(received) {
  const root = canvas($("channels"), 420, 150, "Dossiers by channel");
  const total = received.total || 0;
  const r = 50, cx = 70, cy = 70, circumference = 2 * Math.PI * r;
  let offset = 0;
  root.append(svg("circle", { cx, cy, r, fill: "none", stroke: "#e3e7eb", "stroke-width": 26 }));
  CHANNELS.forEach(([key, label, colour], i) => {
    const count = received.by_channel[key] || 0;
    const length = total ? (count / total) * circumference : 0;
    if (length > 0) {
      root.append(svg("circle", {
        cx, cy, r, fill: "none", stroke: colour, "stroke-width": 26,
        "stroke-dasharray": `${length} ${circumference - length}`, "stroke-dashoffset": -offset,
        transform: `rotate(-90 ${cx} ${cy})`,
      }));
    }
    offset += length;
    const g = svg("g", { "data-testid": `channel-${key}`, "data-value": count });
    g.append(svg("rect", { x: 160, y: 22 + i * 30, width: 12, height: 12, fill: colour }));
    g.append(svg("text", { x: 180, y: 32 + i * 30 }, `${label}: ${nf.format(count)} (${pct(total ? count / total : null)})`));
    root.append(g);
  });
  root.append(svg("text", { x: cx, y: cy + 4, "text-anchor": "middle", "font-weight": 700 }, nf.format(total)));
}

function renderOverdue(rows) {
  const shown = rows.filter((r) => r.overdue + r.overdue_in_progress > 0).slice(0, 8);
  const rowHeight = 26, width = 420, barX = 130, barW = 210;
  const root = canvas($("overdue"), width, Math.max(shown.length, 1) * rowHeight + 24, "Overdue dossiers by field");
  if (!shown.length) {
    root.append(svg("text", { x: 0, y: 18 }, "Không có hồ sơ quá hạn"));
    return;
  }
  const max = Math.max(...shown.map((r) => r.overdue + r.overdue_in_progress));
  shown.forEach((row, i) => {
    const y = i * rowHeight;
    const g = svg("g", { "data-testid": `overdue-${row.field}`, "data-value": row.overdue });
    const w1 = (row.overdue / max) * barW, w2 = (row.overdue_in_progress / max) * barW;
    g.append(svg("text", { x: 0, y: y + 15 }, row.field));
    g.append(svg("rect", { x: barX, y: y + 4, width: w1, height: 14, fill: "#b71c1c" }));
    g.append(svg("rect", { x: barX + w1, y: y + 4, width: w2, height: 14, fill: "#ef9a9a" }));
    g.append(svg("text", { x: barX + w1 + w2 + 6, y: y + 15 }, `${nf.format(row.overdue)} + ${nf.format(row.overdue_in_progress)}`));
    root.append(g);
  });
  root.append(svg("text", { x: barX, y: shown.length * rowHeight + 16, class: "muted" }, "đã giải quyết quá hạn + đang xử lý quá hạn"));
}

function renderTrend(trend) {
  const points = trend.points.filter((p) => p.on_time_rate !== null);
  const width = 420, height = 180, left = 40, right = 10, top = 12, bottom = 28;
  const root = canvas($("trend"), width, height, "On-time rate by month");
  if (!points.length) {
    root.append(svg("text", { x: left, y: 40 }, "Chưa có hồ sơ đã giải quyết"));
    return;
  }
  const low = Math.min(0.8, ...points.map((p) => p.on_time_rate));
  const y = (rate) => top + (1 - (rate - low) / (1 - low || 1)) * (height - top - bottom);
  const step = points.length > 1 ? (width - left - right) / (points.length - 1) : 0;
  const x = (i) => left + (points.length > 1 ? i * step : (width - left - right) / 2);
  for (const tick of [low, (low + 1) / 2, 1]) {
    root.append(svg("line", { x1: left, x2: width - right, y1: y(tick), y2: y(tick), class: "axis" }));
    root.append(svg("text", { x: 0, y: y(tick) + 4 }, pct(tick)));
  }
  root.append(svg("polyline", {
    points: points.map((p, i) => `${x(i)},${y(p.on_time_rate)}`).join(" "), fill: "none", stroke: "#1565c0", "stroke-width": 2,
  }));
  points.forEach((p, i) => {
    const g = svg("g", { "data-testid": `trend-${p.bucket}`, "data-value": p.on_time_rate });
    g.append(svg("circle", { cx: x(i), cy: y(p.on_time_rate), r: 3.5, fill: "#1565c0" }));
    g.append(svg("text", { x: x(i), y: height - 10, "text-anchor": "middle" }, p.bucket.slice(0, 7)));
    g.append(svg("title", {}, `${p.bucket.slice(0, 7)}: ${pct(p.on_time_rate)} (${p.resolved} hồ sơ)`));
    root.append(g);
  });
}

function feedLine(event, fresh) {
  const li = document.createElement("li");
  li.className = `type-${event.type}` + (fresh ? " fresh" : "");
  li.dataset.eventId = event.event_id;
  const time = new Date(event.occurred_at).toLocaleString("vi-VN", { timeZone: TZ, hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit" });
  const t = document.createElement("span");
  t.className = "t";
  t.textContent = time;
  const body = document.createElement("span");
  const type = document.createElement("b");
  type.textContent = event.type;
  body.append(type, ` ${event.code || event.dossier_id || event.bundle_id || ""}`, event.agency ? ` · ${event.agency}` : "");
  li.append(t, body);
  return li;
}

function addToFeed(event, fresh) {
  const feed = $("feed");
  if (feed.querySelector(`[data-event-id="${CSS.escape(event.event_id)}"]`)) return;
  feed.prepend(feedLine(event, fresh));
  while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
}

// -- data flow -------------------------------------------------------------------------------

// One refresh at a time: events that arrive while one runs ask for one more after it, not for as many
// overlapping sets of queries (each reads the whole period).
async function refresh() {
  if (state.refreshing) {
    state.refreshAgain = true;
    return;
  }
  state.refreshing = true;
  try {
    await load();
  } finally {
    state.refreshing = false;
  }
  if (state.refreshAgain) {
    state.refreshAgain = false;
    scheduleRefresh();
  }
}

async function load() {
  const index = await getJSON("/v1/index", { period: state.period, agency: state.agency });
  const range = { from: index.period.from, to: index.period.to, agency: state.agency };
  const [summary, trend] = await Promise.all([
    getJSON("/v1/metrics/summary", range),
    getJSON("/v1/metrics/trend", { to: index.period.to, agency: state.agency, interval: "month", limit: 12 }),
  ]);
  renderIndex(index);
  renderSummary(summary);
  renderTrend(trend);
  $("updated").textContent = `Cập nhật ${new Date().toLocaleTimeString("vi-VN", { timeZone: TZ })}`;
  document.body.dataset.ready = "1";
}

function scheduleRefresh(delay = 1500) {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => refresh().catch(showError), delay);
}

function showError(error) {
  $("updated").textContent = `Lỗi: ${error.message}`;
}

async function startFeed() {
  const recent = await getJSON("/v1/events/recent", { agency: state.agency, limit: 30 });
  $("feed").replaceChildren();
  for (const event of recent.events.reverse()) addToFeed(event, false);
  if (state.source) state.source.close();
  const query = new URLSearchParams(state.agency ? { agency: state.agency } : {});
  const source = new EventSource(`/v1/events/stream?${query}`);
  source.onopen = () => $("live").classList.add("on");
  source.onerror = () => {
    $("live").classList.remove("on");
    // A non-200 answer (503 when the service has its fill of subscribers, a proxy's 502 during a
    // rollout) closes an EventSource for good: the feed stayed dead until the page was reloaded.
    if (source.readyState === EventSource.CLOSED) {
      setTimeout(() => { if (state.source === source) startFeed().catch(showError); }, FEED_RETRY_MS);
    }
  };
  source.onmessage = (message) => {
    addToFeed(JSON.parse(message.data), true);
    scheduleRefresh();
  };
  source.addEventListener("gap", () => {
    // The service lost the events' source a while: the feed is read again from the recent events.
    $("feed-note").textContent = "Luồng sự kiện bị gián đoạn, đã tải lại";
    startFeed().catch(showError);
  });
  source.addEventListener("dropped", (message) => {
    $("feed-note").textContent = `${JSON.parse(message.data).dropped} sự kiện bị bỏ qua (kết nối chậm)`;
    scheduleRefresh();
  });
  state.source = source;
}

function defaultPeriod(kind) {
  const now = new Date(new Date().toLocaleString("en-US", { timeZone: TZ }));
  const year = now.getFullYear();
  if (kind === "quarter") return `${year}-Q${Math.floor(now.getMonth() / 3) + 1}`;
  if (kind === "month") return `${year}-${String(now.getMonth() + 1).padStart(2, "0")}`;
  return String(year);
}

async function loadAgencies() {
  const meta = await getJSON("/v1/meta");
  const select = $("agency");
  for (const agency of meta.agencies) {
    const option = document.createElement("option");
    option.value = agency.code;
    option.textContent = `${agency.name_vi} (${agency.code})`;
    select.append(option);
  }
  select.value = state.agency;
}

function init() {
  const params = new URLSearchParams(location.search);
  state.period = params.get("period") || defaultPeriod("year");
  state.agency = params.get("agency") || "";
  $("period").value = state.period;
  $("period-kind").value = state.period.includes("Q") ? "quarter" : state.period.length === 7 ? "month" : "year";
  $("period-kind").addEventListener("change", (e) => { $("period").value = defaultPeriod(e.target.value); });
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams({ period: $("period").value });
    if ($("agency").value) next.set("agency", $("agency").value);
    location.search = next.toString();
  });
  loadAgencies().catch(showError);
  refresh().catch(showError);
  startFeed().catch(showError);
  setInterval(() => refresh().catch(showError), 30000);
}

init();
