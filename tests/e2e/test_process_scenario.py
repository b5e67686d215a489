"""The process runner end to end, for machines without Docker: a job submitted through boto3
runs `sh -c 'echo hi'` as a host process and ends SUCCEEDED with its output stored."""

from __future__ import annotations

from batchemu.testing import running_server
from tests.e2e.support import make_definition, make_queue, new_account, output, wait_done


def test_process_runner_runs_a_job():
    with running_server(runner="process", stop_grace_seconds=2) as server:
        account = new_account()
        batch = server.client("batch", access_key=account)
        make_queue(batch, "q", max_vcpus=2)
        make_definition(batch, "hi", ["sh", "-c", "echo hi $AWS_BATCH_JOB_ATTEMPT"], image="ignored:latest")
        job_id = batch.submit_job(jobName="hi", jobQueue="q", jobDefinition="hi")["jobId"]
        job = wait_done(batch, job_id, timeout=30)
        assert job["status"] == "SUCCEEDED", job.get("statusReason")
        assert job["container"]["exitCode"] == 0
        assert output(server.emulator.store, account, job) == ["hi 1"]
