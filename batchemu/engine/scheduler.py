"""The scheduler: `tick()` reads a snapshot, decides transitions, applies them through
states.transition, then asks the runner to act (DESIGN "Decide, apply, run").

One tick: apply runner events (running, exited, output); SUBMITTED -> PENDING/RUNNABLE (array
parents spawn their children); PENDING -> RUNNABLE | FAILED "Dependent Job failed" (ref §8);
array parents end when their children have (ref §7); stop requests and timeouts (ref §10,
engine.attempts); RUNNABLE -> STARTING as engine.placement.decide plans it from a snapshot
(ref §11, §11.5), the plan applied in one transaction, then launched (engine.container_jobs);
then the service jobs' pass (engine.service_scheduler). It returns the next time it must look again
(a timeout, a time limit, a status settling), or None. SUBMITTED and PENDING moves are
decided the same way: engine.progress.decide from a snapshot, then applied.
"""

from __future__ import annotations

import collections
import logging
import threading

from batchemu.engine import (actions, consumables, launch, multinode, output_marks, placement, progress, states,
                             task_jobs)
from batchemu.engine.container_jobs import ContainerJobs
from batchemu.engine.faults import Faults
from batchemu.engine.task_jobs import TaskJobs
from batchemu.engine.service_scheduler import ServiceScheduler
from batchemu.engine.world import World
from batchemu.runners import base
from batchemu.store.jobs import Jobs
from batchemu.store.logs import LogTables
from batchemu.vocabulary.reasons import TIME_LIMIT

log = logging.getLogger("batchemu.scheduler")

MAX_PASSES = 8


