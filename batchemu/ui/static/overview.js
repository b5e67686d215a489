// Overview: compute environments, job queues (with job counts per status), service
// environments and consumable resources of the selected account and region, with the
// enable/disable actions. Counts come from ListJobs, one capped page per status: "1000+"
// rather than reading every job of a queue with 100,000 of them. (GetJobQueueSnapshot would
// give a queue's capacity in use, but it orders every waiting job: ~3 s at 20,000 RUNNABLE
// jobs, too dear for a view that refreshes on every burst of events.)
import { batch, pages } from "./api.js";
import { h, replace, table, badge, meter, nameFromArn, notice, confirmAction, STATUSES } from "./dom.js";

const COUNT_CAP = 1000;
let root = null;
let timer = null;

export async function render(main) {
  root = main;
  await refresh();
}

export function leave() {
  root = null;
  clearTimeout(timer);
  timer = null;
}

// Many events, one refresh at most every 1.5 s (a steady stream must not postpone it forever).
export function onEvent() {
  if (timer) return;
  timer = setTimeout(() => { timer = null; if (root) refresh().catch(() => {}); }, 1500);
}

async function refresh() {
  const [ces, queues, services, consumables] = await Promise.all([
    pages("DescribeComputeEnvironments", {}, "computeEnvironments", 1000),
    pages("DescribeJobQueues", {}, "jobQueues", 1000),
    pages("DescribeServiceEnvironments", {}, "serviceEnvironments", 1000).catch((err) => ({ items: [], error: err })),
    pages("ListConsumableResources", {}, "consumableResources", 1000).catch((err) => ({ items: [], error: err })),
  ]);
  const counts = await Promise.all(queues.items.map((q) => queueCounts(q)));
  if (!root) return;
  const focused = document.activeElement && document.activeElement.id;
  replace(root,
    h("h2", {}, "Overview"),
    h("section", { "aria-labelledby": "ce-h" }, h("h3", { id: "ce-h" }, "Compute environments"),
      table("Compute environments: vCPUs are the desired vCPUs, which follow what running jobs hold, against the maximum",
        ["Name", "Type", "State", "Status", "vCPUs in use / max", "Action"],
        ces.items.map((ce) => [
          ce.computeEnvironmentName,
          [ce.type, ce.computeResources ? ` (${ce.computeResources.type})` : ""].join(""),
          ce.state, h("span", { title: ce.statusReason || "" }, ce.status, ce.statusReason ? h("span", { class: "reason" }, ` — ${ce.statusReason}`) : ""),
          ce.computeResources ? meter(ce.computeResources.desiredvCpus ?? 0, ce.computeResources.maxvCpus, `vCPUs of ${ce.computeEnvironmentName}`) : "unmanaged",
          toggle("compute environment", ce.computeEnvironmentName, ce.state, (state) =>
            batch("UpdateComputeEnvironment", { computeEnvironment: ce.computeEnvironmentArn, state })),
        ]), { id: "compute-environments" })),
    h("section", { "aria-labelledby": "q-h" }, h("h3", { id: "q-h" }, "Job queues"),
      table(`Job queues: jobs per status (counted up to ${COUNT_CAP})`,
        ["Name", "Priority", "State", "Status", "Scheduling", ...STATUSES, "Action"],
        queues.items.map((q, i) => h("tr", { "data-queue": q.jobQueueName },
          h("th", { scope: "row" }, h("a", { href: `#/jobs?queue=${encodeURIComponent(q.jobQueueName)}` }, q.jobQueueName),
            " ", h("a", { href: `#/timeline?queue=${encodeURIComponent(q.jobQueueName)}`, class: "small", "aria-label": `Timeline of ${q.jobQueueName}` }, "timeline")),
          h("td", {}, q.priority), h("td", {}, q.state), h("td", {}, q.status),
          h("td", {}, q.schedulingPolicyArn ? `fair share: ${nameFromArn(q.schedulingPolicyArn)}` : q.jobQueueType === "SAGEMAKER_TRAINING" ? "quota shares / FIFO" : "FIFO"),
          STATUSES.map((st) => h("td", { class: "count", "data-status": st },
            h("a", { href: `#/jobs?queue=${encodeURIComponent(q.jobQueueName)}&status=${st}`, "aria-label": `${counts[i][st]} ${st} jobs in ${q.jobQueueName}` }, counts[i][st]))),
          h("td", {}, toggle("job queue", q.jobQueueName, q.state, (state) => batch("UpdateJobQueue", { jobQueue: q.jobQueueArn, state }))))),
        { id: "job-queues" })),
    h("section", { "aria-labelledby": "se-h" }, h("h3", { id: "se-h" }, "Service environments"),
      services.error ? h("p", {}, `Not available: ${services.error.message}`) :
        table("Service environments", ["Name", "Type", "State", "Status", "Capacity limits"],
          services.items.map((se) => [se.serviceEnvironmentName, se.serviceEnvironmentType, se.state, se.status,
            (se.capacityLimits || []).map((c) => `${c.maxCapacity} ${c.capacityUnit}`).join(", ") || "—"]))),
    h("section", { "aria-labelledby": "cr-h" }, h("h3", { id: "cr-h" }, "Consumable resources"),
      consumables.error ? h("p", {}, `Not available: ${consumables.error.message}`) :
        table("Consumable resources", ["Name", "Type", "In use / total"],
          consumables.items.map((c) => [c.consumableResourceName, c.resourceType,
            meter(c.inUseQuantity ?? 0, c.totalQuantity, `${c.consumableResourceName} in use`)]))));
  if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
}

async function queueCounts(queue) {
  const found = await Promise.all(STATUSES.map((st) =>
    batch("ListJobs", { jobQueue: queue.jobQueueArn, jobStatus: st, maxResults: COUNT_CAP })
      .then((page) => `${page.jobSummaryList.length}${page.nextToken ? "+" : ""}`)
      .catch(() => "?")));
  return Object.fromEntries(STATUSES.map((st, i) => [st, found[i]]));
}

function toggle(kind, name, state, update) {
  const next = state === "ENABLED" ? "DISABLED" : "ENABLED";
  const verb = next === "ENABLED" ? "Enable" : "Disable";
  return h("button", { type: "button", id: `toggle-${kind.replace(/ /g, "-")}-${name}`, onclick: async () => {
    const ok = await confirmAction(`${verb} ${kind} ${name}?`,
      next === "DISABLED" ? `A disabled ${kind} takes no new work; jobs already running go on.` : `The ${kind} takes work again.`, [], verb);
    if (!ok) return;
    try {
      await update(next);
      notice(`${kind} ${name}: ${verb.toLowerCase()}d.`);
    } catch (err) {
      notice(`Could not ${verb.toLowerCase()} ${kind} ${name}: ${err.message}`, "error");
    }
    if (root) refresh();
  } }, `${verb}…`);
}
