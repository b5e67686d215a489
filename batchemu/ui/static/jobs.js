// Jobs of a queue: filter by status and name prefix, one page at a time (ListJobs with
// nextToken: a queue with 100,000 jobs costs one page per view), array parents expand to
// their children (ListJobs arrayJobId), multi-node parents to their nodes (ListJobs
// multiNodeJobId), rows change status live from the event stream.
import { batch, pages } from "./api.js";
import { h, replace, badge, timeEl, notice, STATUSES } from "./dom.js";

const CHILDREN_SHOWN = 100;
let state = null; // { main, params, tokens: [token of each page shown so far], rows: Map }

export async function render(main, params) {
  const queues = await pages("DescribeJobQueues", {}, "jobQueues", 1000);
  const queue = params.get("queue") || (queues.items[0] && queues.items[0].jobQueueName) || "";
  state = { main, params, queue, tokens: [undefined], page: 0, rows: new Map(), pending: null, expanded: new Set() };
  const form = h("form", { class: "filters", id: "job-filters", "aria-label": "Job filters", onsubmit: (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const q = new URLSearchParams();
    for (const [k, v] of data) if (v) q.set(k, v);
    location.hash = `#/jobs?${q}`;
  } },
    h("label", { for: "f-queue" }, "Queue"), " ",
    h("select", { id: "f-queue", name: "queue" }, queues.items.map((q) => h("option", { value: q.jobQueueName, selected: q.jobQueueName === queue }, q.jobQueueName))), " ",
    h("label", { for: "f-status" }, "Status"), " ",
    h("select", { id: "f-status", name: "status" },
      h("option", { value: "" }, "any"),
      STATUSES.map((st) => h("option", { value: st, selected: params.get("status") === st }, st))), " ",
    h("label", { for: "f-name" }, "Name starts with"), " ",
    h("input", { id: "f-name", name: "name", value: params.get("name") || "", size: "16", maxlength: "128", pattern: "[A-Za-z0-9_\\-]*" }), " ",
    h("label", { for: "f-size" }, "Per page"), " ",
    h("select", { id: "f-size", name: "size" }, ["25", "50", "100"].map((n) => h("option", { value: n, selected: (params.get("size") || "50") === n }, n))), " ",
    h("button", { type: "submit" }, "Filter"));
  replace(main, h("h2", {}, "Jobs"), form,
    h("div", { id: "job-list", "aria-live": "polite", "aria-busy": "true" }),
    h("p", { class: "pager" },
      h("button", { type: "button", id: "page-prev", onclick: () => turn(-1) }, "← Newer"), " ",
      h("span", { id: "page-no" }), " ",
      h("button", { type: "button", id: "page-next", onclick: () => turn(1) }, "Older →")));
  if (!queue) {
    replace(document.getElementById("job-list"), h("p", {}, "No job queue in this account and region yet."));
    return;
  }
  await load();
}

export function leave() { state = null; }

// The ListJobs request for the current filters. AWS ignores jobStatus when a filter is given
// (ref §6.6), so "any status" and a name prefix use filters and the status is then matched on
// the page itself.
function request() {
  const p = state.params;
  const size = Number(p.get("size") || 50);
  const body = { jobQueue: state.queue, maxResults: size };
  const name = p.get("name");
  if (name) body.filters = [{ name: "JOB_NAME", values: [`${name}*`] }];
  else if (!p.get("status")) body.filters = [{ name: "AFTER_CREATED_AT", values: ["0"] }];
  else body.jobStatus = p.get("status");
  return body;
}

