"""Service jobs in the engine (ref §13.3): SageMaker training jobs queued on SAGEMAKER_TRAINING
job queues go SUBMITTED -> RUNNABLE -> SCHEDULED -> STARTING -> RUNNING -> SUCCEEDED | FAILED.
Capacity is the queue's service environment's capacityLimits, in instances (the request's
ResourceConfig.InstanceCount). The training image runs as SageMaker runs it (engine.training).

Driven by Scheduler.tick(), which also routes runner events for service-job ids here. Every
status write goes through engine.states.transition (the one table, service jobs' column).
Must not touch container jobs.
"""

from __future__ import annotations

import logging

from batchemu.engine import attempts, placement, quota, service_placement, training
# The service-job vocabulary batch/ reads from here (capacity units, what holds capacity).
from batchemu.engine.service_placement import BUSY
from batchemu.engine.states import (FAILED, PENDING, RUNNABLE, RUNNING, SCHEDULED, STARTING,
                                    SUBMITTED, transition)
from batchemu.engine.world import World
from batchemu.runners import base
from batchemu.store.logs import LogTables
from batchemu.store.service_jobs import ServiceJobs
from batchemu.vocabulary.reasons import (FROM_SAGEMAKER, QUEUE_DELETED,
                                         SERVICE_LOST_ON_RESTART as LOST_ON_RESTART,
                                         SERVICE_TIME_LIMIT as TIME_LIMIT)

log = logging.getLogger("batchemu.scheduler")

PRE_START = (SUBMITTED, PENDING, RUNNABLE)


