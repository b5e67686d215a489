"""One attempt lifecycle for every kind of job: supervise a running attempt (stop requests,
attemptDurationSeconds, ref §10), record a runner's report (RUNNING, EXITED, output), finish the
attempt (SUCCEEDED, RUNNABLE again by retryStrategy/evaluateOnExit, ref §9, or FAILED) and pick
an attempt up again after a restart (DESIGN principle 4).

A kind of job (container jobs: engine.container_jobs; ECS task and EKS pod jobs:
engine.task_jobs; SageMaker service jobs: engine.service_scheduler)
differs only in how one attempt is launched and what it reports: its `Launcher` says that. This
module holds no kind's wording, fields or runner spec, and never places a job.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Protocol

from batchemu.engine import retry
from batchemu.engine.states import FAILED, RUNNABLE, RUNNING, SCHEDULED, STARTING, SUCCEEDED, transition
from batchemu.runners import base
from batchemu.vocabulary.reasons import TIMED_OUT

log = logging.getLogger("batchemu.scheduler")

RETRIES = 20   # compare-and-set attempts of a stop request racing the scheduler
HOST_LOST = "host-lost"  # a stop's kind when its host went away (engine.faults)


def request_stop(jobs, doc: dict | None, stop: dict, busy: tuple) -> bool:
    """Mark a job in one of the `busy` statuses to be stopped ({"kind": "terminate", "reason"}
    or {"kind": "timeout"}); the next tick tells the runner (Attempts.supervise). Retries the
    compare-and-set on a race; False when the job is not busy or already marked."""
    for _ in range(RETRIES):
        if doc is None or doc["status"] not in busy or doc.get("_stop"):
            return False
        doc["_stop"] = stop
        if jobs.update(doc):
            return True
        doc = jobs.get(doc["jobId"])
    return False


class Launcher(Protocol):
    """How one kind of job launches an attempt and reads its report."""

    jobs: object           # its store (store.versioned.VersionedDocs): the kind and its table
    label: str             # "job", "service job": for the log
    timeout_field: str     # where the job keeps attemptDurationSeconds
    lost_on_restart: str   # statusReason of an attempt a restart lost

    def launch(self, job: dict, now: int) -> None:
        """Hand a STARTING (or SCHEDULED) attempt to the runner; finish it if that fails."""

    def to_running(self, job: dict, at: int) -> dict | None:
        """STARTING -> RUNNING with what the kind shows of a running attempt."""

    def exit_reason(self, reason: str | None, oom: bool) -> str | None:
        """The attempt's reason as the kind reports it."""

    def status_reason(self, job: dict, exit_code, reason, oom: bool) -> str:
        """statusReason of an attempt that ended on its own with no reason from the runner."""

    def record(self, job: dict, exit_code, reason, status_reason: str, now: int) -> dict:
        """The attempt as listed in the job's `attempts` (ref §6.4)."""

    def ended(self, job: dict, exit_code, reason) -> dict:
        """Changes of a job whose last attempt ended it (SUCCEEDED or FAILED)."""

    def retried(self, job: dict) -> dict:
        """Changes of a job going back to RUNNABLE for another attempt."""

    def retry_on(self, exit_code, reason) -> tuple:
        """(exit code, reason) evaluateOnExit matches against."""

    # Optional: attempts_field(job) -> the job member its attempts are listed in ("attempts"
    # when absent; EKS pods list theirs in "eksAttempts", engine.task_jobs).