async function load() {
  const s = state;
  const body = request();
  const token = s.tokens[s.page];
  const page = await batch("ListJobs", { ...body, ...(token ? { nextToken: token } : {}) });
  if (state !== s) return;
  s.tokens[s.page + 1] = page.nextToken;
  const wanted = s.params.get("status");
  const jobs = page.jobSummaryList.filter((j) => !(wanted && body.filters) || j.status === wanted);
  s.rows = new Map();
  const list = document.getElementById("job-list");
  const focused = document.activeElement && document.activeElement.id;
  replace(list, h("table", { id: "jobs-table" },
    h("caption", {}, `Jobs in ${s.queue}${wanted ? `, ${wanted}` : ""}${s.params.get("name") ? `, named ${s.params.get("name")}…` : ""}`,
      wanted && body.filters ? " (status matched on this page: the name filter returns every status)" : ""),
    h("thead", {}, h("tr", {}, ["Name", "Status", "Kind", "Created", "Started", "Stopped", "Exit code / reason"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, jobs.length ? jobs.map((j) => row(j, 0)) : h("tr", {}, h("td", { colspan: "7", class: "empty" }, "No jobs match.")))));
  list.setAttribute("aria-busy", "false");
  replace(document.getElementById("page-no"), `Page ${s.page + 1}`);
  document.getElementById("page-prev").disabled = s.page === 0;
  document.getElementById("page-next").disabled = !page.nextToken;
  // A live reload keeps what the user expanded open.
  for (const id of s.expanded) {
    const button = document.getElementById(`expand-${id}`);
    const job = jobs.find((j) => j.jobId === id);
    if (button && job) await expand(button, job, job.arrayProperties && job.arrayProperties.size ? "array" : "nodes");
  }
  if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
}

function kind(j) {
  if (j.arrayProperties && j.arrayProperties.size) return `array of ${j.arrayProperties.size}`;
  if (j.arrayProperties && j.arrayProperties.index !== undefined) return `child ${j.arrayProperties.index}`;
  if (j.nodeProperties && j.nodeProperties.numNodes) return `multi-node, ${j.nodeProperties.numNodes} nodes`;
  if (j.nodeProperties && j.nodeProperties.nodeIndex !== undefined) return `node ${j.nodeProperties.nodeIndex}${j.nodeProperties.isMainNode ? " (main)" : ""}`;
  return "single";
}

function row(j, depth) {
  const parent = (j.arrayProperties && j.arrayProperties.size) ? "array" : (j.nodeProperties && j.nodeProperties.numNodes) ? "nodes" : null;
  const statusCell = h("td", { class: "job-status" }, badge(j.status));
  const tr = h("tr", { "data-job-id": j.jobId, class: depth ? "child" : "" },
    h("th", { scope: "row" },
      parent ? h("button", { type: "button", class: "expand", id: `expand-${j.jobId}`, "aria-expanded": "false",
        "aria-label": `Show the ${parent === "array" ? "children" : "nodes"} of ${j.jobName}`, onclick: (e) => expand(e.currentTarget, j, parent) }, "▸") : "",
      h("a", { href: `#/job/${encodeURIComponent(j.jobId)}`, class: "job-link" }, j.jobName),
      h("br"), h("span", { class: "id" }, j.jobId)),
    statusCell, h("td", {}, kind(j)), h("td", {}, timeEl(j.createdAt)), h("td", { class: "started" }, timeEl(j.startedAt)),
    h("td", { class: "stopped" }, timeEl(j.stoppedAt)),
    h("td", {}, j.container && j.container.exitCode !== undefined ? `exit ${j.container.exitCode}` : "",
      j.statusReason ? h("span", { class: "reason" }, ` ${j.statusReason}`) : ""));
  if (state) state.rows.set(j.jobId, tr);
  return tr;
}

async function expand(button, job, parent) {
  const tr = button.closest("tr");
  const open = button.getAttribute("aria-expanded") === "true";
  for (const child of [...tr.parentNode.querySelectorAll(`tr[data-parent="${job.jobId}"]`)]) child.remove();
  button.setAttribute("aria-expanded", String(!open));
  replace(button, open ? "▸" : "▾");
  if (state) state.expanded[open ? "delete" : "add"](job.jobId);
  if (open) return;
  let rows;
  try {
    const found = await children(job.jobId, parent === "array" ? "arrayJobId" : "multiNodeJobId", CHILDREN_SHOWN);
    rows = found.items.map((c) => row(c, 1));
    if (found.more) rows.push(h("tr", {}, h("td", { colspan: "7" }, h("a", { href: `#/job/${encodeURIComponent(job.jobId)}` }, "More: see the job's page"))));
    if (!rows.length) rows = [h("tr", {}, h("td", { colspan: "7", class: "empty" }, parent === "array" ? "No children listed." : "No nodes listed yet."))];
  } catch (err) {
    // Multi-node listing may not be offered by this server yet: say so, keep the page working.
    rows = [h("tr", {}, h("td", { colspan: "7", class: "error" }, `Could not list the ${parent === "array" ? "children" : "nodes"}: ${err.message}`))];
  }
  for (const r of rows) r.dataset.parent = job.jobId;
  tr.after(...rows);
}

// Children of an array (or nodes of a multi-node job), every status: ListJobs by arrayJobId
// takes no filter and lists one status at a time (RUNNING when none is named, ref §6.6), so
// one request per status, at most `limit` children each, in index order.
export async function children(parentId, key, limit) {
  const found = await Promise.all(STATUSES.map((st) =>
    pages("ListJobs", { [key]: parentId, jobStatus: st, maxResults: limit }, "jobSummaryList", limit)));
  const index = (j) => (j.arrayProperties && j.arrayProperties.index) ?? (j.nodeProperties && j.nodeProperties.nodeIndex) ?? 0;
  const items = found.flatMap((f) => f.items).sort((a, b) => index(a) - index(b));
  return { items: items.slice(0, limit), more: found.some((f) => f.more) || items.length > limit };
}

function turn(delta) {
  if (!state) return;
  state.page = Math.max(0, state.page + delta);
  load().catch((err) => notice(`Could not load jobs: ${err.message}`, "error"));
}

// A state change: update the row in place; on the first page, reload it (new jobs appear).
export function onEvent(event) {
  if (!state) return;
  const d = event.detail || {};
  const tr = state.rows.get(d.jobId);
  if (tr) {
    replace(tr.querySelector(".job-status"), badge(d.status));
    replace(tr.querySelector(".started"), timeEl(d.startedAt));
    replace(tr.querySelector(".stopped"), timeEl(d.stoppedAt));
  }
  if (state.page === 0 && !state.pending && nameFromQueue(d.jobQueue) === state.queue) {
    state.pending = setTimeout(() => {
      if (!state) return;
      state.pending = null;
      load().catch(() => {});
    }, 1000);
  }
}

function nameFromQueue(arn) {
  return arn ? String(arn).split("/").pop() : "";
}
