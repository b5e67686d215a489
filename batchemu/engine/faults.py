"""Failure injection (README "Failure injection"): the failures users must test their retry rules
against, as instructions to the engine.

- reclaim Spot capacity: every running attempt on a SPOT or FARGATE_SPOT compute environment
  (or one CE's, or one job's) ends as AWS ends it: EC2 Spot with `Host EC2 (instance i-...)
  terminated.` and no exit code (ref §6.5), Fargate Spot with ECS's interruption reason and
  the exit code of its stopped container;
- lose a simulated instance (engine.instances) of an EC2/SPOT/UNMANAGED compute environment:
  every attempt on it ends with the same host-terminated reason, at once; a multi-node job's node
  on it ends so, and so does its job's attempt (its other nodes are stopped with it);
- make pulls of a named image fail with CannotPullContainerError (Docker's wording).

A request thread only posts an instruction (`post`) and waits for its answer; the scheduler's
tick applies it (`apply`): it marks the chosen attempts with a stop of kind
attempts.HOST_LOST, which engine.attempts sends to the runner and records when the runner
reports the end, through the one attempt lifecycle (retried by retryStrategy/evaluateOnExit as
any failure, ref §9). Nothing here calls a runner or writes a job's status. Scoped to the
caller's account and region. In memory: a restart forgets injected pull failures.
"""

from __future__ import annotations

import collections
import threading
from concurrent.futures import Future

from batchemu.context import RequestContext
from batchemu.engine import attempts
from batchemu.engine.instances import FARGATE_TYPES, Instances
from batchemu.engine.world import World
from batchemu.store.nodes import Nodes
from batchemu.vocabulary import arns
from batchemu.vocabulary.job_states import RUNNING, STARTING

BUSY = (STARTING, RUNNING)
SPOT_TYPES = ("SPOT", "FARGATE_SPOT")
HOST_TERMINATED = "Host EC2 (instance {}) terminated."   # ref §6.5 (matched by "Host EC2*")
# ECS's stoppedReason of a Fargate Spot task it takes back (ECS developer guide, "Fargate
# capacity providers": "Your Spot Task was interrupted.").
FARGATE_SPOT_INTERRUPTED = "Your Spot Task was interrupted."
# What Docker answers when an image cannot be pulled, as ECS/Batch put it in container.reason
# (ref §6.5: "begins CannotPullContainerError: ...").
PULL_DENIED = ("CannotPullContainerError: Error response from daemon: pull access denied for {}, "
               "repository does not exist or may require 'docker login': denied: requested access "
               "to the resource is denied")


class FaultError(Exception):
    """A fault that names what does not exist or cannot be hit (a 400 for the caller)."""


def image_key(image: str) -> str:
    """`busybox` and `busybox:latest` are one image (Docker's default tag)."""
    last = image.rsplit("/", 1)[-1]
    return image if (":" in last or "@" in image) else image + ":latest"


def repository(image: str) -> str:
    image = image.split("@", 1)[0]
    head, _, last = image.rpartition("/")
    return (head + "/" if head else "") + last.split(":", 1)[0]


