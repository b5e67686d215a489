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


def test_process_runner_runs_a_multi_node_job_on_the_hosts_address():
    with running_server(runner="process", stop_grace_seconds=2) as server:
        account = new_account()
        batch = server.client("batch", access_key=account)
        make_queue(batch, "q", max_vcpus=2)
        node = {"image": "ignored:latest", "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                                    {"type": "MEMORY", "value": "64"}]}
        batch.register_job_definition(jobDefinitionName="mnp", type="multinode", nodeProperties={
            "numNodes": 2, "mainNode": 0, "nodeRangeProperties": [
                {"targetNodes": "0", "container": dict(node, command=["sh", "-c", "sleep 1; echo main"])},
                {"targetNodes": "1:", "container": dict(node, command=[
                    "sh", "-c", "echo $AWS_BATCH_JOB_NODE_INDEX to=$AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"])}]})
        job_id = batch.submit_job(jobName="mnp", jobQueue="q", jobDefinition="mnp")["jobId"]
        assert wait_done(batch, job_id, timeout=30)["status"] == "SUCCEEDED"
        worker = wait_done(batch, f"{job_id}#1", timeout=30)
        assert output(server.emulator.store, account, worker) == ["1 to=127.0.0.1"]
