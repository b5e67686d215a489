// One job: its status timeline, attempts (exit codes, reasons), parameters and container
// settings, dependencies both ways as a small graph, array status summary, multi-node nodes,
// and its log, followed live (GetLogEvents with nextForwardToken) while it runs. Cancel and
// terminate, each confirmed.
import { batch, logs, pages, seen } from "./api.js";
import { children } from "./jobs.js";
import { h, s, replace, badge, time, timeEl, duration, nameFromArn, notice, confirmAction, STATUSES } from "./dom.js";

const LOG_GROUP = "/aws/batch/job";
const TERMINAL = ["SUCCEEDED", "FAILED"];
const DEPENDENT_SCAN = 1000; // jobs of the queue read to find the jobs that depend on this one
let view = null; // { main, id, job, logTimer, logToken, logStream, refreshing }

export async function render(main, params) {
  leave();
  view = { main, id: params.get("id") };
  await refresh();
}

export function leave() {
  if (view && view.logTimer) clearTimeout(view.logTimer);
  view = null;
}

export function onEvent(event) {
  const d = event.detail || {};
  if (!view) return;
  if (d.jobId === view.id || (view.job && view.job.arrayProperties && d.arrayProperties && d.arrayProperties.index !== undefined && d.jobId.startsWith(view.id + ":"))) {
    clearTimeout(view.refreshing);
    view.refreshing = setTimeout(() => view && refresh().catch(() => {}), 300);
  }
}

async function describe(ids) {
  const out = [];
  for (let i = 0; i < ids.length; i += 100) out.push(...(await batch("DescribeJobs", { jobs: ids.slice(i, i + 100) })).jobs);
  return out;
}

async function refresh() {
  const v = view;
  const [job] = await describe([v.id]);
  if (view !== v) return;
  if (!job) {
    replace(v.main, h("h2", {}, "Job not found"), h("p", {}, `No job ${v.id} in account / region shown (it may belong to another account, or have expired).`));
    return;
  }
  const first = !v.job;
  const changed = !first && v.job.status !== job.status;
  v.job = job;
  if (first) {
    replace(v.main,
      h("h2", { id: "job-title" }, `Job ${job.jobName}`),
      h("div", { id: "job-head" }),
      h("section", { "aria-labelledby": "tl-h" }, h("h3", { id: "tl-h" }, "Status timeline"), h("ol", { id: "status-timeline", class: "status-timeline" })),
      h("section", { "aria-labelledby": "at-h" }, h("h3", { id: "at-h" }, "Attempts"), h("div", { id: "attempts" })),
      h("section", { "aria-labelledby": "ar-h", id: "array-section" }),
      h("section", { "aria-labelledby": "dep-h" }, h("h3", { id: "dep-h" }, "Dependencies"), h("div", { id: "deps" }, "Looking for dependencies…")),
      h("section", { "aria-labelledby": "log-h" }, h("h3", { id: "log-h" }, "Log"),
        h("p", {}, h("label", {}, h("input", { type: "checkbox", id: "log-follow", checked: true }), " Scroll with new lines"), " ",
          h("span", { id: "log-state", role: "status" })),
        h("pre", { id: "job-log", class: "log", tabindex: "0", role: "log", "aria-label": "Job log" })),
      h("section", { "aria-labelledby": "set-h" }, h("h3", { id: "set-h" }, "Parameters and container settings"), h("div", { id: "settings-view" })));
  }
  if (first || changed) { // the graph shows statuses: read it again when this job moves on
    dependencies(job).catch((err) => replace(document.getElementById("deps"), `Could not read dependencies: ${err.message}`));
  }
  head(job);
  statusTimeline(job);
  attempts(job);
  arraySection(job);
  settingsView(job);
  followLog(job);
}

function head(job) {
  const done = TERMINAL.includes(job.status);
  replace(document.getElementById("job-head"),
    h("p", {}, "Status: ", h("span", { id: "job-status" }, badge(job.status)),
      job.statusReason ? h("span", { class: "reason", id: "job-reason" }, ` — ${job.statusReason}`) : ""),
    h("dl", { class: "facts" },
      h("dt", {}, "Job id"), h("dd", {}, job.jobId),
      h("dt", {}, "Queue"), h("dd", {}, h("a", { href: `#/jobs?queue=${encodeURIComponent(nameFromArn(job.jobQueue))}` }, nameFromArn(job.jobQueue))),
      h("dt", {}, "Definition"), h("dd", {}, nameFromArn(job.jobDefinition)),
      job.shareIdentifier ? [h("dt", {}, "Share"), h("dd", {}, job.shareIdentifier)] : "",
      job.arrayProperties && job.arrayProperties.index !== undefined ? [h("dt", {}, "Array parent"),
        h("dd", {}, h("a", { href: `#/job/${encodeURIComponent(job.jobId.split(":")[0])}` }, job.jobId.split(":")[0]))] : ""),
    done ? "" : h("p", { class: "buttons" },
      h("button", { type: "button", id: "cancel-job", onclick: () => act("CancelJob", "Cancel", job) }, "Cancel job…"), " ",
      h("button", { type: "button", id: "terminate-job", onclick: () => act("TerminateJob", "Terminate", job) }, "Terminate job…")));
}

