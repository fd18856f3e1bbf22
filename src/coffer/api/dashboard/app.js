// coffer's dashboard: one page over the /api/v1 JSON API. It never builds HTML from data
// (textContent only), keeps no secret but the CSRF token of its session, and shows only what
// the logged-in role may use: the API refuses the rest anyway (docs/api.md).
"use strict";

const may = {
  status: () => true,
  snapshots: (role) => role !== "viewer",
  run: (role) => role === "operator" || role === "admin",
  audit: (role) => role === "auditor" || role === "admin",
  manage: (role) => role === "admin",
};

let session = null;  // {user, role, csrf_token}

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && session && session.csrf_token)
    headers["X-CSRF-Token"] = session.csrf_token;
  const res = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try { data = await res.json(); } catch (e) { /* an empty body */ }
  return { status: res.status, data };
}

function $(id) { return document.getElementById(id); }

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null || text === "" ? "-" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function age(seconds) {
  if (seconds === undefined) return "-";
  if (seconds < 120) return seconds + " s";
  if (seconds < 7200) return Math.round(seconds / 60) + " min";
  if (seconds < 172800) return Math.round(seconds / 3600) + " h";
  return Math.round(seconds / 86400) + " d";
}

function bytes(n) {
  if (!n) return "0 B";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return n.toFixed(i ? 1 : 0) + " " + units[i];
}

function showLogin(message) {
  session = null;
  $("login").hidden = false;
  $("overview").hidden = true;
  $("audit").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  $("verdict").textContent = "";
  $("login-error").textContent = message || "";
}

async function start() {
  const me = await api("GET", "/api/v1/session");
  if (me.status !== 200) return showLogin();
  session = me.data;
  $("login").hidden = true;
  $("logout").hidden = false;
  $("who").textContent = session.user + " (" + session.role + ")";
  $("overview").hidden = false;
  $("audit").hidden = !may.audit(session.role);
  await refresh();
  if (may.audit(session.role)) await loadAudit();
}

async function refresh() {
  const st = await api("GET", "/api/v1/status");
  if (st.status === 401) return showLogin("Your session ended: log in again.");
  const verdict = $("verdict");
  verdict.textContent = st.data.protected ? "Protected" : "Not protected";
  verdict.className = "verdict " + (st.data.protected ? "ok" : "late");
  const body = $("sets").querySelector("tbody");
  body.replaceChildren();
  const select = $("snapshot-set");
  const chosen = select.value;
  select.replaceChildren();
  for (const s of st.data.sets) {
    const tr = document.createElement("tr");
    tr.dataset.set = s.set;
    cell(tr, s.set);
    cell(tr, s.newest_snapshot);
    cell(tr, age(s.age_s));
    cell(tr, s.rpo_status === "none" ? "no RPO" : s.rpo_status.toUpperCase() +
         " (" + age(s.rpo_s) + ")", s.rpo_status);
    const last = s.last_run;
    cell(tr, last ? last.job + ": " + last.outcome : "", last ? last.outcome : "");
    const drill = s.last_drill;
    cell(tr, drill ? drill.outcome + " " + drill.end +
         (s.rto_s ? " (RTO " + age(s.rto_s) + ")" : "") : "", drill ? drill.outcome : "");
    cell(tr, s.next_due);
    const actions = cell(tr, "");
    actions.textContent = "";
    if (may.run(session.role)) {
      for (const job of ["backup", "drill"]) {
        const b = document.createElement("button");
        b.textContent = job === "backup" ? "Back up now" : "Drill now";
        b.className = "run-" + job;
        b.addEventListener("click", () => runJob(s.set, job));
        actions.appendChild(b);
      }
    }
    if (s.paused) tr.cells[6].textContent = "paused";
    if (may.manage(session.role)) {
      const pause = document.createElement("button");
      pause.textContent = s.paused ? "Resume" : "Pause";
      pause.className = s.paused ? "resume" : "pause";
      pause.addEventListener("click", async () => {
        const r = await api("POST", "/api/v1/sets/" + encodeURIComponent(s.set) + "/" +
                            (s.paused ? "resume" : "pause"), {});
        $("action-result").textContent = r.status === 200
          ? s.set + ": scheduled backups " + (r.data.paused ? "paused" : "resumed")
          : s.set + ": " + (r.data.error || r.status);
        await refresh();
      });
      actions.appendChild(pause);
      const b = document.createElement("button");
      b.textContent = "Restore\u2026";
      b.className = "restore";
      b.addEventListener("click", () => openRestore(s.set));
      actions.appendChild(b);
    }
    body.appendChild(tr);
    const opt = document.createElement("option");
    opt.value = opt.textContent = s.set;
    select.appendChild(opt);
  }
  if (chosen) select.value = chosen;
  await loadLocations();
  // Runs and snapshots are for the roles that may read them (not a viewer).
  $("history").hidden = !may.snapshots(session.role);
  if (may.snapshots(session.role)) {
    await loadSnapshots(select.value);
    await loadTimeline(st.data.sets.map((s) => s.set));
  }
}

