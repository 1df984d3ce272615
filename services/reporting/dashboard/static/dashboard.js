// modstream dashboard: reads the scoped /v1 API with the token the user typed.
// After every draw it sets window.__charts_ready = {messages, active_users, joins, leaves,
// violations, complaints, enforcement, would_have, queue_open, group} (data points per
// chart, rows of the dry-run list, open enforcement items), the same as JSON in
// body[data-charts], and body[data-charts-ready]: the hooks a headless-browser test reads.
// The token may also come in the URL fragment: /#token=<token>[&group=<group key>].
"use strict";

const TOKEN_KEY = "modstream.token";
const GROUP_KEY = "modstream.group";
const charts = {};
const $ = (id) => document.getElementById(id);

function status(text, isError) {
  const el = $("status");
  el.textContent = text;
  el.className = isError ? "error" : "";
}

async function api(path) {
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) throw new Error("Enter an API token first.");
  const res = await fetch(path, { headers: { Authorization: "Bearer " + token } });
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new Error(res.status + ": " + (typeof detail === "string" ? detail : JSON.stringify(detail)));
  }
  return res.json();
}

function rangeQuery() {
  const q = new URLSearchParams();
  if ($("from").value) q.set("from", $("from").value);
  if ($("to").value) q.set("to", $("to").value);
  return q;
}

async function dailyActivity(group) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < 20; page++) {
    const q = rangeQuery();
    q.set("granularity", "day");
    q.set("limit", "1000");
    if (cursor) q.set("cursor", cursor);
    const body = await api(`/v1/groups/${encodeURIComponent(group)}/activity?${q}`);
    items.push(...body.items);
    cursor = body.next;
    if (!cursor) break;
  }
  return items;
}

// The counts also go into body[data-charts] as JSON, so a headless browser's DOM dump
// (chromium --dump-dom) shows them without running script of its own.
function chartsReady(counts) {
  window.__charts_ready = counts;
  document.body.dataset.charts = JSON.stringify(counts);
  document.body.dataset.chartsReady = "true";
}

// A token handed over in the URL fragment (#token=...; a fragment is never sent to the
// server, so it lands in no access log) is kept like a typed one and removed from the
// address bar at once. Also #group=<group key> to open one group.
function tokenFromFragment() {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  const token = params.get("token");
  const group = params.get("group");
  if (token) localStorage.setItem(TOKEN_KEY, token.trim());
  if (group) localStorage.setItem(GROUP_KEY, group);
  if (token || group) history.replaceState(null, "", window.location.pathname + window.location.search);
}

function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  config.options = Object.assign({ animation: false, responsive: true }, config.options || {});
  charts[id] = new Chart($(id), config);
}

// Decided against what the enforcer did, per action, summed over rules.
function enforcementByAction(items) {
  const by = new Map();
  for (const row of items) {
    const into = by.get(row.action) || { decided: 0, executed: 0, dry_run: 0, failed: 0, other: 0 };
    into.decided += row.decided;
    into.executed += row.executed;
    into.dry_run += row.dry_run;
    into.failed += row.failed;
    into.other += row.unsupported + row.partial + row.unknown;
    by.set(row.action, into);
  }
  return [...by.entries()].sort((a, b) => a[0].localeCompare(b[0]));
}

function showWouldHave(records) {
  const body = $("would-have").querySelector("tbody");
  body.replaceChildren(...records.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.decisionId = r.decision_id;
    for (const [text, cls] of [[r.at, ""], [r.decision_id, ""], [r.action, ""], [r.platform_call, "call"]]) {
      const td = document.createElement("td");
      td.textContent = text;
      if (cls) td.className = cls;
      tr.appendChild(td);
    }
    return tr;
  }));
  $("would-have").hidden = !records.length;
  $("would-have-none").hidden = records.length > 0;
}