async function act(operation, verb, job) {
  const what = verb === "Cancel"
    ? "A job that has not started yet ends as FAILED. To stop a job that is already running, terminate it."
    : "The job ends as FAILED; a running container is stopped.";
  const ok = await confirmAction(`${verb} job ${job.jobName}?`, what,
    [{ name: "reason", label: "Reason (shown as the job's status reason)", value: `${verb}led from the dashboard`, required: true }], `${verb} job`);
  if (!ok) return;
  try {
    await batch(operation, { jobId: job.jobId, reason: ok.reason });
    notice(`${verb} requested for ${job.jobName}.`);
  } catch (err) {
    notice(`Could not ${verb.toLowerCase()} ${job.jobName}: ${err.message}`, "error");
  }
  if (view) refresh().catch(() => {});
}

// What is known of when each status was reached: createdAt (SUBMITTED), startedAt (RUNNING),
// stoppedAt (the end) from DescribeJobs; the rest from the state changes seen live. A status
// is "passed" only when the job must have gone through it (a started job went through
// RUNNABLE and STARTING; a job with dependencies waited in PENDING); otherwise, for a job that
// ended without starting, the page says it does not know rather than guess.
function statusTimeline(job) {
  const live = new Map((seen.get(job.jobId) || []).map((e) => [e.status, e.at]));
  const at = { ...Object.fromEntries(live), SUBMITTED: job.createdAt, ...(job.startedAt ? { RUNNING: job.startedAt } : {}),
    ...(job.stoppedAt && TERMINAL.includes(job.status) ? { [job.status]: job.stoppedAt } : {}) };
  const order = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"];
  const now = order.indexOf(job.status);
  const started = Boolean(job.startedAt);
  const waited = (job.dependsOn || []).length > 0 || Boolean(job.arrayProperties && job.arrayProperties.size);
  const passed = (st) => {
    if (st === job.status || at[st]) return true;
    if (TERMINAL.includes(st)) return false; // the other ending
    if (st === "PENDING") return waited && now !== 0; // only a job that waits for others
    if (now >= 0) return order.indexOf(st) < now; // on the way: everything before is behind it
    if (started) return true; // ended after running: it went through every step before
    return st === "RUNNING" ? false : null; // ended without startedAt: never ran; the rest unknown
  };
  const path = [...order, ...(TERMINAL.includes(job.status) ? [job.status] : TERMINAL)];
  replace(document.getElementById("status-timeline"), path.map((st) => {
    const was = passed(st);
    const stateText = st === job.status ? "current" : was ? "passed" : was === null ? "not known" : "not reached";
    return h("li", { class: `step ${stateText.replace(" ", "-")}`, "data-status": st },
      badge(st), " ", h("span", { class: "when" }, at[st] ? timeEl(at[st]) : was ? "time not recorded" : ""),
      h("span", { class: "step-state" }, ` (${stateText})`));
  }));
}