class Attempts:
    """The lifecycle of a kind's attempts, with one runner."""

    def __init__(self, launcher: Launcher, runner, logs, stop_grace_seconds: float, time_scale: float = 1.0):
        self.kind = launcher
        self.jobs = launcher.jobs
        self.runner = runner
        self.logs = logs
        self.stop_grace = stop_grace_seconds  # already divided by --time-scale (emulator)
        self.time_scale = time_scale          # --time-scale: divides attemptDurationSeconds

    # -- supervise -------------------------------------------------------------------------

    def supervise(self, job: dict, now: int, deadlines: list) -> None:
        """A STARTING/RUNNING job: send its stop request; time it out (from the attempt's start,
        ref §10), or note when to look again."""
        stop = job.get("_stop")
        if stop and not stop.get("sent"):
            self.send_stop(job, stop)
            return
        seconds = (job.get(self.kind.timeout_field) or {}).get("attemptDurationSeconds")
        if job["status"] == RUNNING and seconds and not stop:
            deadline = job["startedAt"] + int(seconds * 1000 / self.time_scale)
            if now >= deadline:
                self.send_stop(job, {"kind": "timeout"})
            else:
                deadlines.append(deadline)

    def send_stop(self, job: dict, stop: dict) -> None:
        job["_stop"] = dict(stop, sent=True)
        if self.jobs.update(job) and self.runner is not None:
            # A lost host gives no grace (engine.faults sets "grace": 0).
            grace = stop.get("grace")
            self.runner.stop(job["jobId"], job["_attempt"], self.stop_grace if grace is None else grace)

    # -- runner reports --------------------------------------------------------------------

    def report(self, job: dict, event: base.RunnerEvent, now: int) -> None:
        """Record a runner event about `job`: output to its attempt's log stream, RUNNING, EXITED."""
        if event.kind == base.LOG:
            task = (job.get("_tasks") or {}).get(str(event.attempt))
            if task and event.container:   # one container of a task: its own stream (engine.task_jobs)
                group, stream = (task.get("streams") or {}).get(event.container) or (None, None)
            elif task:
                group, stream = task["logGroup"], task["logStreamName"]
            if task and stream:
                self.logs.append(job["_account"], job["_region"], group, stream, event.lines, now)
            return
        if job.get("_attempt") != event.attempt or job["status"] not in (STARTING, RUNNING):
            return  # a late report about an attempt already recorded
        if event.kind == base.RUNNING and job["status"] == STARTING:
            self.kind.to_running(job, event.at_ms or now)
        elif event.kind == base.EXITED:
            if event.containers:   # a task's containers, for the kind's record (engine.task_jobs)
                job = dict(job, _results=[dataclasses.asdict(r) for r in event.containers])
            if event.node:         # the node a pod really ran on (engine.task_jobs: nodeName)
                job = dict(job, _node=event.node)
            self.finish(job, now, event.exit_code, event.reason, event.status_reason, event.oom)

    def finish(self, job: dict, now: int, exit_code, reason=None, status_reason=None,
               oom: bool = False) -> dict | None:
        """Record the attempt that just ended (ref §6.4) and move the job on: SUCCEEDED, back to
        RUNNABLE for a retry (ref §9), or FAILED. `exit_code` None: no container ran."""
        if job["status"] == STARTING and exit_code is not None:
            job = self.kind.to_running(job, now)
            if job is None:
                return None
        stop = job.get("_stop") or {}
        if stop.get("kind") == "timeout":
            status_reason = TIMED_OUT
        elif stop.get("kind") == "terminate":
            status_reason = stop["reason"]
        elif stop.get("kind") == HOST_LOST:
            # engine.faults: the capacity went away (Spot reclaim, lost instance); retried as any
            # failure (ref §9). An EC2 host that vanished reports no exit code (ref §6.5); a
            # Fargate Spot task is stopped, so its container's exit code stands.
            status_reason = stop["reason"]
            if stop.get("hostGone"):
                exit_code, reason, oom = None, None, False
        elif status_reason is None:
            status_reason = self.kind.status_reason(job, exit_code, reason, oom)
        reason = self.kind.exit_reason(reason, oom)
        # EKS jobs list their attempts in eksAttempts (engine.task_jobs), every other kind in attempts.
        field = self.kind.attempts_field(job) if hasattr(self.kind, "attempts_field") else "attempts"
        attempts = list(job.get(field) or []) + [self.kind.record(job, exit_code, reason, status_reason, now)]
        common = {field: attempts, "statusReason": status_reason, "_stop": None}
        if exit_code == 0 and stop.get("kind") in (None, HOST_LOST):  # it finished before its host went
            return transition(self.jobs, job, SUCCEEDED, now, **self.kind.ended(job, exit_code, reason), **common)
        if stop.get("kind") == "terminate":
            return transition(self.jobs, job, FAILED, now, isTerminated=True,
                              **self.kind.ended(job, exit_code, reason), **common)
        # Timed-out attempts are not retried (ref §10); other failures follow the strategy (ref §9).
        if stop.get("kind") in (None, HOST_LOST) and retry.should_retry(job.get("retryStrategy"), job["_attempt"],
                                           *self.kind.retry_on(exit_code, reason), status_reason):
            return transition(self.jobs, job, RUNNABLE, now, startedAt=None, stoppedAt=None,
                              **self.kind.retried(job), **common)
        return transition(self.jobs, job, FAILED, now, **self.kind.ended(job, exit_code, reason), **common)

    # -- restart ---------------------------------------------------------------------------

    def recover(self, job: dict, found: base.Survivor | None, now: int) -> None:
        """After a restart, one attempt that should have a live container: start again one that
        left no trace (it never ran: the crash must not cost an attempt), re-attach one found
        running, record one that exited or was lost (retried per the strategy)."""
        status = job["status"]
        if status == SCHEDULED or (found is None and status == STARTING):
            if job.get("_stop") or self.runner is None:  # a stop asked before the restart; or --runner none
                self.finish(job, now, None, None, self.kind.lost_on_restart)
            else:
                log.info("%s %s attempt %s had not started before the restart; starting it",
                         self.kind.label, job["jobId"], job["_attempt"])
                self.kind.launch(job, now)
        elif found is None or found.lost:
            log.warning("%s %s attempt %s was lost in a restart", self.kind.label, job["jobId"], job["_attempt"])
            self.finish(job, now, None, None, self.kind.lost_on_restart)
        elif found.running:
            if status == STARTING:  # it started while the server was down
                job = self.kind.to_running(job, found.started_ms or now) or self.jobs.get(job["jobId"])
            self._resend_stop(job)
        else:
            self.finish(job, now, found.exit_code, None, None, found.oom)

    def _resend_stop(self, job: dict) -> None:
        """A terminate or timeout stop sent before the restart died half done: the previous
        process sent the stop signal, but its SIGKILL timer died with it, and a container that
        ignores SIGTERM (a shell as PID 1 does) would run on forever while the job says RUNNING.
        Mark the stop unsent so the first tick sends it again, grace period and all."""
        stop = job.get("_stop")
        if stop and stop.get("sent"):
            job["_stop"] = dict(stop, sent=False)
            if not self.jobs.update(job):
                log.warning("%s %s changed while its stop was being re-armed", self.kind.label, job["jobId"])
