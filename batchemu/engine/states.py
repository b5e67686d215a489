"""Job statuses, the legal transitions between them (ref §6.2) and `transition()`, the one
function through which every status write goes (a compare-and-set on the job's version).

Timestamps follow ref §6.3: startedAt when RUNNING is entered, stoppedAt when a terminal
status is. Observers (state-change events) register with `on_transition`.
"""

from __future__ import annotations

import logging

# The statuses are vocabulary (every layer names them); engine modules read them as
# `states.RUNNING` beside `states.transition`, so they are imported here by name.
from batchemu.vocabulary.job_states import (ACTIVE, ALL, FAILED, PENDING, RUNNABLE,  # noqa: F401
                                            RUNNING, STARTING, SUBMITTED, SUCCEEDED, TERMINAL)

log = logging.getLogger("batchemu.engine")

# ref §6.2 "Allowed transitions". Array parents move SUBMITTED -> PENDING -> SUCCEEDED|FAILED
# (ref §7), which is why PENDING may end in SUCCEEDED.
TRANSITIONS = {
    SUBMITTED: frozenset({PENDING, RUNNABLE, FAILED}),
    PENDING: frozenset({RUNNABLE, FAILED, SUCCEEDED}),
    RUNNABLE: frozenset({STARTING, FAILED}),
    STARTING: frozenset({RUNNING, RUNNABLE, FAILED}),
    RUNNING: frozenset({SUCCEEDED, FAILED, RUNNABLE}),
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
}


class IllegalTransition(Exception):
    pass


def transition(jobs, doc: dict, to: str, now_ms: int, **changes) -> dict | None:
    """Move `doc` to status `to` with `changes` applied, if nobody wrote it since it was read.

    Returns the new document, or None when the compare-and-set lost (re-read and decide
    again). Raises IllegalTransition for a move the table does not allow.
    """
    old = doc["status"]
    if to not in TRANSITIONS[old]:
        raise IllegalTransition(f"{doc['jobId']}: {old} -> {to}")
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
    for observer in list(jobs.store.job_observers):
        try:
            observer(new, old)
        except Exception:  # an observer must never break a status write
            log.exception("state observer failed")
    return new