function attempts(job) {
  const list = job.attempts || [];
  replace(document.getElementById("attempts"), list.length ? h("table", { id: "attempts-table" },
    h("caption", {}, `${list.length} attempt${list.length === 1 ? "" : "s"}`),
    h("thead", {}, h("tr", {}, ["#", "Started", "Stopped", "Took", "Exit code", "Reason", "Log stream"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, list.map((a, i) => h("tr", {},
      h("td", {}, i + 1), h("td", {}, timeEl(a.startedAt)), h("td", {}, timeEl(a.stoppedAt)),
      h("td", {}, a.startedAt && a.stoppedAt ? duration(a.stoppedAt - a.startedAt) : "—"),
      h("td", {}, a.container && a.container.exitCode !== undefined ? String(a.container.exitCode) : "—"),
      h("td", {}, [a.statusReason, a.container && a.container.reason].filter(Boolean).join("; ") || "—"),
      h("td", {}, (a.container && a.container.logStreamName) || "—")))))
    : h("p", {}, TERMINAL.includes(job.status) ? "No attempt was made." : "No attempt has finished yet."));
}

function arraySection(job) {
  const el = document.getElementById("array-section");
  const props = job.arrayProperties;
  const nodes = job.nodeProperties;
  if (props && props.size) {
    const summary = props.statusSummary || {};
    replace(el, h("h3", { id: "ar-h" }, `Array of ${props.size}`),
      h("dl", { class: "facts", id: "array-summary" }, STATUSES.map((st) => [h("dt", {}, badge(st)), h("dd", {}, summary[st] ?? 0)])),
      h("p", {}, h("a", { href: `#/jobs?queue=${encodeURIComponent(nameFromArn(job.jobQueue))}&name=${encodeURIComponent(job.jobName)}` }, "See this job in the job list"), " (expand it there for its children)."));
  } else if (nodes && nodes.numNodes) {
    replace(el, h("h3", { id: "ar-h" }, `Multi-node job: ${nodes.numNodes} nodes, main node ${nodes.mainNode ?? 0}`), h("div", { id: "nodes" }, "Listing nodes…"));
    children(job.jobId, "multiNodeJobId", 100)
      .then((found) => replace(document.getElementById("nodes"), found.items.length ? h("ul", {}, found.items.map((n) =>
        h("li", {}, h("a", { href: `#/job/${encodeURIComponent(n.jobId)}` }, n.jobName || n.jobId), " ", badge(n.status)))) : "No nodes listed yet."))
      .catch((err) => replace(document.getElementById("nodes"), `Nodes not available from this server: ${err.message}`));
  } else {
    replace(el);
    el.hidden = true;
    return;
  }
  el.hidden = false;
}

function settingsView(job) {
  const c = job.container || job.ecsProperties || job.eksProperties || {};
  const req = Object.fromEntries((c.resourceRequirements || []).map((r) => [r.type, r.value]));
  const facts = [
    ["Image", c.image], ["Command", c.command && JSON.stringify(c.command)],
    ["vCPUs", req.VCPU ?? c.vcpus], ["Memory (MiB)", req.MEMORY ?? c.memory], ["GPUs", req.GPU],
    ["Platform", (job.platformCapabilities || []).join(", ")], ["Job role", c.jobRoleArn],
    ["Timeout", job.timeout && job.timeout.attemptDurationSeconds && `${job.timeout.attemptDurationSeconds} s per attempt`],
    ["Retry", job.retryStrategy && job.retryStrategy.attempts && `${job.retryStrategy.attempts} attempts`],
  ].filter(([, v]) => v !== undefined && v !== null && v !== "");
  const env = c.environment || [];
  const params = Object.entries(job.parameters || {});
  replace(document.getElementById("settings-view"),
    h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])),
    h("h4", {}, "Parameters"), params.length ? h("dl", { class: "facts", id: "parameters" }, params.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])) : h("p", {}, "None."),
    h("h4", {}, "Environment"), env.length ? h("dl", { class: "facts" }, env.map((e) => [h("dt", {}, e.name), h("dd", {}, e.value)])) : h("p", {}, "None."),
    h("details", {}, h("summary", {}, "The whole job as DescribeJobs returns it"), h("pre", { class: "json" }, JSON.stringify(job, null, 2))));
}

// Upstream: the job's dependsOn. Downstream: Batch has no "who depends on me" operation, so
// the jobs of the same queue created after this one (ListJobs AFTER_CREATED_AT, newest first,
// at most DEPENDENT_SCAN of them) are described and those naming this job are shown; dependents in
// other queues are not found (the page says so). The search runs once per job page (at
// 100,000 jobs it takes seconds); later calls only describe the jobs it found again.
async function dependencies(job) {
  const v = view;
  const up = (job.dependsOn || []).map((d) => d.jobId);
  const upJobs = up.length ? await describe(up) : [];
  let down;
  if (!v.dependents) {
    const scan = await pages("ListJobs", { jobQueue: job.jobQueue, maxResults: 100,
      filters: [{ name: "AFTER_CREATED_AT", values: [String(Math.max(0, job.createdAt - 1))] }] }, "jobSummaryList", DEPENDENT_SCAN);
    const candidates = scan.items.filter((j) => j.jobId !== job.jobId).map((j) => j.jobId);
    down = (await describe(candidates)).filter((j) => (j.dependsOn || []).some((d) => d.jobId === job.jobId));
    v.dependents = { ids: down.map((j) => j.jobId), note: `Dependents were looked for among the ${candidates.length}${scan.more ? "+" : ""} ` +
      `job${candidates.length === 1 ? "" : "s"} of this queue submitted after it${scan.more ? ` (only the newest ${DEPENDENT_SCAN})` : ""} ` +
      "when this page opened; jobs in other queues that depend on it are not shown." };
  } else {
    down = v.dependents.ids.length ? await describe(v.dependents.ids) : [];
  }
  const el = document.getElementById("deps");
  if (!el || view !== v) return;
  const note = v.dependents.note;
  replace(el, graph(upJobs, job, down),
    h("ul", { class: "dep-list" },
      h("li", {}, `Depends on: `, upJobs.length ? upJobs.map((j, i) => [i ? ", " : "", h("a", { href: `#/job/${encodeURIComponent(j.jobId)}` }, j.jobName), ` (${j.status})`]) : "nothing",
        (job.dependsOn || []).some((d) => d.type) ? ` — ${job.dependsOn.map((d) => d.type).filter(Boolean).join(", ")}` : ""),
      h("li", { id: "dependents" }, `Depended on by: `, down.length ? down.map((j, i) => [i ? ", " : "", h("a", { href: `#/job/${encodeURIComponent(j.jobId)}` }, j.jobName), ` (${j.status})`]) : "no job found")),
    h("p", { class: "small" }, note));
}

