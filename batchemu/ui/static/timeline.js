// A queue's recent jobs on a time axis (a Gantt chart): per job, a thin line while it waited
// (created -> started) and a bar while it ran (started -> stopped, or now), coloured by result
// and also marked without colour (a symbol after the bar, a hatch for FAILED, and a table).
// Jobs come from one ListJobs AFTER_CREATED_AT window, at most MAX_JOBS of them.
import { pages } from "./api.js";
import { h, s, replace, badge, time, timeEl, duration } from "./dom.js";

const MAX_JOBS = 300;
const WINDOWS = [["15", "last 15 minutes"], ["60", "last hour"], ["360", "last 6 hours"], ["1440", "last 24 hours"]];
const MARK = { SUCCEEDED: "✓", FAILED: "✗", RUNNING: "▶", STARTING: "▷" };
let view = null;

export async function render(main, params) {
  const queues = await pages("DescribeJobQueues", {}, "jobQueues", 1000);
  const queue = params.get("queue") || (queues.items[0] && queues.items[0].jobQueueName) || "";
  const minutes = params.get("minutes") || "60";
  view = { main, queue, minutes, timer: null };
  const form = h("form", { class: "filters", "aria-label": "Timeline options", onsubmit: (e) => {
    e.preventDefault();
    location.hash = `#/timeline?${new URLSearchParams(new FormData(form))}`;
  } },
    h("label", { for: "t-queue" }, "Queue"), " ",
    h("select", { id: "t-queue", name: "queue" }, queues.items.map((q) => h("option", { value: q.jobQueueName, selected: q.jobQueueName === queue }, q.jobQueueName))), " ",
    h("label", { for: "t-window" }, "Jobs created in the"), " ",
    h("select", { id: "t-window", name: "minutes" }, WINDOWS.map(([v, t]) => h("option", { value: v, selected: v === minutes }, t))), " ",
    h("button", { type: "submit" }, "Show"));
  replace(main, h("h2", {}, "Timeline"), form, h("div", { id: "gantt" }, queue ? "Loading…" : "No job queue yet."));
  if (queue) await draw();
}

export function leave() {
  if (view) clearTimeout(view.timer);
  view = null;
}

export function onEvent() {
  if (!view || view.timer) return;
  view.timer = setTimeout(() => { if (view) { view.timer = null; draw().catch(() => {}); } }, 1000);
}

async function draw() {
  const v = view;
  const since = Date.now() - Number(v.minutes) * 60000;
  const found = await pages("ListJobs", { jobQueue: v.queue, maxResults: 100,
    filters: [{ name: "AFTER_CREATED_AT", values: [String(since)] }] }, "jobSummaryList", MAX_JOBS);
  if (view !== v) return;
  const jobs = found.items.sort((a, b) => a.createdAt - b.createdAt);
  const now = Date.now();
  const start = jobs.length ? Math.min(...jobs.map((j) => j.createdAt)) : since;
  const end = Math.max(now, ...jobs.map((j) => j.stoppedAt || 0));
  const LABEL = 200, WIDTH = 900, ROW = 22, TOP = 28;
  const x = (t) => LABEL + ((t - start) / Math.max(end - start, 1)) * (WIDTH - LABEL - 30);
  const ticks = Array.from({ length: 5 }, (_, i) => start + ((end - start) * i) / 4);
  const svg = s("svg", { viewBox: `0 0 ${WIDTH} ${TOP + jobs.length * ROW + 10}`, width: "100%", class: "gantt", id: "gantt-chart",
    role: "group", "aria-label": `Timeline of ${jobs.length} jobs in ${v.queue}: waiting as a thin line, running as a bar` },
    s("defs", {}, s("pattern", { id: "hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
      s("rect", { width: 6, height: 6, class: "hatch-bg" }), s("line", { x1: 0, y1: 0, x2: 0, y2: 6, class: "hatch-line" }))),
    ticks.map((t) => s("g", {}, s("line", { x1: x(t), x2: x(t), y1: TOP - 6, y2: TOP + jobs.length * ROW, class: "tick" }),
      s("text", { x: x(t), y: 14, class: "tick-text", "text-anchor": "middle" }, time(t).slice(11)))),
    jobs.map((j, i) => {
      const y = TOP + i * ROW;
      const stop = j.stoppedAt || (["SUCCEEDED", "FAILED"].includes(j.status) ? j.startedAt || j.createdAt : now);
      const label = `${j.jobName}: ${j.status}, created ${time(j.createdAt)}${j.startedAt ? `, ran ${duration(stop - j.startedAt)}` : ", never started"}`;
      return s("a", { href: `#/job/${encodeURIComponent(j.jobId)}`, "aria-label": label, class: "gantt-row", "data-status": j.status },
        s("title", {}, label),
        s("text", { x: 4, y: y + 15, class: "gantt-label" }, j.jobName.slice(0, 26)),
        s("line", { x1: x(j.createdAt), x2: x(j.startedAt || stop), y1: y + 11, y2: y + 11, class: "wait" }),
        j.startedAt ? s("rect", { x: x(j.startedAt), y: y + 4, width: Math.max(2, x(stop) - x(j.startedAt)), height: 14,
          class: `bar bar-${j.status.toLowerCase()}`, fill: j.status === "FAILED" ? "url(#hatch)" : null }) : null,
        s("text", { x: x(j.startedAt ? stop : j.createdAt) + 4, y: y + 15, class: "gantt-mark" }, MARK[j.status] || "◷"));
    }));
  replace(document.getElementById("gantt"),
    h("p", { class: "legend" }, "Legend: thin line = waiting; bar = running; ",
      h("span", { class: "key key-succeeded" }, "✓ succeeded (solid)"), " ", h("span", { class: "key key-failed" }, "✗ failed (hatched)"), " ",
      h("span", { class: "key key-running" }, "▶ running"), " ◷ not started. ",
      `${jobs.length}${found.more ? ` (the first ${MAX_JOBS})` : ""} jobs created since ${time(since)}.`),
    jobs.length ? svg : h("p", {}, "No jobs created in this window."),
    h("details", {}, h("summary", {}, "The same as a table"), h("table", {},
      h("caption", {}, "Jobs on the timeline"),
      h("thead", {}, h("tr", {}, ["Job", "Status", "Created", "Started", "Stopped", "Waited", "Ran"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, jobs.map((j) => h("tr", {}, h("td", {}, h("a", { href: `#/job/${encodeURIComponent(j.jobId)}` }, j.jobName)), h("td", {}, badge(j.status)),
        h("td", {}, timeEl(j.createdAt)), h("td", {}, timeEl(j.startedAt)), h("td", {}, timeEl(j.stoppedAt)),
        h("td", {}, duration((j.startedAt || now) - j.createdAt)), h("td", {}, j.startedAt ? duration((j.stoppedAt || now) - j.startedAt) : "—")))))));
}
