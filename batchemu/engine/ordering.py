"""Dispatch order of a queue's RUNNABLE jobs (ref §11.3, §11.4): FIFO by submission, or fair
share. The one definition both the scheduler (what it tries to start next) and
GetJobQueueSnapshot (what it reports as the front of the queue) use. Decides nothing else.
"""

from __future__ import annotations

import collections
from typing import Callable, Iterable

from batchemu.engine import states

BUSY = (states.STARTING, states.RUNNING)


def vcpus(job: dict) -> float:
    return job["_need"]["vcpus"]


def weight(policy: dict, share: str | None) -> float:
    """A share's weightFactor: an exact entry, or a `prefix*` entry; 1.0 when unlisted (ref §11.4)."""
    for entry in policy.get("shareDistribution") or []:
        ident = entry["shareIdentifier"]
        if ident == share or (ident.endswith("*") and (share or "").startswith(ident[:-1])):
            return float(entry.get("weightFactor") or 1.0)
    return 1.0


def fair_share_order(waiting: list, active: Iterable, queue: dict, policy: dict,
                     placed: Callable[[dict], bool] = lambda job: job["status"] == states.STARTING,
                     cost: Callable[[dict], float] = vcpus, busy: tuple = BUSY):
    """Yield jobs one at a time: next from the share with the lowest weighted usage (what its
    `busy` jobs in this queue hold, x weightFactor; a lower weight gets more), within a share
    by schedulingPriority (high first) then submission time. After each yield, `placed(job)`
    says whether the job was started, which adds its cost to its share's usage; the scheduler
    marks the job STARTING, a snapshot assumes every job ahead is started in turn. Usage is the
    current usage only: shareDecaySeconds history is not modelled."""
    queues = collections.defaultdict(list)
    for job in waiting:
        queues[job.get("shareIdentifier")].append(job)
    for jobs in queues.values():
        jobs.sort(key=lambda j: (-(j.get("schedulingPriority") or 0), j["createdAt"]))
    used = collections.defaultdict(float)
    for job in active:
        if job["jobQueue"] == queue["jobQueueArn"] and job["status"] in busy:
            used[job.get("shareIdentifier")] += cost(job)
    while any(queues.values()):
        share = min((s for s, jobs in queues.items() if jobs),
                    key=lambda s: (used[s] * weight(policy, s), queues[s][0]["createdAt"]))
        job = queues[share].pop(0)
        yield job
        if placed(job):
            used[share] += cost(job)


def dispatch_order(waiting: list, active: Iterable, queue: dict, policy: dict | None, **fair_share):
    """The queue's RUNNABLE jobs in the order the scheduler tries them: `waiting` as given
    (oldest first) for a FIFO queue, else fair_share_order."""
    if policy is None:
        return iter(waiting)
    return fair_share_order(waiting, active, queue, policy, **fair_share)
