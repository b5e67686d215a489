"""Which RUNNABLE service jobs are handed to "SageMaker" (SCHEDULED) and where, decided from a
snapshot by a pure function, as engine.placement does for container jobs: `decide()` reads no
store, calls no runner and writes nothing; ServiceScheduler applies its Plan in one transaction,
then launches.

Rules (ref §13.2-§13.4): SAGEMAKER_TRAINING queues by priority; a queue's first service
environment, if ENABLED and VALID/UPDATING; capacity in instances (or per instance type in a
quota-managed environment); FIFO or fair share, the head waiting for capacity; in a quota-share
queue each share is a queue of its own whose head may wait while other shares' jobs start; a head
that can never start is blocked, and a jobStateTimeLimitAction may terminate it (ref §11.5).
"""

from __future__ import annotations

import collections

from batchemu.engine import ordering, quota, time_limits
from batchemu.engine.placement import Plan
from batchemu.engine.states import RUNNABLE, RUNNING, SCHEDULED, STARTING

BUSY = (SCHEDULED, STARTING, RUNNING)   # these hold service-environment capacity
NUM_INSTANCES = "NUM_INSTANCES"
# ref §11.5, service-job queues.
MAX_RESOURCE = ("MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE - Service environment(s) associated "
                "with the job queue cannot meet the capacity requirement of the job.")


def capacity_unit(environment: dict, instance_type: str | None) -> str:
    """NUM_INSTANCES, or the job's instance type in a quota-management environment (ref §13.2)."""
    quota_managed = any(c["capacityUnit"] != NUM_INSTANCES for c in environment.get("capacityLimits") or [])
    return (instance_type or "") if quota_managed else NUM_INSTANCES


def limit_of(environment: dict, unit: str) -> int | None:
    for c in environment.get("capacityLimits") or []:
        if c["capacityUnit"] == unit:
            return c.get("maxCapacity") or 0
    return None


def instances(job: dict) -> int:
    return job["_instances"]


def decide(world, active: list, now: int, time_scale: float = 1.0) -> Plan:
    """Steps ("block", job, reason), ("terminate", job, time-limit reason), ("start", job,
    (environment, capacity unit)), in order; `active` are the active service jobs."""
    plan = Plan()
    used = collections.Counter()
    for job in active:
        if job["status"] in BUSY:
            used[(job["_environment"], job["_unit"])] += instances(job)
    for queue in world.queues_by_priority("SAGEMAKER_TRAINING"):
        waiting = [j for j in active if j["jobQueue"] == queue["jobQueueArn"] and j["status"] == RUNNABLE]
        environment = world.environment_of(queue)
        if not waiting or queue.get("state") != "ENABLED" or environment is None:
            continue
        if environment.get("state") != "ENABLED" or environment.get("status") not in ("VALID", "UPDATING"):
            continue  # a disabled environment places no new job (ref §13.2)
        if world.quota_managed(queue):
            _by_share(plan, queue, environment, world, waiting, active, used, now, time_scale)
        else:
            _in_order(plan, queue, environment, world, waiting, active, used, now, time_scale)
    return plan


def _in_order(plan, queue, environment, world, waiting, active, used, now, time_scale) -> None:
    started = set()
    order = ordering.dispatch_order(waiting, active, queue, world.fairshare_policy(queue),
                                    placed=lambda j: j["jobId"] in started, cost=instances, busy=BUSY)
    for job in order:
        unit = capacity_unit(environment, job.get("_instanceType"))
        most = limit_of(environment, unit)
        if most is None or instances(job) > most:
            if _blocked(plan, job, MAX_RESOURCE, queue, now, time_scale):
                continue  # terminated by a time limit: the next job is the head now
            break
        key = (environment["serviceEnvironmentArn"], unit)
        if used[key] + instances(job) > most:
            break  # the head waits for capacity (ref §11.3, §13.2)
        plan.steps.append(("start", job, (environment, unit)))
        used[key] += instances(job)
        started.add(job["jobId"])


def _by_share(plan, queue, environment, world, waiting, active, used, now, time_scale) -> None:
    """A quota-management queue (ref §13.4): each quota share is a queue of its own whose head
    may wait while other shares' jobs start."""
    busy = [j for j in active if j["jobQueue"] == queue["jobQueueArn"] and j["status"] in BUSY]
    ledger = quota.QuotaShareCapacity(environment, world.shares.get(queue["jobQueueArn"], {}), busy, instances)
    held = set()
    for job in quota.share_order(waiting):
        share = job.get("quotaShareName")
        if share in held:
            continue  # this share's head waits; it holds back the rest of its share only
        unit = capacity_unit(environment, job.get("_instanceType"))
        most = limit_of(environment, unit)
        need = instances(job)
        reason = MAX_RESOURCE if most is None or need > most else ledger.never_reason(share, unit, need)
        if reason:
            if not _blocked(plan, job, reason, queue, now, time_scale):
                held.add(share)
            continue
        key = (environment["serviceEnvironmentArn"], unit)
        if share not in ledger.shares or used[key] + need > most or not ledger.fits(share, unit, need):
            held.add(share)
            continue
        plan.steps.append(("start", job, (environment, unit)))
        used[key] += need
        ledger.take(share, unit, need)


def _blocked(plan: Plan, job: dict, reason: str, queue: dict, now: int, time_scale: float) -> bool:
    """Note why the head job waits; True when a time limit terminates it now."""
    plan.steps.append(("block", job, reason))
    ended, deadlines = time_limits.verdict(job, reason, queue, now, time_scale)
    plan.deadlines.extend(deadlines)
    if ended:
        plan.steps.append(("terminate", job, ended))
    return bool(ended)
