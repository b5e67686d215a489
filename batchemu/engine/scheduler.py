"""The scheduler: `tick()` reads a snapshot, decides transitions, applies them through
states.transition, then asks the runner to act (DESIGN "Decide, apply, run").

One tick: apply runner events (running, exited, output); SUBMITTED -> PENDING/RUNNABLE (array
parents spawn their children); PENDING -> RUNNABLE | FAILED "Dependent Job failed" (ref §8);
array parents end when their children have (ref §7); stop requests and timeouts (ref §10,
engine.attempts); RUNNABLE -> STARTING as engine.placement.decide plans it from a snapshot
(ref §11, §11.5), the plan applied in one transaction, then launched (engine.container_jobs);
then the service jobs' pass (engine.service_scheduler). It returns the next time it must look again
(a timeout, a time limit, a status settling), or None. SUBMITTED and PENDING moves are still
decided and applied job by job (_advance).
"""

from __future__ import annotations

import collections
import copy
import logging
import threading

from batchemu.engine import actions, consumables, output_marks, placement, states
from batchemu.engine.container_jobs import ContainerJobs
from batchemu.engine.service_scheduler import ServiceScheduler
from batchemu.engine.world import World
from batchemu.runners import base
from batchemu.store.jobs import Jobs
from batchemu.store.logs import LogTables
from batchemu.vocabulary.reasons import ARRAY_CHILD_FAILED, DEPENDENCY_FAILED, QUEUE_DELETED, TIME_LIMIT

log = logging.getLogger("batchemu.scheduler")

MAX_PASSES = 8
DECIDE_BATCH = 200  # PENDING jobs decided per transaction (_advance); the store waits that long


