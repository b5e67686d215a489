"""A job as the API shows it: JobDetail (DescribeJobs, ref §6.3) and JobSummary (ListJobs,
ref §6.6), rendered from the job's document.

A rendered view is kept with the job's row until the job next changes (store.jobs forgets it
on every update), so describing or listing unchanged jobs, as pollers do, neither decodes
documents nor encodes answers: most of those calls' server time (bench/). The server also keeps
each JobDetail as the job is written (keep_on_write), so even a first DescribeJobs reads text;
JobSummaries are kept on first read (a listing renders only what it shows). Array parents are
never kept, because their statusSummary counts live children. Views are kept as the wire's
text (wire.render.Rendered) of the pinned botocore model; `forget_stale` drops them when the model
or this rendering changes. No HTTP here; the wire layer writes the text as it is.
"""

from __future__ import annotations

import functools

import botocore

from batchemu.store.db import Store
from batchemu.store.jobs import Jobs
from batchemu.vocabulary import job_states as states
from batchemu.wire import render
from batchemu.wire import spec as wire_spec

# Bump the first part when detail() or summary() change what they show.
VIEWS_VERSION = f"4/botocore-{botocore.__version__}"

# Set (true) on a job that was cancelled or terminated (actions, scheduler); absent otherwise.
FLAGS = ("isCancelled", "isTerminated")

# What summary() reads of a job document; a listing extracts only these where no view is kept.
SUMMARY_FIELDS = ("jobArn", "jobId", "jobName", "createdAt", "status", "statusReason", "startedAt", "stoppedAt",
                  "jobDefinition", "shareIdentifier", "scheduledAt", "container.exitCode", "container.reason",
                  "arrayProperties", "isCancelled", "isTerminated", "_parent", "_need", "_summaryAt",
                  "nodeDetails", "_numNodes", "nodeProperties.numNodes")


def detail(jobs: Jobs, doc: dict) -> dict:
    """JobDetail as DescribeJobs shows it (ref §6.3); internal keys are dropped by the wire."""
    out = dict(doc)
    if is_array_parent(doc):
        out["arrayProperties"] = dict(out["arrayProperties"], **_status_summary(jobs, doc))
    for flag in FLAGS:
        if not out.get(flag):
            out.pop(flag, None)
    if doc.get("_ecsTask") is not None:
        out["ecsProperties"] = _ecs_properties(doc)
        out.pop("container", None)
    return out


def _ecs_properties(doc: dict) -> dict:
    """An ECS Managed Instances job's EcsPropertiesDetail: its one task (the task ARN and
    container instance at task level) around the container the engine runs."""
    container = dict(doc.get("container") or {})
    task = dict(doc["_ecsTask"])
    for key in ("taskArn", "containerInstanceArn"):
        if container.get(key):
            task[key] = container.pop(key)
    task["containers"] = [container]
    return {"taskProperties": [task]}


def summary(jobs: Jobs, doc: dict) -> dict:
    """JobSummary for ListJobs (ref §6.6), from a document with at least SUMMARY_FIELDS."""
    container = doc.get("container") or {}
    out = {k: doc.get(k) for k in ("jobArn", "jobId", "jobName", "createdAt", "status", "statusReason",
                                   "startedAt", "stoppedAt", "jobDefinition", "shareIdentifier",
                                   "scheduledAt")}
    if container.get("exitCode") is not None or container.get("reason"):
        out["container"] = {"exitCode": container.get("exitCode"), "reason": container.get("reason")}
    array = doc.get("arrayProperties")
    if array:
        out["arrayProperties"] = dict(array)
        if is_array_parent(doc):
            out["arrayProperties"].update(_status_summary(jobs, doc))
    node = doc.get("nodeDetails")
    if node:  # ref §6.6, §12: NodePropertiesSummary of a node, and the node count of its job
        out["nodeProperties"] = {"isMainNode": node["isMainNode"], "numNodes": doc.get("_numNodes"),
                                 "nodeIndex": node["nodeIndex"]}
    elif (doc.get("nodeProperties") or {}).get("numNodes"):
        out["nodeProperties"] = {"numNodes": doc["nodeProperties"]["numNodes"]}
    # Present only when true, as on JobDetail; a model older than botocore 1.43.93 has no such
    # JobSummary members and the wire filter drops them.
    out.update({flag: True for flag in FLAGS if doc.get(flag)})
    if doc["status"] in (states.STARTING, states.RUNNING):
        out["capacityUsage"] = [{"capacityUnit": "VCPU", "quantity": doc["_need"]["vcpus"]}]
    return out