class Faults:
    def __init__(self, store, jobs):
        self.store = store
        self.jobs = jobs
        self.nodes = Nodes(store)   # multi-node jobs' nodes: rows of the same table, their own kind
        self.instances = Instances(jobs)
        store.job_observers.append(self.instances.observe)
        self._lock = threading.Lock()
        self._pending = collections.deque()     # (ctx, kind, args, Future)
        self._pulls: dict[tuple, str] = {}      # (account, image key) -> reason

    # -- request threads ---------------------------------------------------------------------

    def post(self, ctx: RequestContext, kind: str, **args) -> Future:
        """Queue "reclaim-spot" or "lose-instance" for the next tick; the Future holds its answer."""
        future = Future()
        self._pending.append((ctx, kind, args, future))
        return future

    def fail_pulls(self, ctx: RequestContext, image: str) -> dict:
        reason = PULL_DENIED.format(repository(image))
        with self._lock:
            self._pulls[(ctx.account, image_key(image))] = reason
        return {"image": image, "reason": reason}

    def clear_pulls(self, ctx: RequestContext, image: str | None = None) -> list:
        with self._lock:
            gone = [k for k in self._pulls if k[0] == ctx.account and (image is None or k[1] == image_key(image))]
            for key in gone:
                del self._pulls[key]
        return [k[1] for k in gone]

    def failing_pulls(self, ctx: RequestContext) -> list:
        with self._lock:
            return [{"image": k[1], "reason": r} for k, r in sorted(self._pulls.items()) if k[0] == ctx.account]

    # -- the engine --------------------------------------------------------------------------

    def pull_failure(self, account: str, image: str) -> str | None:
        """The CannotPullContainerError an attempt of this image ends with, or None."""
        with self._lock:
            return self._pulls.get((account, image_key(image)))

    def apply(self, now: int) -> bool:
        """Apply the instructions posted since the last tick; True when one marked a job."""
        marked = False
        while self._pending:
            ctx, kind, args, future = self._pending.popleft()
            try:
                do = self._reclaim_spot if kind == "reclaim-spot" else self._lose_instance
                result = do(ctx, World(self.store, now), **args)
            except FaultError as exc:
                future.set_exception(exc)
                continue
            except Exception as exc:  # a bug: the caller gets a 500, the engine goes on
                future.set_exception(exc)
                raise
            marked |= bool(result.get("jobs"))
            future.set_result(result)
        return marked

    def _reclaim_spot(self, ctx: RequestContext, world: World, computeEnvironment=None, jobId=None) -> dict:
        if jobId is not None:
            job = self._busy_job(ctx, jobId)
            ce = world.ces.get(job["_ce"]) or {}
            if _type(ce) not in SPOT_TYPES:
                raise FaultError(f"job {jobId} runs on compute environment {job.get('_ceName')} of type "
                                 f"{_type(ce) or 'UNMANAGED'}; only SPOT and FARGATE_SPOT capacity can be reclaimed")
            targets = [job]
        elif computeEnvironment is not None:
            ce = self._ce(ctx, world, computeEnvironment)
            if _type(ce) not in SPOT_TYPES:
                raise FaultError(f"computeEnvironment {computeEnvironment} is of type {_type(ce) or 'UNMANAGED'}; "
                                 "only SPOT and FARGATE_SPOT capacity can be reclaimed")
            targets = [j for j in self._busy(ctx) if j.get("_ce") == ce["computeEnvironmentArn"]]
        else:
            spot = {arn for arn, ce in world.ces.items() if _type(ce) in SPOT_TYPES}
            targets = [j for j in self._busy(ctx) if j.get("_ce") in spot]
        ended = []
        for job in targets:
            fargate = _type(world.ces.get(job["_ce"]) or {}) in FARGATE_TYPES
            instance = _instance_of(job)
            reason = FARGATE_SPOT_INTERRUPTED if fargate else HOST_TERMINATED.format(instance)
            # Spot gives notice: ECS stops the containers with the usual grace (--stop-grace-seconds);
            # an EC2 host then goes with no exit code, a Fargate task reports its container's.
            ended += self._end(job, reason, None, instance, host_gone=not fargate)
        for entry in ended:
            if entry.get("instanceId"):
                self.instances.forget(entry["instanceId"])  # the whole instance is taken back
        return {"jobs": ended}

    def _lose_instance(self, ctx: RequestContext, world: World, computeEnvironment=None, instanceId=None,
                       jobId=None) -> dict:
        busy = self._busy(ctx)
        if jobId is not None:
            job = self._busy_job(ctx, jobId)
            if job.get("nodeProperties") and job.get("nodeDetails") is None:   # a multi-node job: its main node's host
                job = self.nodes.get(f"{job['jobId']}#{job['nodeProperties']['mainNode']}") or job
            instanceId = _instance_of(job)
            if instanceId is None:
                raise FaultError(f"job {jobId} runs on Fargate, which has no instances to lose; use "
                                 "reclaim-spot (FARGATE_SPOT) or TerminateJob")
        elif instanceId is None:
            if computeEnvironment is None:
                raise FaultError("lose-instance needs computeEnvironment, instanceId or jobId")
            ce = self._ce(ctx, world, computeEnvironment)
            if _type(ce) in FARGATE_TYPES:
                raise FaultError(f"computeEnvironment {computeEnvironment} is a Fargate one, which has no "
                                 "instances to lose")
            held = self.instances.of_ce(ce["computeEnvironmentArn"])
            mine = {_instance_of(j) for j in busy}
            held = [i for i in held if i in mine]
            if not held:
                raise FaultError(f"computeEnvironment {computeEnvironment} has no instance running a job")
            instanceId = held[0]
        targets = [j for j in busy if _instance_of(j) == instanceId]
        if not targets:
            raise FaultError(f"instanceId {instanceId} is not an instance running a job of this account")
        ended = []
        reason = HOST_TERMINATED.format(instanceId)
        for job in targets:  # the host is gone: no grace
            ended += self._end(job, reason, 0, instanceId, host_gone=True)
            if job.get("nodeDetails") is not None:
                # A node's host went: the whole job's attempt ends with that reason (its other
                # nodes are stopped with it) and its retryStrategy decides (ref §9, §12: the
                # job's attempt is one gang; a node's own end decides nothing).
                parent = self.jobs.get(job["_parent"])
                if parent is not None and parent["status"] in BUSY and parent["_attempt"] == job["_attempt"]:
                    ended += self._end(parent, reason, 0, None, host_gone=True)
        self.instances.forget(instanceId)
        return {"instanceId": instanceId, "jobs": ended}

    # -- helpers -----------------------------------------------------------------------------

    def _end(self, job: dict, reason: str, grace, instance_id, host_gone: bool) -> list:
        stop = {"kind": attempts.HOST_LOST, "reason": reason, "hostGone": host_gone}
        if grace is not None:
            stop["grace"] = grace
        store = self.nodes if job.get("nodeDetails") is not None else self.jobs
        if not attempts.request_stop(store, job, stop, BUSY):
            return []  # already being stopped (terminated, timed out): that end stands
        entry = {"jobId": job["jobId"], "computeEnvironment": job.get("_ce"), "statusReason": reason}
        if instance_id:
            entry["instanceId"] = instance_id
        return [entry]

    def _busy(self, ctx: RequestContext) -> list:
        return [j for j in self.jobs.in_statuses(BUSY)
                if j.get("_account") == ctx.account and j.get("_region") == ctx.region]

    def _busy_job(self, ctx: RequestContext, job_id: str) -> dict:
        found = self.jobs.get_many(ctx.account, ctx.region, [job_id])
        if not found:
            raise FaultError(f"jobId {job_id} does not exist")
        if found[0]["status"] not in BUSY:
            raise FaultError(f"job {job_id} is {found[0]['status']}: only a STARTING or RUNNING attempt "
                             "can lose its host")
        return found[0]

    def _ce(self, ctx: RequestContext, world: World, ident: str) -> dict:
        name = arns.key_of(ctx, arns.COMPUTE_ENVIRONMENT, ident)
        ce = world.ces.get(arns.make(ctx, arns.COMPUTE_ENVIRONMENT, name)) if name else None
        if ce is None:
            raise FaultError(f"computeEnvironment {ident} does not exist")
        return ce


def _type(ce: dict) -> str | None:
    return (ce.get("computeResources") or {}).get("type")


def _instance_of(job: dict) -> str | None:
    return ((job.get("_tasks") or {}).get(str(job.get("_attempt"))) or {}).get("instanceId")
