"""How jobs that have not reached RUNNABLE move on: decide (pure), then apply.

`decide(Snapshot)` looks at SUBMITTED and PENDING jobs, and at any active job whose queue is
gone, and returns the moves (ref §7 arrays, §8 dependencies, §4.4 a deleted queue):
SUBMITTED -> RUNNABLE | PENDING | FAILED "Dependent Job failed"; an array parent spawns its
children (born PENDING) and goes PENDING; a PENDING job -> RUNNABLE | FAILED when its
dependencies end; a PENDING array parent ends with its children; a deleted queue's jobs fail
(not started) or are asked to stop (started). It reads nothing but its Snapshot: the statuses of
the dependencies and the children counts are gathered by the caller first.

`apply()` writes the moves through states.transition and engine.actions, each move a
compare-and-set of its own job. The moves are independent (each writes one job; a spawn writes a
parent and its new children in one transaction), so they are committed DECIDE_BATCH at a time
rather than in one transaction: a single commit for 10,000 dependants would hold request
threads out of the store for the whole batch (bench/scale.py).

It must not launch, supervise or place anything (engine.attempts, engine.placement).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Mapping

from batchemu.engine import actions, states
from batchemu.vocabulary.reasons import ARRAY_CHILD_FAILED, DEPENDENCY_FAILED, QUEUE_DELETED

log = logging.getLogger("batchemu.scheduler")

DECIDE_BATCH = 200  # moves committed per transaction; request threads wait at most that long


@dataclass(frozen=True)
class Snapshot:
    jobs: list                          # the jobs to look at, oldest first
    live_queues: frozenset              # ARNs of queues that exist (not being deleted)
    statuses: Mapping[str, str]         # jobId -> status of every dependency named (absent: gone)
    child_counts: Mapping[str, dict]    # array parent jobId -> {status: children in it}
    now: int


@dataclass(frozen=True)
class Move:
    """`job` -> status `to` with `changes` (states.transition)."""
    job: dict
    to: str
    changes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Spawn:
    """An array parent's children are inserted and the parent goes PENDING, together."""
    parent: dict
    children: list


@dataclass(frozen=True)
class Fail:
    """A not-yet-started job of a deleted queue fails (engine.actions.fail retries its CAS)."""
    job: dict
    reason: str


@dataclass(frozen=True)
class Terminate:
    """A started job, or an array parent, of a deleted queue is asked to stop (engine.actions)."""
    job: dict
    reason: str


def wanted_statuses(jobs: list) -> set:
    """The job ids whose status `decide` needs for `jobs`' dependencies."""
    return {d["jobId"] for j in jobs if j["status"] in (states.SUBMITTED, states.PENDING)
            for d in j.get("dependsOn") or [] if d.get("jobId")}


def counted_parents(jobs: list) -> list:
    """The array parents whose children `decide` must count: the PENDING ones (SUBMITTED ones
    have none yet)."""
    return [j["jobId"] for j in jobs if j["status"] == states.PENDING and actions.is_array_parent(j)]


def decide(snapshot: Snapshot) -> list:
    """The moves for `snapshot.jobs`, in their order. Pure: reads only the snapshot."""
    moves = []
    for job in snapshot.jobs:
        try:
            move = _decide_one(job, snapshot)
        except Exception:  # one malformed job must not stall every other one
            log.exception("could not decide job %s", job.get("jobId"))
            continue
        if move is not None:
            moves.append(move)
    return moves


def _decide_one(job: dict, snap: Snapshot):
    status = job["status"]
    parent = actions.is_array_parent(job)
    if job["jobQueue"] not in snap.live_queues:
        return _queue_gone(job, parent, snap)
    if status == states.SUBMITTED:
        if parent:
            return Spawn(job, _children(job, snap.now))
        return _by_dependencies(job, snap, waiting=states.PENDING)
    if status == states.PENDING:
        if parent:
            return _settled(job, snap)
        return _by_dependencies(job, snap, waiting=None)
    return None  # STARTING/RUNNING: engine.attempts supervises them


def _by_dependencies(job: dict, snap: Snapshot, waiting: str | None):
    verdict = _dependency_verdict(job, snap.statuses)
    if verdict == "failed":
        return Move(job, states.FAILED, {"statusReason": DEPENDENCY_FAILED})
    if verdict == "ok":
        return Move(job, states.RUNNABLE)
    return Move(job, waiting) if waiting else None


def _dependency_verdict(job: dict, statuses: Mapping[str, str]) -> str:
    """"ok" when every dependency SUCCEEDED, "failed" when one FAILED (or is gone), else "wait"."""
    waiting = False
    for dep in job.get("dependsOn") or []:
        dep_id = dep.get("jobId")
        if not dep_id:
            continue
        status = statuses.get(dep_id, states.FAILED)
        if status == states.FAILED:
            return "failed"
        if status != states.SUCCEEDED:
            waiting = True
    return "wait" if waiting else "ok"


