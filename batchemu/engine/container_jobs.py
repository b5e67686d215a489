"""Container jobs' launcher (engine.attempts.Launcher): how one attempt of a SubmitJob job is
started on a compute environment (an ECS-like task ARN, its log stream, the runner's
LaunchSpec) and what it reports (container exit code and reason, ref §6.4/§6.5).

The lifecycle around an attempt (supervise, finish, retry, restart) is engine.attempts'; which
job starts where is engine.placement's. Must not touch service jobs.
"""

from __future__ import annotations

import logging
import uuid

from batchemu.engine import attempts, consumables, states
from batchemu.engine.launch import kept_place, launch_spec, log_names
from batchemu.vocabulary.reasons import CONTAINER_EXITED, FAILED_TO_START, LOST_ON_RESTART, OUT_OF_MEMORY

log = logging.getLogger("batchemu.scheduler")

# What an attempt added to `container` that the next attempt must not show.
_ATTEMPT_KEYS = ("exitCode", "reason", "logStreamName", "taskArn", "containerInstanceArn")


class ContainerJobs:
    label = "job"
    timeout_field = "timeout"
    lost_on_restart = LOST_ON_RESTART

    def __init__(self, store, jobs, runner, logs, stop_grace_seconds: float, extra_env, on_retry,
                 time_scale: float = 1.0, faults=None):
        self.store = store
        self.jobs = jobs
        self.runner = runner
        self.extra_env = extra_env
        self.on_retry = on_retry  # the scheduler's: a retried job's queue may be gone by now
        self.attempts = attempts.Attempts(self, runner, logs, stop_grace_seconds, time_scale)
        self.faults = faults  # engine.faults.Faults: simulated instances, injected pull failures

    def begin(self, job: dict, ce: dict, now: int) -> dict | None:
        """RUNNABLE -> STARTING on `ce` with its NON_REPLENISHABLE consumption, or None when the
        job changed since it was read; `launch` hands it to the runner after the commit."""
        attempt = job["_attempt"] + 1
        task_id = uuid.uuid4().hex
        cluster = (ce.get("ecsClusterArn") or ce["computeEnvironmentName"]).rsplit("/", 1)[-1]
        prefix = f"arn:aws:ecs:{job['_region']}:{job['_account']}"
        group, stream = log_names(job, task_id)
        # The simulated instance it lands on (engine.instances): jobs on one instance share its
        # container-instance ARN, and a fault names its id. Fargate tasks have none (ref §6.4).
        instance = self.faults.instances.place(job, ce) if self.faults else {}
        task = {"taskArn": f"{prefix}:task/{cluster}/{task_id}", "logGroup": group, "logStreamName": stream,
                **instance}
        if not self.faults:
            task["containerInstanceArn"] = (f"{prefix}:container-instance/{cluster}/"
                                            f"{(ce.get('uuid') or task_id).replace('-', '')}")
        tasks = dict(job.get("_tasks") or {})
        tasks[str(attempt)] = task
        container = _drop_none(dict(job["container"], taskArn=task["taskArn"],
                                    containerInstanceArn=task.get("containerInstanceArn")))
        return self.to_starting(job, now, _attempt=attempt, _tasks=tasks, _ce=ce["computeEnvironmentArn"],
                                _ceName=ce["computeEnvironmentName"], _place=kept_place(ce), container=container,
                                statusReason=None, _blocked=None, scheduledAt=now)

    def to_starting(self, job: dict, now: int, **changes) -> dict | None:
        """STARTING with `changes` and the job's NON_REPLENISHABLE consumption, or neither (a lost
        compare-and-set gives its simulated instance back)."""
        with self.store.transaction():
            new = states.transition(self.jobs, job, states.STARTING, now, **changes)
            if new is not None:
                consumables.consume(self.store, new)
        if new is None and self.faults:
            self.faults.instances.release(job["jobId"])
        return new

    # -- engine.attempts.Launcher ----------------------------------------------------------

    def launch(self, job: dict, now: int) -> None:
        """Hand a STARTING job's attempt to the runner."""
        start_container(self, job, now)

    def to_running(self, job: dict, at: int) -> dict | None:
        task = job["_tasks"][str(job["_attempt"])]
        container = dict(job["container"], logStreamName=task["logStreamName"])
        return states.transition(self.jobs, job, states.RUNNING, at, startedAt=at, container=container)

    def exit_reason(self, reason, oom: bool):
        return OUT_OF_MEMORY if oom and not reason else reason

    def status_reason(self, job: dict, exit_code, reason, oom: bool) -> str:
        return CONTAINER_EXITED

    def record(self, job: dict, exit_code, reason, status_reason: str, now: int) -> dict:
        task = job["_tasks"][str(job["_attempt"])]
        container = {"exitCode": exit_code, "reason": reason, "taskArn": task["taskArn"],
                     "containerInstanceArn": task.get("containerInstanceArn"), "networkInterfaces": []}
        if job["status"] == states.RUNNING:
            container["logStreamName"] = task["logStreamName"]
        return _drop_none({"container": _drop_none(container), "startedAt": job.get("startedAt"),
                           "stoppedAt": now, "statusReason": status_reason})

    def ended(self, job: dict, exit_code, reason) -> dict:
        return {"container": _drop_none(dict(job["container"], exitCode=exit_code, reason=reason))}

    def retried(self, job: dict) -> dict:
        self.on_retry()
        return {"container": {k: v for k, v in job["container"].items() if k not in _ATTEMPT_KEYS}, "_ce": None}

    def retry_on(self, exit_code, reason) -> tuple:
        return exit_code, reason


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def start_container(launcher, job: dict, now: int) -> None:
    """Hand one container attempt of `job` (a job, or a multi-node job's node) to
    `launcher.runner`, or end it through `launcher.attempts` as a start that failed: an injected
    pull failure (engine.faults) fails as Docker's pull would, a runner that refuses it as a
    container that could not start."""
    spec = launch_spec(job, job["_ceName"], launcher.extra_env(job))
    pull_failure = launcher.faults.pull_failure(job["_account"], spec.image) if launcher.faults else None
    if pull_failure:
        launcher.attempts.finish(job, now, None, pull_failure, FAILED_TO_START)
        return
    try:
        launcher.runner.start(spec)
    except Exception as exc:  # the runner could not even accept it
        log.exception("runner refused %s", job["jobId"])
        launcher.attempts.finish(job, now, None, f"CannotStartContainerError: {exc}", FAILED_TO_START)
