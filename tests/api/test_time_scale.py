"""--time-scale N (README "Time scale"): the waits batchemu imposes are divided by N (settle
times of CREATING/UPDATING/DELETING resources, jobStateTimeLimitActions, attempt timeouts: see
tests/e2e/test_faults.py), while every timestamp stays real clock time."""

from __future__ import annotations

import time

import pytest

from batchemu import cli
from batchemu.config import Config
from batchemu.emulator import Emulator
from batchemu.testing import running_server
from tests.e2e.support import CE_RESOURCES, new_account, wait_until


def test_settle_times_are_divided():
    with running_server(settle_seconds=60, time_scale=60) as server:
        batch = server.client("batch", access_key=new_account())
        started = time.time()
        batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED",
                                         computeResources=dict(CE_RESOURCES, maxvCpus=4))
        (ce,) = batch.describe_compute_environments()["computeEnvironments"]
        assert ce["status"] == "CREATING"
        wait_until(lambda: batch.describe_compute_environments()["computeEnvironments"][0]["status"] == "VALID",
                   10, "the CE to settle")
        assert time.time() - started < 5


def test_job_state_time_limits_are_divided():
    """A 600 s jobStateTimeLimitActions cancels a job that can never fit in about 1 s at time
    scale 600; its timestamps are real clock time."""
    with running_server(runner="process", time_scale=600) as server:
        batch = server.client("batch", access_key=new_account())
        batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED",
                                         computeResources=dict(CE_RESOURCES, maxvCpus=1))
        reason = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
        batch.create_job_queue(jobQueueName="q", priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}],
                               jobStateTimeLimitActions=[{"reason": reason, "state": "RUNNABLE",
                                                          "maxTimeSeconds": 600, "action": "CANCEL"}])
        batch.register_job_definition(jobDefinitionName="big", type="container", containerProperties={
            "image": "busybox", "command": ["true"],
            "resourceRequirements": [{"type": "VCPU", "value": "4"}, {"type": "MEMORY", "value": "64"}]})
        before = int(time.time() * 1000)
        job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="big")["jobId"]
        job = wait_until(lambda: [j for j in batch.describe_jobs(jobs=[job_id])["jobs"] if j["status"] == "FAILED"],
                         10, "the time limit")[0]
        assert job["statusReason"] == f"Canceled by JobStateTimeLimit action due to reason: {reason}"
        assert before - 1000 <= job["createdAt"] <= job["stoppedAt"] <= int(time.time() * 1000)
        assert 500 <= job["stoppedAt"] - job["createdAt"] < 5000


def test_cli_and_environment_set_it():
    assert cli.config_from_args(cli.parse_args(["--time-scale", "60"])).time_scale == 60.0
    assert Config.from_env({"BATCHEMU_TIME_SCALE": "10"}).time_scale == 10.0
    assert Config().time_scale == 1.0


@pytest.mark.parametrize("scale", [0, -1, float("nan")])
def test_a_scale_that_is_not_above_zero_is_refused(scale):
    with pytest.raises(ValueError, match="--time-scale must be a number above 0"):
        Emulator(Config(ephemeral=True, runner="none", time_scale=scale))