async function runJob(set, job) {
  const out = $("action-result");
  const r = await api("POST", "/api/v1/sets/" + encodeURIComponent(set) + "/" + job, {});
  if (r.status !== 202) {
    out.textContent = job + " of " + set + " refused: " + (r.data.error || r.status);
    return;
  }
  out.textContent = job + " of " + set + " queued (job " + r.data.id + ")";
  for (let i = 0; i < 600; i++) {
    await new Promise((ok) => setTimeout(ok, 1000));
    const j = await api("GET", "/api/v1/sets/" + encodeURIComponent(set) + "/jobs/" + r.data.id);
    if (j.status !== 200) break;
    out.textContent = job + " of " + set + " (job " + j.data.id + "): " +
        (j.data.state === "done" ? j.data.outcome +
         (j.data.snapshot ? ", snapshot " + j.data.snapshot.slice(0, 8) : "") +
         (j.data.error ? ": " + j.data.error : "") :
         j.data.state + (j.data.progress ? ", " + j.data.progress : ""));
    if (j.data.state === "done") break;
  }
  await refresh();
}

// The restore dialog: the same typed confirmation as `coffer restore --set X --confirm X`. The
// Restore button stays disabled until the set's name is typed out (in place) or a directory is
// given; the key goes in the request's body and is cleared from the form when it is sent.
let restoreSet = null;

function restoreReady() {
  const inPlace = $("restore-in-place").checked;
  $("restore-target-label").hidden = inPlace;
  $("restore-confirm-label").hidden = !inPlace;
  $("restore-warning").textContent = inPlace
    ? "This REPLACES the live data of set " + restoreSet + " with the snapshot chosen; " +
      "everything written since is lost (a safety snapshot is taken first)."
    : "";
  const ready = inPlace ? $("restore-confirm").value === restoreSet
                        : $("restore-target").value.startsWith("/");
  $("restore-submit").disabled = !ready || $("restore-key").value === "";
}

async function openRestore(set) {
  restoreSet = set;
  $("restore-title").textContent = "Restore set " + set;
  $("restore-confirm").value = "";
  $("restore-key").value = "";
  $("restore-target").value = "";
  $("restore-in-place").checked = true;
  $("restore-result").textContent = "";
  $("restore-checks").replaceChildren();
  const select = $("restore-snapshot");
  select.replaceChildren();
  const newest = document.createElement("option");
  newest.value = "";
  newest.textContent = "the newest";
  select.appendChild(newest);
  const r = await api("GET", "/api/v1/sets/" + encodeURIComponent(set) + "/snapshots");
  if (r.status === 200)
    for (const snap of r.data.snapshots.slice().reverse()) {
      const opt = document.createElement("option");
      opt.value = snap.id;
      opt.textContent = snap.id.slice(0, 8) + " " + snap.time.slice(0, 19) + "Z";
      select.appendChild(opt);
    }
  restoreReady();
  $("restore-dialog").showModal();
}

