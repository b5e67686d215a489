"""`transition()`: the one function through which every job's status changes, whatever the
job's kind (a compare-and-set on the job's version). The statuses and the table of legal moves
per kind are data in batchemu.vocabulary.job_states; the store refuses a move that table does
not allow even from a caller that skips this function.

Timestamps follow ref §6.3: startedAt when RUNNING is entered, stoppedAt when a terminal
status is. Observers (state-change events) are the store's (`jobs.observers`).
"""

from __future__ import annotations

import logging

# The statuses and tables are vocabulary (every layer names them); engine modules read them as
# `states.RUNNING` beside `states.transition`, so they are imported here by name.
from batchemu.vocabulary import job_states
from batchemu.vocabulary.job_states import (ACTIVE, ALL, FAILED, PENDING, RUNNABLE, RUNNING,  # noqa: F401
                                            SCHEDULED, STARTING, SUBMITTED, SUCCEEDED, TERMINAL,
                                            IllegalTransition)

log = logging.getLogger("batchemu.engine")

TRANSITIONS = job_states.TRANSITIONS[job_states.CONTAINER]


def transition(jobs, doc: dict, to: str, now_ms: int, **changes) -> dict | None:
    """Move `doc` to status `to` with `changes` applied, if nobody wrote it since it was read.
    `jobs` is the job's store (store.jobs.Jobs, store.service_jobs.ServiceJobs): its kind picks
    the table.

    Returns the new document, or None when the compare-and-set lost (re-read and decide
    again). Raises IllegalTransition for a move the table does not allow.
    """
    old = doc["status"]
    if old == to or not job_states.allowed(jobs.kind, old, to):  # a status never "moves" to itself
        raise IllegalTransition(f"{jobs.kind} job {doc['jobId']}: {old} -> {to}")
    new = dict(doc)
    new.update(changes)
    new["status"] = to
    new["_changedAt"] = now_ms  # when this change happened (e.g. an event's `time`, ref §14.1)
    if to == RUNNING and "startedAt" not in changes:
        new["startedAt"] = now_ms  # the latest attempt's start (ref §6.4)
    if to in TERMINAL and new.get("stoppedAt") is None:
        new["stoppedAt"] = now_ms
    if not jobs.update(new):
        return None
    for observer in list(jobs.observers):
        try:
            observer(new, old)
        except Exception:  # an observer must never break a status write
            log.exception("state observer failed")
    return new