class ServiceScheduler:
    """Advances and places service jobs; their attempts' lifecycle is engine.attempts', this is
    its Launcher (a training job handed to "SageMaker")."""

    label = "service job"
    timeout_field = "timeoutConfig"
    lost_on_restart = FROM_SAGEMAKER.format(LOST_ON_RESTART)

    def __init__(self, store, runner, clock, logs, stop_grace_seconds: float = 30.0, extra_env=None,
                 work_root=None, time_scale: float = 1.0):
        self.store = store
        self.clock = clock
        self.jobs = ServiceJobs(store)
        self.runner = runner
        self.logs = logs
        self.extra_env = extra_env or (lambda job: {})
        self.training = training.Workspace(store, work_root)
        self.attempts = attempts.Attempts(self, runner, logs, stop_grace_seconds, time_scale)

    # -- one pass of the scheduler's tick --------------------------------------------------

    def tick(self, deadlines: list) -> bool:
        # The clock is read after each snapshot of the jobs (as Scheduler.tick does): a job
        # submitted meanwhile is never scheduledAt before its createdAt.
        active = self.jobs.active()
        if not active:
            return False  # nothing to advance or place; this runs on every Batch tick (bench/)
        now = self.clock()
        world = World(self.store, now)
        if world.next_settle is not None:
            deadlines.append(world.next_settle)
        changed = False
        for job in active:
            try:
                changed |= self._advance(job, world, now, deadlines)
            except Exception:  # one broken job must not stall the others
                log.exception("could not advance service job %s", job["jobId"])
        active = self.jobs.active()
        return self._place(active, world, self.clock(), deadlines) or changed

    def _advance(self, job: dict, world: World, now: int, deadlines: list) -> bool:
        status = job["status"]
        gone = QUEUE_DELETED if world.queue(job["jobQueue"]) is None else None
        if gone is None and job.get("quotaShareName") \
                and job["quotaShareName"] not in world.shares.get(job["jobQueue"], {}):
            gone = quota.SHARE_GONE  # "All jobs in the share are eventually terminated" (ref §13.4)
        if gone and status in PRE_START:
            return bool(transition(self.jobs, job, FAILED, now, statusReason=gone, isTerminated=True))
        if gone and not job.get("_stop"):
            return self.request_stop(job, {"kind": "terminate", "reason": gone})  # sent on the next pass
        if status == SUBMITTED:
            return bool(transition(self.jobs, job, RUNNABLE, now))
        if status in (STARTING, RUNNING):
            self.attempts.supervise(job, now, deadlines)
        return False

    def _place(self, active: list, world: World, now: int, deadlines: list) -> bool:
        """Decide from a snapshot (engine.service_placement.decide, pure), apply the plan in one
        transaction, then hand the launches to the runner."""
        if self.runner is None:
            return False  # nothing runs: service jobs wait in RUNNABLE, like container jobs
        plan = service_placement.decide(world, active, now, self.attempts.time_scale)
        deadlines.extend(plan.deadlines)
        if not plan.steps:
            return False
        changed, begun = placement.apply(
            self.store, self.jobs, plan, now,
            end=lambda job, why: transition(self.jobs, job, FAILED, now, isTerminated=True,
                                            statusReason=TIME_LIMIT.format(why)),
            begin=lambda job, where: self._schedule(job, *where, now))
        for job in begun:
            self.launch(job, now)
        return changed

    def _schedule(self, job: dict, environment: dict, unit: str, now: int) -> dict | None:
        """RUNNABLE -> SCHEDULED (handed to "SageMaker": a training job with its own ARN); `launch`
        makes it STARTING while the runner pulls and starts the training image."""
        attempt = job["_attempt"] + 1
        name = training.job_name(job, attempt)
        resource = {"name": "TrainingJobArn", "value": training.job_arn(job, name)}
        task = {"trainingJobName": name, "serviceResourceId": resource,
                "logGroup": training.LOG_GROUP, "logStreamName": training.log_stream(name, now)}
        tasks = dict(job.get("_tasks") or {}, **{str(attempt): task})
        new = transition(self.jobs, job, SCHEDULED, now, _attempt=attempt, _tasks=tasks, scheduledAt=now,
                         _environment=environment["serviceEnvironmentArn"], _unit=unit, statusReason=None,
                         _blocked=None, latestAttempt={"serviceResourceId": resource})
        return new

    def launch(self, job: dict, now: int) -> None:
        """A SCHEDULED (or, after a restart, STARTING) attempt: STARTING, and to the runner."""
        task = job["_tasks"][str(job["_attempt"])]
        try:
            spec = self.training.launch_spec(job, task, self.runner, self.extra_env(job))
        except training.Rejected as exc:  # what SageMaker's CreateTrainingJob would refuse
            self.attempts.finish(job, now, None, status_reason=FROM_SAGEMAKER.format(exc))
            return
        if job["status"] == STARTING:
            started = job
        else:
            with self.store.transaction():  # STARTING with its log stream listed, as container jobs are
                started = transition(self.jobs, job, STARTING, now)
                if started is not None:
                    self._register_stream(started, task, now)
        if started is None:
            return
        try:
            self.runner.start(spec)
        except Exception as exc:
            log.exception("runner refused service job %s", job["jobId"])
            self.attempts.finish(started, now, None, reason=f"CannotStartContainerError: {exc}")

    def _register_stream(self, job: dict, task: dict, now: int) -> None:
        """The attempt's group and stream exist in CloudWatch Logs from STARTING on (DescribeLogStreams,
        GetLogEvents), before the training container prints anything."""
        tables = LogTables(self.store)
        tables.create_group(job["_account"], job["_region"], task["logGroup"], now)
        tables.create_stream(job["_account"], job["_region"], task["logGroup"], task["logStreamName"], now,
                             job_id=job["jobId"], attempt=job["_attempt"])

    # -- runner events ---------------------------------------------------------------------

    def apply(self, event: base.RunnerEvent, now: int) -> None:
        job = self.jobs.get(event.job_id)
        if job is not None:
            self.attempts.report(job, event, now)

    # -- engine.attempts.Launcher ----------------------------------------------------------

    def to_running(self, job: dict, at: int) -> dict | None:
        return transition(self.jobs, job, RUNNING, at, startedAt=at)

    def exit_reason(self, reason, oom: bool):
        return reason

    def status_reason(self, job: dict, exit_code, reason, oom: bool) -> str:
        return FROM_SAGEMAKER.format(
            self.training.failure_reason(job, exit_code, reason, oom) if exit_code != 0 else "Completed")

    def record(self, job: dict, exit_code, reason, status_reason: str, now: int) -> dict:
        task = job["_tasks"][str(job["_attempt"])]
        record = {"serviceResourceId": task["serviceResourceId"], "startedAt": job.get("startedAt"),
                  "stoppedAt": now, "statusReason": status_reason}
        return {k: v for k, v in record.items() if v is not None}

    def ended(self, job: dict, exit_code, reason) -> dict:
        return {}

    def retried(self, job: dict) -> dict:
        return {}

    def retry_on(self, exit_code, reason) -> tuple:
        return None, None  # no container exit code nor reason: evaluateOnExit matches statusReason

    # -- stop requests ---------------------------------------------------------------------

    def request_stop(self, job: dict, stop: dict) -> bool:
        """Mark a SCHEDULED/STARTING/RUNNING job to be stopped (the next tick tells the runner)."""
        return attempts.request_stop(self.jobs, job, stop, BUSY)

    # -- restart ---------------------------------------------------------------------------

    def busy(self) -> dict:
        """job id -> attempt of every service job that should have a live container."""
        return {j["jobId"]: j["_attempt"] for j in self.jobs.active() if j["status"] in BUSY}

    def recover(self, survivors: dict, now: int) -> None:
        """After a restart (engine.attempts.recover): SCHEDULED, or STARTING without a container,
        never ran and starts again; others are re-attached or recorded."""
        for job_id in self.busy():
            self.attempts.recover(self.jobs.get(job_id), survivors.get(job_id), now)
