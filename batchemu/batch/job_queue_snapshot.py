"""GetJobQueueSnapshot (ref §13.5): the first 100 RUNNABLE jobs of a queue in the scheduler's
dispatch order (engine.ordering, the function the scheduler itself uses), when each reached its
position, and the capacity the queue's dispatched jobs use, per share for fair-share queues.
Container-job queues count vCPUs; SAGEMAKER_TRAINING queues count their service jobs' instances.

Computed on request from the jobs tables (lastUpdatedAt is now). Reads only; schedules nothing.
"""

from __future__ import annotations

import itertools
import json

from batchemu.batch import job_submission, quota_shares
from batchemu.batch.backend import Backend
from batchemu.batch.common import resolve
from batchemu.batch.errors import ClientException
from batchemu.context import RequestContext
from batchemu.engine import actions, ordering, quota
from batchemu.engine import service_placement
from batchemu.store.jobs import Jobs
from batchemu.store.service_jobs import ServiceJobs
from batchemu.vocabulary import arns, job_states
from batchemu.vocabulary.reasons import DEPENDENCY_FAILED

FRONT = 100      # "the first 100 RUNNABLE jobs" (model)
TOP_SHARES = 20  # "the top 20 shares with the highest capacity utilization" (model)


def get_job_queue_snapshot(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    queue = resolve(backend, ctx, arns.JOB_QUEUE, params["jobQueue"])
    if queue is None or queue.get("status") in ("DELETING", "DELETED"):
        raise ClientException(f"JobQueue {params['jobQueue']} not found.")  # ref §1.5
    view = _ServiceJobs(backend, ctx, queue) if queue.get("jobQueueType") == "SAGEMAKER_TRAINING" \
        else _ContainerJobs(backend, ctx, queue)
    policy = job_submission.scheduling_policy(backend, ctx, queue) or {}
    fairshare, quota_managed = policy.get("fairsharePolicy"), policy.get("quotaSharePolicy") is not None
    waiting, busy = view.runnable(), view.busy()
    if quota_managed:
        order = iter(quota.share_order(waiting))  # the order the service-job engine tries them in
    else:
        # A snapshot assumes each job ahead is dispatched in turn, as the scheduler would do
        # with room enough: that is what moves the shares' usage while the order is worked out.
        order = ordering.dispatch_order(waiting, busy, queue, fairshare, placed=lambda job: True,
                                        cost=view.cost, busy=view.busy_statuses)
    front = list(itertools.islice(order, FRONT))
    heads = _share_heads(waiting) if quota_managed else []
    since = view.earliest_times(front + [j for j in heads if j not in front], waiting,
                                fair_share=fairshare is not None or quota_managed)
    now = ctx.now_ms
    result = {
        "frontOfQueue": {"jobs": [{"jobArn": j["jobArn"], "earliestTimeAtPosition": since[j["jobId"]]}
                                  for j in front], "lastUpdatedAt": now},
        "queueUtilization": {"totalCapacityUsage": _usages(view, busy) or [_usage(u, 0.0) for u in view.units],
                             "lastUpdatedAt": now},
    }
    if fairshare is not None:
        result["queueUtilization"]["fairshareUtilization"] = _per_share(view, busy)
    if quota_managed:
        result["frontOfQuotaShares"] = {"quotaShares": {
            j["quotaShareName"]: [{"jobArn": j["jobArn"], "earliestTimeAtPosition": since[j["jobId"]]}]
            for j in heads}, "lastUpdatedAt": now}
        result["queueUtilization"]["quotaShareUtilization"] = _per_quota_share(view, busy)
    return result


def _share_heads(waiting: list) -> list:
    """The first RUNNABLE job of each quota share (ref §13.5)."""
    heads: dict = {}
    for job in quota.share_order(waiting):
        heads.setdefault(job.get("quotaShareName"), job)
    return list(heads.values())


def _per_quota_share(view, busy: list) -> dict:
    shares: dict = {}
    for job in busy:
        shares.setdefault(job.get("quotaShareName"), []).append(job)
    top = sorted(shares.items(), key=lambda kv: -sum(view.cost(j) for j in kv[1]))
    return {"topCapacityUtilization": [{"quotaShareName": share, "capacityUsage": _usages(view, jobs)}
                                       for share, jobs in top]}


def _usage(unit: str, quantity: float) -> dict:
    return {"capacityUnit": unit, "quantity": float(quantity)}


def _usages(view, jobs: list) -> list:
    """[{capacityUnit, quantity}] of `jobs`, one entry per unit (service jobs in a quota-managed
    environment count per instance type)."""
    used: dict = {}
    for job in jobs:
        used[view.unit_of(job)] = used.get(view.unit_of(job), 0.0) + view.cost(job)
    return [_usage(unit, q) for unit, q in used.items()]


def _per_share(view, busy: list) -> dict:
    shares: dict = {}
    for job in busy:
        shares.setdefault(job.get("shareIdentifier"), []).append(job)
    top = sorted(shares.items(), key=lambda kv: -sum(view.cost(j) for j in kv[1]))[:TOP_SHARES]
    return {"activeShareCount": len(shares),  # shares "currently utilizing capacity" (model)
            "topCapacityUtilization": [{"shareIdentifier": share, "capacityUsage": _usages(view, jobs)}
                                       for share, jobs in top]}


class _ContainerJobs:
    """The container jobs of one queue, as the snapshot needs them."""

    busy_statuses = (job_states.STARTING, job_states.RUNNING)
    table = "jobs"

    def __init__(self, backend: Backend, ctx: RequestContext, queue: dict):
        self.store = backend.store
        self.jobs = Jobs(backend.store)
        self.ctx = ctx
        self.arn = queue["jobQueueArn"]
        self.unit = "cpu" if queue.get("jobQueueType") == "EKS" else "VCPU"  # ref §13.5
        self.units = [self.unit]  # what an idle queue reports zero of

    @staticmethod
    def cost(job: dict) -> float:
        return job["_need"]["vcpus"]

    def unit_of(self, job: dict) -> str:
        return self.unit

    def _select(self, where: str, args: tuple = ()) -> list:
        """The queue's jobs, oldest first; each with `_order`, its place in submission order
        ((createdAt, seq): jobs created in the same millisecond keep their submission order)."""
        rows = self.store.query(f"SELECT seq, doc FROM {self.table} WHERE account=? AND region=? AND "
                                f"queue_arn=? AND {where} ORDER BY created_at, seq",
                                (self.ctx.account, self.ctx.region, self.arn, *args))
        out = []
        for row in rows:
            doc = json.loads(row["doc"])
            if doc.get("nodeDetails") is not None:
                continue  # a multi-node job's node: the job (its whole gang) is the queue's (ref §12)
            doc["_order"] = (doc["createdAt"], row["seq"])
            out.append(doc)
        return out

    def runnable(self) -> list:
        return self._select("status='RUNNABLE'")  # oldest first: the scheduler's FIFO order

    def busy(self) -> list:
        marks = ",".join("?" * len(self.busy_statuses))
        return self._select(f"status IN ({marks})", tuple(self.busy_statuses))

    def earliest_times(self, front: list, waiting: list, fair_share: bool) -> dict:
        """jobId -> when the job reached its current position (earliestTimeAtPosition).

        Derived from the jobs' own timestamps, no history is kept: a job's position changes
        when it becomes RUNNABLE (submitted, dependencies done, or back for a retry), and
        afterwards when a job ahead of it (older, FIFO) enters or leaves RUNNABLE (dispatched
        at scheduledAt, or ended before starting at stoppedAt). In a fair-share queue any
        start or end can reorder the shares, so there it is the later of the job's own time
        and the queue's last such change."""
        if not front:
            return {}
        dep_ids = sorted({d["jobId"] for j in front for d in j.get("dependsOn") or [] if d.get("jobId")})
        deps = {d["jobId"]: d for d in self.jobs.get_many(self.ctx.account, self.ctx.region, dep_ids)} \
            if dep_ids else {}
        own = {j["jobId"]: _runnable_since(j, deps) for j in front}
        horizon = min(own.values())
        changes = [(j["_order"], _runnable_since(j, deps)) for j in waiting]
        for job in self._left_since(horizon):
            left = _left_runnable_at(job)
            if left is not None:
                changes.append((job["_order"], left))
            if fair_share and job.get("stoppedAt") and job.get("scheduledAt"):
                changes.append((job["_order"], job["stoppedAt"]))  # its usage ended
        out = {}
        for job in front:
            mine = own[job["jobId"]]
            ahead = [at for place, at in changes
                     if fair_share or place < job["_order"]]
            out[job["jobId"]] = max([mine] + [at for at in ahead if at > mine])
        return out

    def _left_since(self, since: int) -> list:
        """The queue's jobs that may have left RUNNABLE (or ended) at or after `since`."""
        rows = self._select(
            "status != 'RUNNABLE' AND (COALESCE(json_extract(doc, '$.scheduledAt'), 0) >= ? "
            "OR COALESCE(json_extract(doc, '$.stoppedAt'), 0) >= ?)", (since, since))
        return [r for r in rows if not actions.is_array_parent(r)]


class _ServiceJobs(_ContainerJobs):
    """The service jobs of a SAGEMAKER_TRAINING queue: capacity in instances (ref §13.5)."""

    busy_statuses = service_placement.BUSY

    def __init__(self, backend: Backend, ctx: RequestContext, queue: dict):
        super().__init__(backend, ctx, queue)
        self.jobs = ServiceJobs(backend.store)
        self.table = "service_jobs"
        self.unit = service_placement.NUM_INSTANCES
        environment = quota_shares.environment_of(backend, ctx, queue) or {}
        self.units = [c["capacityUnit"] for c in environment.get("capacityLimits") or []] or [self.unit]

    @staticmethod
    def cost(job: dict) -> float:
        return service_placement.instances(job)

    def unit_of(self, job: dict) -> str:
        return job["capacityUsage"][0]["capacityUnit"]


def _runnable_since(job: dict, deps: dict) -> int:
    """When the job last became RUNNABLE: submitted, its last attempt ended (a retry), or its
    last dependency finished."""
    times = [job["createdAt"]]
    if job.get("attempts"):
        times.append(job["attempts"][-1].get("stoppedAt") or 0)
    for dep in job.get("dependsOn") or []:
        other = deps.get(dep.get("jobId"))
        if other is not None:
            times.append(other.get("stoppedAt") or 0)
    return max(times)


def _left_runnable_at(job: dict) -> int | None:
    """When a job no longer RUNNABLE last left that state, or None if it never was in it."""
    if job["status"] == job_states.FAILED:
        ran_last = job.get("attempts") and job["attempts"][-1].get("stoppedAt") == job.get("stoppedAt")
        if not ran_last:
            # Ended before (re)starting: cancelled, a time limit, its queue deleted. A job failed
            # for a dependency was PENDING, never RUNNABLE.
            return None if job.get("statusReason") == DEPENDENCY_FAILED else job.get("stoppedAt")
    if job["status"] in (job_states.SUBMITTED, job_states.PENDING):
        return None
    return job.get("scheduledAt")