def is_array_parent(doc: dict) -> bool:
    return bool((doc.get("arrayProperties") or {}).get("size")) and not doc.get("_parent")


def details(jobs: Jobs, account: str, region: str, job_ids: list) -> render.Rendered:
    """The JSON list of the found jobs' JobDetails, in the order of `job_ids` (unknown ids left
    out)."""
    found, keep = {}, []
    for job_id, version, kept, doc in jobs.details(account, region, job_ids):
        if kept is None:
            kept = _render(detail(jobs, doc), "JobDetail")
            if not is_array_parent(doc):
                keep.append((kept, job_id, version))
        found[job_id] = kept
    jobs.keep_views("detail", keep)
    return render.json_list(found[i] for i in job_ids if i in found)


def summary_page(jobs: Jobs, account: str, region: str, where: str, args: tuple, order: str,
                 limit: int) -> tuple[render.Rendered, tuple | None]:
    """(the JSON list of a page's JobSummaries in `order`, (created_at, job_id) of its last job
    when more follow, else None)."""
    kept = jobs.kept_summaries(account, region, where, args, order, limit)
    if kept is not None:
        texts, last = kept
    else:
        rows = jobs.summaries(account, region, SUMMARY_FIELDS, where, args, order, limit + 1)
        texts = [row[3] for row in rows[:limit]]
        keep = []
        for i, (job_id, version, _, text, partial) in enumerate(rows[:limit]):
            if text is None:
                texts[i] = _render(summary(jobs, partial), "JobSummary")
                if not is_array_parent(partial):
                    keep.append((texts[i], job_id, version))
        jobs.keep_views("summary", keep)
        last = (rows[limit - 1][2], rows[limit - 1][0]) if len(rows) > limit else None
    return render.json_list(texts), last


def keep_on_write(store: Store) -> None:
    """Keep each job's JobDetail with every write of it (store.detail_on_write): a first
    DescribeJobs of a job then reads text, where rendering it was most of the call (100 random
    children among 100,000 jobs, bench/scale.py), and reads write nothing. ~25 us per write;
    array parents are still rendered on read (their statusSummary counts live children)."""
    store.detail_on_write = _detail_text


def _detail_text(doc: dict) -> str | None:
    # `jobs` is only read for array parents, which are never kept.
    return None if is_array_parent(doc) else _render(detail(None, doc), "JobDetail")


def forget_stale(store: Store) -> None:
    """Drop the views kept by another rendering (an older batchemu or botocore model)."""
    if store.meta("job_views", lambda: VIEWS_VERSION) != VIEWS_VERSION:
        with store.transaction():
            Jobs(store).forget_views()
            store.execute("UPDATE meta SET value=? WHERE key='job_views'", (VIEWS_VERSION,))


def _render(view: dict, shape_name: str) -> str:
    return render.to_json(view, _shape(shape_name))


@functools.cache
def _shape(name: str):
    """The model's shape, looked up once: shape_for() builds a new Shape on every call, a fifth
    of rendering a job (DescribeJobs of 100 unkept array children, bench/scale.py)."""
    return wire_spec.load("batch").model.shape_for(name)


def _status_summary(jobs: Jobs, parent: dict) -> dict:
    counts = jobs.child_counts(parent["jobId"])
    # ref §7: all seven statuses, zeros included.
    return {"statusSummary": {s: counts.get(s, 0) for s in states.ALL},
            "statusSummaryLastUpdatedAt": parent.get("_summaryAt") or parent["createdAt"]}
