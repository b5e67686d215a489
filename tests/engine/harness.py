"""A Batch backend + scheduler on an in-memory store with a manual clock and a scripted runner:
scheduler tests drive `tick()` themselves. No threads, no sleeps, no Docker."""

from __future__ import annotations

import itertools
import json

from batchemu.batch.backend import Backend
from batchemu.batch.provider import BatchProvider
from batchemu.config import Config
from batchemu.context import RequestContext
from batchemu.engine.scheduler import Scheduler
from batchemu.runners.scripted import ScriptedRunner
from batchemu.store import Store
from batchemu.store.jobs import Jobs
from batchemu.wire import restjson, spec

ACCOUNT, REGION = "123456789012", "us-east-1"


class Harness:
    def __init__(self, gpus: int = 0, runner=True):
        self.now = 1_700_000_000_000
        self.store = Store()
        self.runner = ScriptedRunner(self.clock, gpus=gpus) if runner else None
        self.scheduler = Scheduler(self.store, self.runner, self.clock, stop_grace_seconds=1)
        if self.runner:
            self.runner.set_listener(self.scheduler.post)
        self.backend = Backend(self.store, Config(ephemeral=True, runner="none"))
        self.spec = spec.load("batch")
        self.provider = BatchProvider(self.backend, self.spec)
        self.jobs = Jobs(self.store)
        self._ids = itertools.count()

    def restart(self) -> None:
        """What a server start after kill -9 sees: the same store, a new scheduler and a runner
        that knows nothing (its `survivors` say what it finds), recovery run."""
        survivors = self.runner.survivors
        self.runner = ScriptedRunner(self.clock, gpus=self.runner.gpus())
        self.runner.survivors = survivors
        self.scheduler = Scheduler(self.store, self.runner, self.clock, stop_grace_seconds=1)
        self.runner.set_listener(self.scheduler.post)
        self.scheduler.recover()

    def clock(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)

    def call(self, operation: str, **params) -> dict:
        """The operation's answer as a client reads it (serialized and parsed again, as on the wire)."""
        ctx = RequestContext(ACCOUNT, REGION, f"req-{next(self._ids)}", self.now)
        result = self.provider(ctx, operation, params)
        return json.loads(restjson.serialize(self.spec.model.operation_model(operation), result))

    def tick(self):
        return self.scheduler.tick()

    # -- setup shortcuts ---------------------------------------------------------------------

    def compute_environment(self, name="ce", max_vcpus=4, state="ENABLED"):
        self.call("CreateComputeEnvironment", computeEnvironmentName=name, type="MANAGED", state=state,
                  computeResources={"type": "EC2", "maxvCpus": max_vcpus, "subnets": ["subnet-1"],
                                    "securityGroupIds": ["sg-1"], "instanceRole": "ecsInstanceRole",
                                    "instanceTypes": ["optimal"]})
        return name

    def queue(self, name="q", ces=("ce",), priority=1, **extra):
        self.call("CreateJobQueue", jobQueueName=name, priority=priority,
                  computeEnvironmentOrder=[{"order": i + 1, "computeEnvironment": c} for i, c in enumerate(ces)],
                  **extra)
        return name

    def definition(self, name="jd", vcpus="1", memory="128", command=("true",), **extra):
        props = {"image": "busybox", "command": list(command),
                 "resourceRequirements": [{"type": "VCPU", "value": vcpus}, {"type": "MEMORY", "value": memory}]}
        props.update(extra.pop("container", {}))
        self.call("RegisterJobDefinition", jobDefinitionName=name, type="container",
                  containerProperties=props, **extra)
        return name

    def setup(self, max_vcpus=4):
        self.compute_environment(max_vcpus=max_vcpus)
        self.queue()
        self.definition()

    def submit(self, name="job", queue="q", definition="jd", **extra) -> str:
        return self.call("SubmitJob", jobName=name, jobQueue=queue, jobDefinition=definition, **extra)["jobId"]

    def job(self, job_id: str) -> dict:
        (doc,) = self.call("DescribeJobs", jobs=[job_id])["jobs"]
        return doc

    def status(self, job_id: str) -> str:
        return self.job(job_id)["status"]

    def run_to_end(self, job_id: str, code: int = 0) -> None:
        self.runner.run(job_id)
        self.tick()
        self.runner.exit(job_id, code)
        self.tick()
