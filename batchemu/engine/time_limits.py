"""A job stuck at the head of its queue (ref §11.5): whether the queue's jobStateTimeLimitActions
end it now (`verdict`, pure: the placement decisions call it) and the record of why it waits
(`note`, applied with the plan). Shared by container jobs (the action cancels) and service jobs
(it terminates); each applier says how the job ends."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def verdict(job: dict, reason: str, queue: dict, now: int, time_scale: float = 1.0) -> tuple:
    """(the reason of the time-limit action that ends the job now, or None; the deadlines of the
    actions still to fall due). Pure: the job is blocked for `reason` since its `_blocked`
    says so, or since `now` when that reason is new. maxTimeSeconds is divided by --time-scale."""
    blocked = job.get("_blocked") or {}
    since = blocked["since"] if blocked.get("reason") == reason else now
    deadlines = []
    for action in queue.get("jobStateTimeLimitActions") or []:
        if action.get("state") != "RUNNABLE" or not reason.startswith(action["reason"]):
            continue
        deadline = since + int(action["maxTimeSeconds"] * 1000 / time_scale)
        if now >= deadline:
            return action["reason"], deadlines
        deadlines.append(deadline)
    return None, deadlines


def note(jobs, job: dict, reason: str, now: int) -> None:
    """Record that `job` is blocked for `reason` (its statusReason), from now if that is new."""
    blocked = job.get("_blocked") or {}
    if blocked.get("reason") != reason:
        job["_blocked"] = {"reason": reason, "since": now}
        job["statusReason"] = reason
        if jobs.update(job):
            for observer in list(jobs.store.blocked_observers):
                try:
                    observer(job, jobs.kind)
                except Exception:  # an observer must never break the scheduler's write
                    log.exception("blocked-job observer failed")