async function submitRestore() {
  const set = restoreSet;
  const body = { recovery_key: $("restore-key").value.trim() };
  $("restore-key").value = "";
  if ($("restore-snapshot").value) body.snapshot = $("restore-snapshot").value;
  if ($("restore-in-place").checked) body.confirm = $("restore-confirm").value;
  else body.target = $("restore-target").value;
  $("restore-submit").disabled = true;
  const out = $("restore-result");
  const r = await api("POST", "/api/v1/sets/" + encodeURIComponent(set) + "/restore", body);
  if (r.status !== 202) {
    out.textContent = "restore of " + set + " refused: " + (r.data.error || r.status);
    return;
  }
  out.textContent = "restore of " + set + " queued (job " + r.data.id + ")";
  for (let i = 0; i < 3600; i++) {
    await new Promise((ok) => setTimeout(ok, 1000));
    const j = await api("GET", "/api/v1/sets/" + encodeURIComponent(set) + "/jobs/" + r.data.id);
    if (j.status !== 200) break;
    out.textContent = "restore of " + set + " (job " + j.data.id + "): " +
        (j.data.state === "done" ? j.data.outcome + (j.data.error ? ": " + j.data.error : "")
                                 : j.data.state + (j.data.progress ? ", " + j.data.progress : ""));
    out.className = j.data.state === "done" ? (j.data.outcome === "ok" ? "ok" : "failed") : "";
    if (j.data.state !== "done") continue;
    const list = $("restore-checks");
    for (const c of (j.data.report && j.data.report.checks) || []) {
      const li = document.createElement("li");
      li.textContent = (c.ok ? "ok: " : "FAILED: ") + (c.source ? c.source + ": " : "") +
          c.check + " (" + c.detail + ")";
      li.className = c.ok ? "ok" : "failed";
      list.appendChild(li);
    }
    break;
  }
  await refresh();
}

// Per location (the repository and its mirrors): how fresh each copy is.
async function loadLocations() {
  const body = $("locations").querySelector("tbody");
  body.replaceChildren();
  const r = await api("GET", "/api/v1/mirrors");
  if (r.status !== 200) return;
  if (!r.data.configured) {
    const tr = document.createElement("tr");
    cell(tr, "no mirror configured: one copy only").colSpan = 5;
    body.appendChild(tr);
    return;
  }
  for (const l of r.data.locations) {
    const tr = document.createElement("tr");
    cell(tr, l.location);
    cell(tr, l.role);
    cell(tr, l.newest_snapshot);
    const lag = l.lag_seconds;
    cell(tr, l.error ? "ERROR: " + l.error : lag === undefined ? "" : lag === null ? "no copy" :
         age(lag), l.error ? "failed" : lag ? "late" : "ok");
    cell(tr, l.missing_objects === undefined ? "" :
         l.missing_objects + " objects, " + bytes(l.missing_bytes));
    body.appendChild(tr);
  }
}

async function loadSnapshots(set) {
  const body = $("snapshots").querySelector("tbody");
  body.replaceChildren();
  if (!set) return;
  const r = await api("GET", "/api/v1/sets/" + encodeURIComponent(set) + "/snapshots");
  if (r.status !== 200) return;
  for (const s of r.data.snapshots.slice().reverse()) {
    const tr = document.createElement("tr");
    cell(tr, s.id.slice(0, 8));
    cell(tr, s.time.slice(0, 19) + "Z");
    cell(tr, s.hostname);
    cell(tr, bytes(s.size));
    cell(tr, bytes(s.added));
    body.appendChild(tr);
  }
}

// One row per set, one bar per run over the last day (or since the oldest run shown).
async function loadTimeline(sets) {
  const svgNS = "http://www.w3.org/2000/svg";
  const runs = [];
  for (const set of sets) {
    const r = await api("GET", "/api/v1/sets/" + encodeURIComponent(set) + "/runs");
    if (r.status === 200) for (const run of r.data.runs) runs.push(run);
  }
  const box = $("timeline");
  box.replaceChildren();
  if (!runs.length) {
    box.textContent = "No runs yet.";
    return;
  }
  const t = (s) => Date.parse(s);
  const end = Math.max(...runs.map((r) => t(r.end || r.start)));
  const begin = Math.min(...runs.map((r) => t(r.start)), end - 3600 * 1000);
  const width = 1000, row = 22, label = 120;
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("viewBox", "0 0 " + width + " " + (row * sets.length + 20));
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Runs per set over time");
  sets.forEach((set, i) => {
    const text = document.createElementNS(svgNS, "text");
    text.setAttribute("x", 4);
    text.setAttribute("y", i * row + 15);
    text.textContent = set;
    svg.appendChild(text);
  });
  const x = (ms) => label + (width - label - 10) * (ms - begin) / Math.max(1, end - begin);
  for (const r of runs) {
    const i = sets.indexOf(r.set);
    const rect = document.createElementNS(svgNS, "rect");
    const from = x(t(r.start)), to = x(t(r.end || r.start));
    rect.setAttribute("x", from);
    rect.setAttribute("y", i * row + 4);
    rect.setAttribute("width", Math.max(3, to - from));
    rect.setAttribute("height", row - 8);
    rect.setAttribute("fill", r.outcome === "ok" ? "#2e9e55" :
                      r.outcome === "running" ? "#8893a0" : "#c93a3a");
    const title = document.createElementNS(svgNS, "title");
    title.textContent = r.job + " " + r.outcome + " " + r.start + (r.error ? ": " + r.error : "");
    rect.appendChild(title);
    svg.appendChild(rect);
  }
  box.appendChild(svg);
  box.appendChild(addedChart(runs.filter((r) => r.job === "backup" && r.outcome === "ok")));
}