async function showGroup(group) {
  if (!group) return;
  localStorage.setItem(GROUP_KEY, group);
  document.body.dataset.chartsReady = "";
  status("Loading " + group + " …");
  const key = encodeURIComponent(group);
  const [days, violations, complaints, enforcement, queue] = await Promise.all([
    dailyActivity(group),
    api(`/v1/groups/${key}/violations?${rangeQuery()}&limit=1`),
    api(`/v1/groups/${key}/complaints?limit=1000`),
    api(`/v1/groups/${key}/enforcement?${rangeQuery()}&limit=20`),
    api(`/v1/queue?group=${key}&kind=enforcement&status=open&limit=1000`),
  ]);
  const labels = days.map((d) => d.period);
  draw("chart-messages", {
    type: "line",
    data: { labels, datasets: [
      { label: "messages", data: days.map((d) => d.messages), borderColor: "#1f77b4" },
      { label: "active users", data: days.map((d) => d.active_users), borderColor: "#ff7f0e" },
    ] },
  });
  draw("chart-members", {
    type: "bar",
    data: { labels, datasets: [
      { label: "joins", data: days.map((d) => d.joins), backgroundColor: "#2ca02c" },
      { label: "leaves", data: days.map((d) => -d.leaves), backgroundColor: "#d62728" },
    ] },
  });
  const rules = Object.entries(violations.counts.by_rule);
  draw("chart-violations", {
    type: "bar",
    data: { labels: rules.map((r) => r[0]), datasets: [
      { label: "violations", data: rules.map((r) => r[1]), backgroundColor: "#9467bd" },
    ] },
    options: { indexAxis: "y" },
  });
  const cases = complaints.items.filter((c) => c.hours_to_first_action !== null
    || c.hours_to_resolution !== null).reverse();
  draw("chart-complaints", {
    type: "bar",
    data: { labels: cases.map((c) => c.complaint_id), datasets: [
      { label: "hours to first action", data: cases.map((c) => c.hours_to_first_action), backgroundColor: "#17becf" },
      { label: "hours to resolution", data: cases.map((c) => c.hours_to_resolution), backgroundColor: "#7f7f7f" },
    ] },
  });
  const f = complaints.figures;
  $("complaint-figures").textContent =
    `${f.total} filed, ${f.open} open (${f.overdue} beyond ${f.sla_hours} h), ` +
    `median ${f.hours_to_resolution.median ?? "-"} h to resolution`;
  const actions = enforcementByAction(enforcement.items);
  draw("chart-enforcement", {
    type: "bar",
    data: { labels: actions.map((a) => a[0]), datasets: [
      { label: "decided", data: actions.map((a) => a[1].decided), backgroundColor: "#1f77b4" },
      { label: "executed", data: actions.map((a) => a[1].executed), backgroundColor: "#2ca02c" },
      { label: "would have (dry run)", data: actions.map((a) => a[1].dry_run), backgroundColor: "#bcbd22" },
      { label: "failed", data: actions.map((a) => a[1].failed), backgroundColor: "#d62728" },
      { label: "unsupported / partial / unknown", data: actions.map((a) => a[1].other), backgroundColor: "#8c564b" },
    ] },
    options: { aspectRatio: 3 },  // the section spans the page: keep it low
  });
  const t = enforcement.totals;
  const open = queue.items.length + (queue.next_offset === null ? "" : "+");
  $("enforcement-figures").textContent =
    `${t.decided} decided, ${t.executed} executed, ${t.dry_run} would have been (dry run), ` +
    `${t.failed} failed, ${t.unsupported} unsupported, ${t.partial} partial, ${t.unknown} unknown; ` +
    `mode ${enforcement.mode ?? "-"}; ${open} open in the queue`;
  showWouldHave(enforcement.would_have);
  chartsReady({
    group,
    messages: days.length,
    active_users: days.length,
    joins: days.length,
    leaves: days.length,
    violations: rules.length,
    complaints: cases.length,
    enforcement: actions.length,
    would_have: enforcement.would_have.length,
    queue_open: queue.items.length,
  });
  status(`${group}: ${days.length} days, ${violations.counts.total} violations, ${f.total} complaints`);
}

async function loadGroups() {
  const body = await api("/v1/groups");
  const select = $("group");
  select.replaceChildren(...body.items.map((g) => {
    const opt = document.createElement("option");
    opt.value = g.group_key;
    opt.textContent = `${g.group_key} (${g.language}, ${g.timezone})`;
    return opt;
  }));
  if (!body.items.length) {
    status("This token may see no group with data yet.");
    chartsReady({ group: null, messages: 0, active_users: 0, joins: 0, leaves: 0,
      violations: 0, complaints: 0, enforcement: 0, would_have: 0, queue_open: 0 });
    return;
  }
  const saved = localStorage.getItem(GROUP_KEY);
  if (saved && body.items.some((g) => g.group_key === saved)) select.value = saved;
  await showGroup(select.value);
}

function guard(promise) {
  promise.catch((err) => status(err.message, true));
}

document.addEventListener("DOMContentLoaded", () => {
  tokenFromFragment();
  $("token").value = localStorage.getItem(TOKEN_KEY) || "";
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    localStorage.setItem(TOKEN_KEY, $("token").value.trim());
    guard(loadGroups());
  });
  $("forget").addEventListener("click", () => {
    localStorage.removeItem(TOKEN_KEY);
    $("token").value = "";
    status("Token forgotten.");
  });
  $("group").addEventListener("change", () => guard(showGroup($("group").value)));
  $("from").addEventListener("change", () => guard(showGroup($("group").value)));
  $("to").addEventListener("change", () => guard(showGroup($("group").value)));
  if (localStorage.getItem(TOKEN_KEY)) guard(loadGroups());
  else status("Enter an API token to begin.");
});
