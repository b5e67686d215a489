"""Cancel and terminate (ref §6.7), shared by the API and the scheduler.

Jobs not yet STARTING end FAILED at once with the caller's reason; STARTING/RUNNING jobs are
only marked `_stop` (terminate) and the scheduler asks the runner to stop them; cancel leaves
them alone. An array parent passes the request to its children and ends when they have.
Every write is a compare-and-set through states.transition or Jobs.update, retried on a race.
"""

from __future__ import annotations

from batchemu.engine import attempts, states
from batchemu.store.jobs import Jobs

PRE_START = (states.SUBMITTED, states.PENDING, states.RUNNABLE)
RETRIES = attempts.RETRIES


def is_array_parent(doc: dict) -> bool:
    return bool((doc.get("arrayProperties") or {}).get("size")) and not doc.get("_parent")


def cancel(jobs: Jobs, doc: dict, reason: str, now_ms: int) -> None:
    _request(jobs, doc, reason, now_ms, terminate=False)


def terminate(jobs: Jobs, doc: dict, reason: str, now_ms: int) -> None:
    _request(jobs, doc, reason, now_ms, terminate=True)


def fail(jobs: Jobs, doc: dict, reason: str, now_ms: int, **flags) -> dict | None:
    """Pre-start job -> FAILED with `reason`, retrying the compare-and-set on a race."""
    for _ in range(RETRIES):
        if doc is None or doc["status"] not in PRE_START:
            return None
        new = states.transition(jobs, doc, states.FAILED, now_ms, statusReason=reason, **flags)
        if new is not None:
            return new
        doc = jobs.get(doc["jobId"])
    return None


def _request(jobs: Jobs, doc: dict, reason: str, now_ms: int, terminate: bool) -> None:
    if doc["status"] in states.TERMINAL:
        return  # a no-op that still succeeds (ref §6.7)
    if is_array_parent(doc):
        _request_parent(jobs, doc, reason, now_ms, terminate)
        return
    if doc["status"] in PRE_START:
        fail(jobs, doc, reason, now_ms, isCancelled=True)  # not yet started: cancelled (ref §6.7)
        return
    if terminate:
        attempts.request_stop(jobs, doc, {"kind": "terminate", "reason": reason}, (states.STARTING, states.RUNNING))


def _request_parent(jobs: Jobs, parent: dict, reason: str, now_ms: int, terminate: bool) -> None:
    flag = "isTerminated" if terminate else "isCancelled"
    for _ in range(RETRIES):
        if parent["status"] == states.SUBMITTED:  # children not spawned yet
            if states.transition(jobs, parent, states.FAILED, now_ms, statusReason=reason, **{flag: True}):
                return
        else:
            parent["_cancel"] = {"reason": reason, "flag": flag}
            if jobs.update(parent):
                break
        parent = jobs.get(parent["jobId"])
        if parent is None or parent["status"] in states.TERMINAL:
            return
    for child in jobs.children(parent["jobId"]):
        if child["status"] not in states.TERMINAL:
            _request(jobs, child, reason, now_ms, terminate)