// What each backup added to the repository, oldest to newest: a jump is a change worth a look
// (a dump that grew, a bucket filled), a flat zero a source that stopped changing.
function addedChart(backups) {
  const svgNS = "http://www.w3.org/2000/svg";
  const shown = backups.slice(0, 60).reverse();
  const svg = document.createElementNS(svgNS, "svg");
  svg.id = "added-chart";
  const width = 1000, height = 90;
  svg.setAttribute("viewBox", "0 0 " + width + " " + (height + 20));
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Data added per backup");
  const caption = document.createElementNS(svgNS, "text");
  caption.setAttribute("x", 4);
  caption.setAttribute("y", 14);
  const most = Math.max(1, ...shown.map((r) => r.bytes_added || 0));
  caption.textContent = "Data added per backup (largest " + bytes(most) + ")";
  svg.appendChild(caption);
  const w = (width - 130) / Math.max(1, shown.length);
  shown.forEach((r, i) => {
    const h = Math.max(1, (height - 20) * (r.bytes_added || 0) / most);
    const bar = document.createElementNS(svgNS, "rect");
    bar.setAttribute("x", 120 + i * w);
    bar.setAttribute("y", height + 10 - h);
    bar.setAttribute("width", Math.max(2, w - 2));
    bar.setAttribute("height", h);
    bar.setAttribute("fill", "#4a78b5");
    const title = document.createElementNS(svgNS, "title");
    title.textContent = r.set + " " + r.start + ": " + bytes(r.bytes_added) + " added";
    bar.appendChild(title);
    svg.appendChild(bar);
  });
  return svg;
}

async function loadAudit() {
  const r = await api("GET", "/api/v1/audit");
  const body = $("audit-entries").querySelector("tbody");
  body.replaceChildren();
  if (r.status !== 200) return;
  for (const e of r.data.entries.slice(-200).reverse()) {
    const tr = document.createElement("tr");
    cell(tr, e.index);
    cell(tr, (e.time || "").slice(0, 19));
    cell(tr, e.actor);
    cell(tr, e.action);
    cell(tr, e.target);
    cell(tr, e.outcome, e.outcome === "ok" ? "ok" : "failed");
    body.appendChild(tr);
  }
}

async function verifyAudit() {
  const status = $("audit-status");
  status.textContent = "verifying...";
  status.className = "";
  const r = await api("POST", "/api/v1/audit/verify", {});
  const good = r.status === 200 && r.data.verified;
  status.textContent = good ? "verified" : "NOT verified: " + (r.data.error || r.status);
  status.className = "verdict " + (good ? "ok" : "failed");
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await api("POST", "/api/v1/login",
                        { user: $("login-user").value, password: $("login-password").value });
    $("login-password").value = "";
    if (r.status !== 200) return showLogin(r.data.error || "login failed");
    await start();
  });
  $("logout").addEventListener("click", async () => {
    await api("POST", "/api/v1/logout", {});
    showLogin("Logged out.");
  });
  $("snapshot-set").addEventListener("change", (ev) => loadSnapshots(ev.target.value));
  $("audit-verify").addEventListener("click", verifyAudit);
  for (const id of ["restore-in-place", "restore-to-target", "restore-confirm", "restore-key",
                    "restore-target"])
    $(id).addEventListener("input", restoreReady);
  $("restore-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    submitRestore();
  });
  $("restore-cancel").addEventListener("click", () => $("restore-dialog").close());
  start();
});