class Scheduler:
    def __init__(self, store, runner, clock, stop_grace_seconds: float = 30.0, extra_env=None):
        self.store = store
        self.jobs = Jobs(store)
        self.runner = runner
        self.clock = clock
        self.stop_grace = stop_grace_seconds
        self.extra_env = extra_env or (lambda job: {})
        self.logs = LogTables(store)
        self._events = collections.deque()
        # Live queue ARNs when RUNNABLE/PENDING jobs were last searched for orphans (None: search again).
        self._orphans_checked_for = None
        # What can move a PENDING job on, gathered from every status write (any thread) until the
        # next pass reads it: jobs that ended (their dependants and array parent are looked at
        # again) and arrays that spawned children. A PENDING job nothing woke is not decoded, so
        # a tick costs the same with 10,000 dependants waiting as with none (bench/scale.py).
        # The first pass after start looks at every PENDING job.
        self._woken_lock = threading.Lock()
        self._woken = _Woken()
        self._all_pending = True
        store.job_observers.append(self._observe)
        self.containers = ContainerJobs(store, self.jobs, runner, self.logs, stop_grace_seconds, self.extra_env,
                                        self._recheck_orphans)
        self.attempts = self.containers.attempts
        # SageMaker service jobs (ref §13.3): their own table and states, the same runner.
        self.service_jobs = ServiceScheduler(store, runner, clock, self.logs, stop_grace_seconds, self.extra_env)

    # -- inputs ----------------------------------------------------------------------------

    def post(self, event: base.RunnerEvent) -> None:
        """Called from runner threads; applied by the next tick."""
        self._events.append(event)

    # -- the tick --------------------------------------------------------------------------

    def tick(self) -> int | None:
        now = self.clock()
        self._apply_events(now)
        deadlines = []
        for _ in range(MAX_PASSES):
            # The clock is read after each snapshot of the jobs: a job submitted while the tick
            # runs was created before the read, so it is never scheduledAt before its createdAt.
            # RUNNABLE jobs wait for _place: _advance only needs those whose queue is gone, so a
            # tick (one per submit) does not decode the whole RUNNABLE backlog twice (bench/).
            # PENDING jobs only when something they wait on changed (_pending).
            active = self._pending() + self.jobs.active(but=(states.RUNNABLE, states.PENDING))
            now = self.clock()
            world = World(self.store, now)
            active = _oldest_first(active + self._orphans(world))
            again = self._advance(active, world, now, deadlines)
            # PENDING jobs cannot start: placement needs only their share identifiers, read when
            # a fair-share reservation asks (placement.Snapshot.pending_shares), not their documents.
            active = self.jobs.active(but=states.PENDING) if self.runner is not None else []
            now = self.clock()
            again |= self._place(active, world, now, deadlines)
            again |= self.service_jobs.tick(deadlines)
            if world.next_settle is not None:
                deadlines.append(world.next_settle)
            # Another pass only when this one can have made work for it: a job ended or an array
            # spawned (PENDING jobs to look at), or placement or service jobs moved. A job that
            # only went SUBMITTED -> RUNNABLE/PENDING needs none: the per-submit tick (bench/).
            if not (again or self._woken):
                break
        else:
            if self._woken:  # passes ran out with jobs still to look at: tick again at once
                deadlines.append(self.clock())
        return min(deadlines) if deadlines else None

    def _observe(self, doc: dict, old_status: str) -> None:
        """store.job_observers entry: note what a status write can wake (see __init__)."""
        if doc["status"] in states.TERMINAL:
            with self._woken_lock:
                self._woken.ended.add(doc["jobId"])
                if doc.get("_parent"):
                    self._woken.parents.add(doc["_parent"])

    def _pending(self) -> list:
        """The PENDING jobs this pass must look at: every one after a start, else those whose
        dependency or child ended since the last pass, and the children of new arrays."""
        with self._woken_lock:
            woken, self._woken = self._woken, _Woken()
            everything, self._all_pending = self._all_pending, False
        if everything:
            return self.jobs.in_statuses((states.PENDING,))
        if not woken:
            return []
        return self.jobs.pending_woken(woken.parents, woken.ended, woken.spawned)

    def _recheck_orphans(self) -> None:
        self._orphans_checked_for = None  # a job went back to RUNNABLE: its queue may be gone by now

    def _orphans(self, world: World) -> list:
        """RUNNABLE and PENDING jobs whose queue is gone, for _advance to fail (ref §4.4). The
        search reads the status index of every such job, so it runs only when it can find
        something: the set of live queues changed, a job went back to RUNNABLE for a retry, or
        the last search found some."""
        live = frozenset(arn for arn in world.queues if world.queue(arn))
        if live == self._orphans_checked_for:
            return []
        found = self.jobs.in_status_outside((states.RUNNABLE, states.PENDING), live)
        self._orphans_checked_for = None if found else live
        return found

    def _advance(self, active: list, world: World, now: int, deadlines: list) -> bool:
        """Move SUBMITTED/PENDING jobs on and supervise running ones; True when a lost
        compare-and-set asks for another pass."""
        again = False
        known = {j["jobId"]: j for j in active}
        start = 0
        while start < len(active):
            # A run of PENDING dependants is decided in one transaction per DECIDE_BATCH jobs
            # (they only write their own status, nothing nests): a blocker's end fails all of
            # them, and a commit each was most of the time for 10,000 (bench/scale.py).
            end = start
            while end < len(active) and end - start < DECIDE_BATCH and _plain_pending(active[end]):
                end += 1
            if end - start > 1:
                with self.store.transaction():
                    for job in active[start:end]:
                        again |= self._advance_guarded(job, known, world, now, deadlines)
            else:
                end = start + 1
                again |= self._advance_guarded(active[start], known, world, now, deadlines)
            start = end
        return again

    def _advance_guarded(self, job: dict, known: dict, world: World, now: int, deadlines: list) -> bool:
        try:
            return self._advance_one(job, known, world, now, deadlines)
        except _Retry:
            return True
        except Exception:  # one broken job must not stall every other one
            log.exception("could not advance job %s", job["jobId"])
            return False

    def _advance_one(self, job: dict, known: dict, world: World, now: int, deadlines: list) -> bool:
        """True when another pass is needed beyond what _observe notes (a deleted queue's
        jobs). What SUBMITTED and PENDING moves free is in self._woken, and a job they make
        RUNNABLE is placed by this pass's _place."""
        status = job["status"]
        if world.queue(job["jobQueue"]) is None:
            return self._queue_gone(job, now)
        if status == states.SUBMITTED:
            self._submitted(job, known, now)
        elif status == states.PENDING:
            if actions.is_array_parent(job):
                self._settle_parent(job, now)
            else:
                self._check_dependencies(job, known, now)
        elif status in (states.STARTING, states.RUNNING):
            self.attempts.supervise(job, now, deadlines)
        return False

    # -- SUBMITTED / PENDING ---------------------------------------------------------------

    def _submitted(self, job: dict, known: dict, now: int) -> bool:
        if actions.is_array_parent(job):
            return self._spawn_children(job, now)
        verdict = self._dependency_verdict(job, known)
        if verdict == "failed":
            return bool(states.transition(self.jobs, job, states.FAILED, now, statusReason=DEPENDENCY_FAILED))
        target = states.RUNNABLE if verdict == "ok" else states.PENDING
        return bool(states.transition(self.jobs, job, target, now))

    def _check_dependencies(self, job: dict, known: dict, now: int) -> bool:
        verdict = self._dependency_verdict(job, known)
        if verdict == "failed":
            return bool(states.transition(self.jobs, job, states.FAILED, now, statusReason=DEPENDENCY_FAILED))
        if verdict == "ok":
            return bool(states.transition(self.jobs, job, states.RUNNABLE, now))
        return False

    def _dependency_verdict(self, job: dict, known: dict) -> str:
        """"ok" when every dependency SUCCEEDED, "failed" when one FAILED (or is gone), else "wait"."""
        waiting = False
        for dep in job.get("dependsOn") or []:
            dep_id = dep.get("jobId")
            if not dep_id:
                continue
            other = known.get(dep_id)
            if other is None:
                other = self.jobs.get(dep_id)
                if other is not None and other["status"] in states.TERMINAL:
                    known[dep_id] = other  # final: its 10,000 dependants need not read it again
            status = other["status"] if other else states.FAILED
            if status == states.FAILED:
                return "failed"
            if status != states.SUCCEEDED:
                waiting = True
        return "wait" if waiting else "ok"

    def _spawn_children(self, parent: dict, now: int) -> bool:
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
            child_id = f"{parent['jobId']}:{i}"
            child.update({
                "jobId": child_id,
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
        with self.store.transaction():
            self.jobs.insert_many(children)
            moved = states.transition(self.jobs, parent, states.PENDING, now, _summaryAt=now)
            if moved is None:
                raise _Retry()
        with self._woken_lock:  # born PENDING: the next pass looks at them
            self._woken.spawned.add(parent["jobId"])
        return True

    def _settle_parent(self, parent: dict, now: int) -> bool:
        counts = self.jobs.child_counts(parent["jobId"])
        size = parent["arrayProperties"]["size"]
        done = counts.get(states.SUCCEEDED, 0) + counts.get(states.FAILED, 0)
        if done < size:
            return False
        cancel = parent.get("_cancel")
        if cancel:
            return bool(states.transition(self.jobs, parent, states.FAILED, now, statusReason=cancel["reason"],
                                          _summaryAt=now, **{cancel["flag"]: True}))
        if counts.get(states.FAILED, 0):
            return bool(states.transition(self.jobs, parent, states.FAILED, now,
                                          statusReason=ARRAY_CHILD_FAILED, _summaryAt=now))
        return bool(states.transition(self.jobs, parent, states.SUCCEEDED, now, _summaryAt=now))

    def _queue_gone(self, job: dict, now: int) -> bool:
        """ref §4.4: jobs of a deleted queue are terminated."""
        if job["status"] in actions.PRE_START and not actions.is_array_parent(job):
            return bool(actions.fail(self.jobs, job, QUEUE_DELETED, now))
        if actions.is_array_parent(job):
            if job["status"] == states.SUBMITTED:
                return bool(states.transition(self.jobs, job, states.FAILED, now, statusReason=QUEUE_DELETED))
            if not job.get("_cancel"):
                actions.terminate(self.jobs, job, QUEUE_DELETED, now)
                return True
            return self._settle_parent(job, now)
        actions.terminate(self.jobs, job, QUEUE_DELETED, now)
        return False

    # -- STARTING / RUNNING ----------------------------------------------------------------

    # -- runner events ---------------------------------------------------------------------

    def _apply_events(self, now: int) -> None:
        while self._events:
            event = self._events.popleft()
            try:
                self._apply(event, now)
            except Exception:
                log.exception("could not apply runner event %s", event)

    def _apply(self, event: base.RunnerEvent, now: int) -> None:
        job = self.jobs.get(event.job_id)
        if job is not None:
            self.attempts.report(job, event, now)
        else:
            self.service_jobs.apply(event, now)  # not a container job: maybe a service job's

    # -- placement -------------------------------------------------------------------------

    def _place(self, active: list, world: World, now: int, deadlines: list) -> bool:
        """Decide from a snapshot (engine.placement.decide, pure), apply the plan in one
        transaction, then hand the launches to the runner."""
        if self.runner is None:
            return False  # nothing can run: jobs wait in RUNNABLE
        pending_shares = {}  # PENDING jobs are not in `active` (tick); a reservation counts their shares
        for arn in {j["jobQueue"] for j in active if j["status"] == states.RUNNABLE}:
            queue = world.queue(arn)
            if queue is not None and placement.needs_pending_shares(world.fairshare_policy(queue)):
                pending_shares[arn] = self.jobs.shares_in(states.PENDING, arn)
        plan = placement.decide(placement.Snapshot(world, active, consumables.ConsumableStock(self.store),
                                                   self.runner.gpus(), pending_shares, now))
        deadlines.extend(plan.deadlines)
        if not plan.steps:
            return False
        changed, begun = placement.apply(
            self.store, self.jobs, plan, now,
            end=lambda job, why: actions.fail(self.jobs, job, TIME_LIMIT.format(why), now, isCancelled=True),
            begin=lambda job, ce: self.containers.begin(job, ce, now))
        for job in begun:
            self.containers.launch(job, now)
        return changed

    # -- reset -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything (Engine.reset, on the engine thread): the runner kills and removes
        every container/process it runs for this server, then every table but the server's own
        settings is emptied in one transaction, then what this scheduler remembers between
        ticks. Reports the runner sends later about the killed attempts name jobs that no
        longer exist, and _apply drops them."""
        if self.runner is not None:
            self.runner.reset()
        self.store.clear()
        self.service_jobs.training.clear()  # the forgotten service jobs' /opt/ml directories
        self._events.clear()
        with self._woken_lock:
            self._woken = _Woken()
        self._all_pending = True
        self._orphans_checked_for = None

    # -- restart ---------------------------------------------------------------------------

    def recover(self) -> None:
        """After a restart: re-attach STARTING/RUNNING jobs to their containers, start again a
        STARTING attempt the runner has no trace of (it never ran), or record the attempt as
        lost and retry per the job's strategy (DESIGN principle 4; engine.attempts.recover)."""
        now = self.clock()
        busy = self.jobs.in_statuses((states.STARTING, states.RUNNING))  # not the whole backlog
        wanted = {j["jobId"]: j["_attempt"] for j in busy}
        service_busy = self.service_jobs.busy()
        wanted.update(service_busy)
        # Where each one's stored output ends: a re-attached container's output resumes there.
        service_docs = [self.service_jobs.jobs.get(job_id) for job_id in service_busy]
        stored = output_marks.stored_output(self.logs, busy + service_docs)
        survivors = {s.job_id: s for s in (self.runner.reattach(wanted, stored) if self.runner else [])}
        self._apply_events(now)  # output the runner collected while re-attaching
        for job in busy:
            self.attempts.recover(self.jobs.get(job["jobId"]), survivors.get(job["jobId"]), now)
        self.service_jobs.recover(survivors, now)

class _Retry(Exception):
    """A compare-and-set lost inside a transaction; the next tick decides again."""


class _Woken:
    """Job ids gathered between two passes (Scheduler._observe): `ended` reached SUCCEEDED or
    FAILED, `parents` are the array parents of ended children, `spawned` arrays just made their
    children."""

    def __init__(self):
        self.ended, self.parents, self.spawned = set(), set(), set()

    def __bool__(self) -> bool:
        return bool(self.ended or self.parents or self.spawned)


def _plain_pending(job: dict) -> bool:
    return job["status"] == states.PENDING and not actions.is_array_parent(job)


def _oldest_first(jobs: list) -> list:
    """Each job once, by creation time (a job can come from two reads of one pass)."""
    unique = {j["jobId"]: j for j in jobs}
    return sorted(unique.values(), key=lambda j: j["createdAt"])
