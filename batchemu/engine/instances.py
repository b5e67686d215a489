"""Simulated EC2 instances of compute environments, so an attempt carries a container-instance
ARN and an instance id that stay the same for every job placed on the same instance, and a
fault (engine.faults) can take one instance away with everything on it.

The model is deliberately simple: an EC2, SPOT or UNMANAGED compute environment is a row of
instances of INSTANCE_VCPUS vCPUs each (a job needing more gets an instance of its own size); a
job goes to the first instance of its CE with room, else to a new one. Fargate has no
instances: each Fargate job is its own task (AWS shows no containerInstanceArn there).

In memory only: the index is rebuilt from the STARTING/RUNNING jobs' `_tasks` after a restart
(their instance ids are stored there). An instance is freed when its last job leaves
STARTING/RUNNING (a store.job_observers entry). Decides nothing about where a job runs
(engine.placement does) and writes no job.
"""

from __future__ import annotations

import itertools
import threading
import uuid

from batchemu.vocabulary.job_states import RUNNING, STARTING

INSTANCE_VCPUS = 4.0   # a c5.xlarge-sized simulated instance
FARGATE_TYPES = ("FARGATE", "FARGATE_SPOT")
BUSY = (STARTING, RUNNING)


def is_fargate(ce: dict) -> bool:
    return (ce.get("computeResources") or {}).get("type") in FARGATE_TYPES


def cluster_name(ce: dict) -> str:
    return (ce.get("ecsClusterArn") or ce["computeEnvironmentName"]).rsplit("/", 1)[-1]


class Instance:
    def __init__(self, instance_id: str, arn: str, ce_arn: str, vcpus: float, order: int):
        self.id, self.arn, self.ce_arn, self.vcpus, self.order = instance_id, arn, ce_arn, vcpus, order
        self.jobs: dict[str, float] = {}  # job id -> vCPUs it holds
        self.alone = False                # a multi-node job's node's: nothing else goes there

    def free(self) -> float:
        return self.vcpus - sum(self.jobs.values())


class Instances:
    def __init__(self, jobs):
        self._jobs = jobs            # store.jobs.Jobs: read once, to rebuild after a restart
        self._lock = threading.Lock()
        self._by_id: dict[str, Instance] = {}
        self._of_job: dict[str, Instance] = {}
        self._order = itertools.count()
        self._loaded = False

    def place(self, job: dict, ce: dict, alone: bool = False) -> dict:
        """{"instanceId", "containerInstanceArn"} of the instance `job` now runs on; {} on Fargate.
        `alone`: an instance of its own, that nothing else is placed on (a multi-node job's node)."""
        if is_fargate(ce):
            return {}
        need = float(job["_need"]["vcpus"])
        with self._lock:
            self._load()
            self._release(job["jobId"])
            ce_arn = ce["computeEnvironmentArn"]
            fits = [i for i in self._by_id.values() if i.ce_arn == ce_arn and i.free() + 1e-9 >= need
                    and not i.alone]
            if alone:
                instance = self._new(job, ce, max(need, INSTANCE_VCPUS))
                instance.alone = True
            else:
                instance = min(fits, key=lambda i: i.order) if fits else self._new(job, ce, max(need, INSTANCE_VCPUS))
            instance.jobs[job["jobId"]] = need
            self._of_job[job["jobId"]] = instance
            return {"instanceId": instance.id, "containerInstanceArn": instance.arn}

    def release(self, job_id: str) -> None:
        with self._lock:
            self._release(job_id)

    def observe(self, doc: dict, old_status: str) -> None:
        """store.job_observers entry: a job that left STARTING/RUNNING frees its share."""
        if doc["status"] not in BUSY and old_status in BUSY:
            self.release(doc["jobId"])

    def forget(self, instance_id: str) -> None:
        """The instance is gone (a fault): nothing is placed on it again."""
        with self._lock:
            instance = self._by_id.pop(instance_id, None)
            for job_id in list(instance.jobs) if instance else []:
                self._of_job.pop(job_id, None)

    def of_ce(self, ce_arn: str) -> list[str]:
        """Ids of the CE's instances that hold jobs, oldest first."""
        with self._lock:
            self._load()
            found = sorted((i for i in self._by_id.values() if i.ce_arn == ce_arn and i.jobs),
                           key=lambda i: i.order)
            return [i.id for i in found]

    # -- inside the lock ---------------------------------------------------------------------

    def _new(self, job: dict, ce: dict, vcpus: float) -> Instance:
        instance_id = "i-" + uuid.uuid4().hex[:17]  # EC2's i- plus 17 hex digits
        arn = (f"arn:aws:ecs:{job['_region']}:{job['_account']}:container-instance/"
               f"{cluster_name(ce)}/{uuid.uuid4().hex}")
        instance = Instance(instance_id, arn, ce["computeEnvironmentArn"], vcpus, next(self._order))
        self._by_id[instance_id] = instance
        return instance

    def _release(self, job_id: str) -> None:
        instance = self._of_job.pop(job_id, None)
        if instance is None:
            return
        instance.jobs.pop(job_id, None)
        if not instance.jobs:  # an idle instance is scaled in
            self._by_id.pop(instance.id, None)

    def _load(self) -> None:
        """Once: the instances of the jobs that were running before a restart."""
        if self._loaded:
            return
        self._loaded = True
        for job in self._jobs.in_statuses(BUSY):
            task = (job.get("_tasks") or {}).get(str(job.get("_attempt"))) or {}
            instance_id = task.get("instanceId")
            if not instance_id or not job.get("_ce"):
                continue
            instance = self._by_id.get(instance_id)
            need = float(job["_need"]["vcpus"])
            if instance is None:
                instance = Instance(instance_id, task["containerInstanceArn"], job["_ce"],
                                    INSTANCE_VCPUS, next(self._order))
                self._by_id[instance_id] = instance
            instance.vcpus = max(instance.vcpus, sum(instance.jobs.values()) + need)
            instance.jobs[job["jobId"]] = need
            self._of_job[job["jobId"]] = instance
