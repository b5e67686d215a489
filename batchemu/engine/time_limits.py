"""A job stuck at the head of its queue (ref §11.5): record why in its statusReason, and apply
the queue's jobStateTimeLimitActions. Shared by container jobs (the action cancels) and
service jobs (it terminates); each caller says how the job ends."""

from __future__ import annotations

from typing import Callable


def note_blocked(jobs, job: dict, reason: str, queue: dict, now: int, deadlines: list,
                 end: Callable[[str], object]) -> bool:
    """True when a time limit ended the job (the next job is the head now). `end(action_reason)`
    ends it; otherwise the limit's deadline is added to `deadlines` so the scheduler wakes then."""
    blocked = job.get("_blocked") or {}
    if blocked.get("reason") != reason:
        job["_blocked"] = blocked = {"reason": reason, "since": now}
        job["statusReason"] = reason
        jobs.update(job)
    for action in queue.get("jobStateTimeLimitActions") or []:
        if action.get("state") != "RUNNABLE" or not reason.startswith(action["reason"]):
            continue
        deadline = blocked["since"] + action["maxTimeSeconds"] * 1000
        if now >= deadline:
            return bool(end(action["reason"]))
        deadlines.append(deadline)
    return False