def _children(parent: dict, now: int) -> list:
    """ref §7: children `<parent>:<i>` are born PENDING; SEQUENTIAL makes child i wait for
    child i-1; N_TO_N makes child i wait for child i of the other array; a plain dependency
    of the parent is a dependency of every child."""
    size = parent["arrayProperties"]["size"]
    deps = parent.get("dependsOn") or []
    plain = [d for d in deps if d.get("jobId") and not d.get("type")]
    n_to_n = [d["jobId"] for d in deps if d.get("type") == "N_TO_N"]
    sequential = any(d.get("type") == "SEQUENTIAL" for d in deps)
    template = {k: v for k, v in parent.items() if k not in ("arrayProperties", "_v")}
    children = []
    for i in range(size):
        child = copy.deepcopy(template)
        child_deps = [dict(d) for d in plain] + [{"jobId": f"{x}:{i}", "type": "N_TO_N"} for x in n_to_n]
        if sequential and i:
            child_deps.append({"jobId": f"{parent['jobId']}:{i - 1}", "type": "SEQUENTIAL"})
        child.update({
            "jobId": f"{parent['jobId']}:{i}",
            "jobArn": parent["jobArn"] + f":{i}",
            "status": states.PENDING,
            "createdAt": now,
            "arrayProperties": {"index": i},
            "dependsOn": child_deps,
            "tags": None,  # tags don't propagate to children (ref §7)
            "_parent": parent["jobId"],
            "_arraySize": size,
        })
        children.append(child)
    return children


def _settled(parent: dict, snap: Snapshot):
    """A PENDING array parent ends once every child has: FAILED if one failed (ref §7)."""
    counts = snap.child_counts.get(parent["jobId"], {})
    size = parent["arrayProperties"]["size"]
    failed = counts.get(states.FAILED, 0)
    if failed + counts.get(states.SUCCEEDED, 0) < size:
        return None
    summary = {"_summaryAt": snap.now}
    cancel = parent.get("_cancel")
    if cancel:
        return Move(parent, states.FAILED, {"statusReason": cancel["reason"], **summary, cancel["flag"]: True})
    if failed:
        return Move(parent, states.FAILED, {"statusReason": ARRAY_CHILD_FAILED, **summary})
    return Move(parent, states.SUCCEEDED, summary)


def _queue_gone(job: dict, parent: bool, snap: Snapshot):
    """ref §4.4: jobs of a deleted queue are terminated."""
    if not parent:
        if job["status"] in actions.PRE_START:
            return Fail(job, QUEUE_DELETED)
        return Terminate(job, QUEUE_DELETED)
    if job["status"] == states.SUBMITTED:
        return Move(job, states.FAILED, {"statusReason": QUEUE_DELETED})
    if not job.get("_cancel"):
        return Terminate(job, QUEUE_DELETED)  # its children are told; it ends with them
    return _settled(job, snap)


def apply(store, jobs, moves: list, now: int) -> tuple[bool, list]:
    """Write `moves`. Returns (another pass is needed, ids of arrays that spawned children).
    Another pass is needed when a compare-and-set lost (the job is decided again from a fresh
    read) or a deleted queue's array parent was told to stop."""
    again, spawned = False, []
    batch = []
    for move in moves:
        if isinstance(move, Spawn):
            if _spawn(store, jobs, move, now):
                spawned.append(move.parent["jobId"])
            else:
                again = True
            continue
        batch.append(move)
        if len(batch) >= DECIDE_BATCH:
            again |= _write(store, jobs, batch, now)
            batch = []
    if batch:
        again |= _write(store, jobs, batch, now)
    return again, spawned


def _write(store, jobs, moves: list, now: int) -> bool:
    again = False
    with store.transaction():
        for move in moves:
            try:
                again |= _write_one(jobs, move, now)
            except Exception:  # one broken job must not stall every other one
                log.exception("could not move job %s", move.job.get("jobId"))
    return again


def _write_one(jobs, move, now: int) -> bool:
    if isinstance(move, Move):
        return states.transition(jobs, move.job, move.to, now, **move.changes) is None
    if isinstance(move, Fail):
        actions.fail(jobs, move.job, move.reason, now)
        return False
    actions.terminate(jobs, move.job, move.reason, now)
    return actions.is_array_parent(move.job)


class _Lost(Exception):
    """The parent's compare-and-set lost: its children's insert is rolled back with it."""


def _spawn(store, jobs, spawn: Spawn, now: int) -> bool:
    try:
        with store.transaction():
            jobs.insert_many(spawn.children)
            if states.transition(jobs, spawn.parent, states.PENDING, now, _summaryAt=now) is None:
                raise _Lost()
    except _Lost:
        return False
    return True