// Three columns: upstream jobs, this job, dependents; each node a link (keyboard reachable).
function graph(up, job, down) {
  const W = 220, H = 34, GAP = 12, X = [10, 290, 570];
  const rows = Math.max(up.length, down.length, 1);
  const height = rows * (H + GAP) + GAP;
  const y = (i, n) => GAP + i * (H + GAP) + ((rows - n) * (H + GAP)) / 2;
  const node = (j, x, yy, self) => s("a", { href: `#/job/${encodeURIComponent(j.jobId)}`, "aria-label": `${j.jobName}, ${j.status}` },
    s("title", {}, `${j.jobName} (${j.status})`),
    s("rect", { x, y: yy, width: W, height: H, rx: 5, class: `node node-${(j.status || "").toLowerCase()}${self ? " self" : ""}` }),
    s("text", { x: x + 8, y: yy + 21, class: "node-text" }, `${j.status === "SUCCEEDED" ? "✓" : j.status === "FAILED" ? "✗" : "•"} ${j.jobName.slice(0, 22)} · ${j.status}`));
  const edges = [];
  const cy = y(0, 1) + H / 2;
  up.forEach((j, i) => edges.push(s("path", { d: `M${X[0] + W},${y(i, up.length) + H / 2} L${X[1]},${cy}`, class: "edge", "marker-end": "url(#arrow)" })));
  down.forEach((j, i) => edges.push(s("path", { d: `M${X[1] + W},${cy} L${X[2]},${y(i, down.length) + H / 2}`, class: "edge", "marker-end": "url(#arrow)" })));
  return s("svg", { viewBox: `0 0 800 ${height}`, width: "100%", role: "group", "aria-label": "Dependency graph: left, the jobs this job waits for; right, the jobs waiting for it", class: "dep-graph", id: "dep-graph" },
    s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto" }, s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }))),
    edges, up.map((j, i) => node(j, X[0], y(i, up.length))), node(job, X[1], y(0, 1), true), down.map((j, i) => node(j, X[2], y(i, down.length))));
}

// The log: from the first line, then every second from nextForwardToken while the job runs,
// and once more after it ended (the last lines are stored when the attempt exits).
function followLog(job) {
  const stream = (job.container && job.container.logStreamName) ||
    ((job.attempts || []).slice(-1)[0] || {}).container?.logStreamName;
  const el = document.getElementById("job-log");
  const stateEl = document.getElementById("log-state");
  if (!stream) {
    if (!el.textContent) replace(el, job.arrayProperties && job.arrayProperties.size ? "An array parent has no log of its own: open a child."
      : TERMINAL.includes(job.status) ? "No log: the job never started." : "No log yet: the job has not started.");
    replace(stateEl, TERMINAL.includes(job.status) ? "" : "waiting for the job to start");
    return;
  }
  if (view.logStream !== stream) {
    view.logStream = stream;
    view.logToken = undefined;
    view.finalRead = false;
    replace(el);
  }
  if (view.logTimer) return; // already polling
  const v = view;
  const poll = async () => {
    v.logTimer = null;
    if (view !== v) return;
    try {
      const page = await logs("GetLogEvents", { logGroupName: LOG_GROUP, logStreamName: v.logStream, startFromHead: true,
        ...(v.logToken ? { nextToken: v.logToken } : {}) });
      const lines = (page.events || []).map((e) => `${time(e.timestamp)}  ${e.message}\n`).join("");
      if (lines) {
        el.append(lines);
        if (document.getElementById("log-follow").checked) el.scrollTop = el.scrollHeight;
      }
      const same = page.nextForwardToken === v.logToken;
      v.logToken = page.nextForwardToken;
      const ended = TERMINAL.includes(v.job.status);
      if (ended && same) {
        replace(stateEl, `complete (${v.logStream})`);
        return;
      }
      replace(stateEl, ended ? "reading the last lines…" : `live (${v.logStream})`);
    } catch (err) {
      replace(stateEl, `log not readable yet: ${err.message}`);
    }
    v.logTimer = setTimeout(poll, 1000);
  };
  poll();
}