class Scheduler:
    def __init__(self, store, runner, clock, stop_grace_seconds: float = 30.0, extra_env=None,
                 time_scale: float = 1.0):
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
        self.time_scale = time_scale  # --time-scale: divides the waits the engine imposes
        self.faults = Faults(store, self.jobs)  # injected failures (README "Failure injection")
        self.containers = ContainerJobs(store, self.jobs, runner, self.logs, stop_grace_seconds, self.extra_env,
                                        self._recheck_orphans, time_scale, self.faults)
        self.attempts = self.containers.attempts
        # ecsProperties/eksProperties jobs: the same jobs, attempts of several containers.
        self.tasks = TaskJobs(store, self.jobs, runner, self.logs, stop_grace_seconds, self.extra_env,
                              self._recheck_orphans, time_scale, self.faults)
        # Multi-node parallel jobs (ref §12): the job and its nodes, the same attempt lifecycle.
        self.multinode = multinode.MultiNode(store, self.jobs, runner, self.logs, stop_grace_seconds,
                                             self.extra_env, self._recheck_orphans, time_scale, self.faults)
        # SageMaker service jobs (ref §13.3): their own table and states, the same runner.
        self.service_jobs = ServiceScheduler(store, runner, clock, self.logs, stop_grace_seconds, self.extra_env,
                                             time_scale=time_scale)

    # -- inputs ----------------------------------------------------------------------------

    def post(self, event: base.RunnerEvent) -> None:
        """Called from runner threads; applied by the next tick."""
        self._events.append(event)

    # -- the tick --------------------------------------------------------------------------

    def tick(self) -> int | None:
        now = self.clock()
        self._apply_events(now)
        self.faults.apply(now)  # marks attempts to stop; this tick's passes send the stops
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
            self.multinode.settle(now)  # nodes left waiting by a multi-node job that ended
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

    def _launcher(self, job: dict):
        """The Launcher of a job's kind: a multi-node job or one of its nodes (engine.multinode),
        a multi-container task (engine.task_jobs) or one container."""
        if multinode.is_node(job):
            return self.multinode.launcher_of(job)
        if multinode.is_multinode(job):
            return self.multinode
        return self.tasks if task_jobs.kind(job) else self.containers

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
        """Move SUBMITTED/PENDING jobs (and a deleted queue's jobs) on: engine.progress decides
        from a snapshot, then applies; then supervise running ones. True when another pass is
        needed beyond what _observe notes (a lost compare-and-set, a deleted queue's array)."""
        live = frozenset(arn for arn in {j["jobQueue"] for j in active} if world.queue(arn) is not None)
        snapshot = progress.Snapshot(active, live, self._statuses(active), self._child_counts(active), now)
        again, spawned = progress.apply(self.store, self.jobs, progress.decide(snapshot), now)
        if spawned:
            with self._woken_lock:  # born PENDING: the next pass looks at them
                self._woken.spawned.update(spawned)
        for job in active:
            if job["status"] in (states.STARTING, states.RUNNING) and job["jobQueue"] in live:
                try:
                    self._launcher(job).attempts.supervise(job, now, deadlines)
                except Exception:  # one broken job must not stall every other one
                    log.exception("could not supervise job %s", job["jobId"])
        return again

    def _statuses(self, active: list) -> dict:
        """The status of every job `active`'s dependencies name: from `active` itself, else one
        store read per job id (10,000 dependants of one job read it once)."""
        known = {j["jobId"]: j["status"] for j in active}
        for job_id in progress.wanted_statuses(active) - known.keys():
            other = self.jobs.get(job_id)
            if other is not None:
                known[job_id] = other["status"]
        return known

    def _child_counts(self, active: list) -> dict:
        return {job_id: self.jobs.child_counts(job_id) for job_id in progress.counted_parents(active)}

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
            self._launcher(job).attempts.report(job, event, now)
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
        room = getattr(self.runner, "room", None)   # a runner whose nodes bound what runs (base.Runner)
        plan = placement.decide(placement.Snapshot(world, active, consumables.ConsumableStock(self.store),
                                                   self.runner.gpus(), pending_shares, now, self.time_scale,
                                                   room() if room else None))
        deadlines.extend(plan.deadlines)
        if not plan.steps:
            return False
        changed, begun = placement.apply(
            self.store, self.jobs, plan, now,
            end=lambda job, why: actions.fail(self.jobs, job, TIME_LIMIT.format(why), now, isCancelled=True),
            begin=lambda job, ce: self._launcher(job).begin(job, ce, now))
        for job in begun:
            self._launcher(job).launch(job, now)
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
        # A multi-node job has no container: its nodes do, and its main node's end ends it.
        busy = [j for j in busy if not multinode.is_multinode(j)]
        wanted = {j["jobId"]: j["_attempt"] for j in busy}
        service_busy = self.service_jobs.busy()
        wanted.update(service_busy)
        # Where each one's stored output ends: a re-attached container's output resumes there.
        service_docs = [self.service_jobs.jobs.get(job_id) for job_id in service_busy]
        stored = output_marks.stored_output(self.logs, busy + service_docs)
        follow = getattr(self.runner, "follow", None)   # a runner with places besides its own (base.Runner)
        if follow is not None:
            follow(self._places(now, busy))
        survivors = {s.job_id: s for s in (self.runner.reattach(wanted, stored) if self.runner else [])}
        self._apply_events(now)  # output the runner collected while re-attaching
        for job in busy:
            self._launcher(job).attempts.recover(self.jobs.get(job["jobId"]), survivors.get(job["jobId"]), now)
        self.service_jobs.recover(survivors, now)

    def _places(self, now: int, busy: list) -> list:
        """Every place a pod of this server may be in, each once: every compute environment's
        (its eksConfiguration) and every busy job's (a pod's own metadata.namespace)."""
        places = {launch.cluster_place(ce) for ce in World(self.store, now).ces.values()}
        places |= {launch.place_of(job) for job in busy}
        places.discard(None)
        return sorted(places, key=lambda p: (p.cluster_arn, p.namespace))


class _Woken:
    """Job ids gathered between two passes (Scheduler._observe): `ended` reached SUCCEEDED or
    FAILED, `parents` are the array parents of ended children, `spawned` arrays just made their
    children."""

    def __init__(self):
        self.ended, self.parents, self.spawned = set(), set(), set()

    def __bool__(self) -> bool:
        return bool(self.ended or self.parents or self.spawned)


def _oldest_first(jobs: list) -> list:
    """Each job once, by creation time (a job can come from two reads of one pass)."""
    unique = {j["jobId"]: j for j in jobs}
    return sorted(unique.values(), key=lambda j: j["createdAt"])
