"""Step Functions state machines running against batchemu's Batch (batchemu/stepfunctions.py):
submitJob and submitJob.sync tasks, Map, Retry/Catch, the execution history and StopExecution,
all through boto3 on one live server. Jobs run as host processes (the process runner), so
these take seconds; the Docker workflow is tests/e2e/test_stepfunctions_workflow.py."""

from __future__ import annotations

import json
import sys
import time

import pytest

from batchemu.testing import running_server
from tests.e2e.support import make_definition, make_queue, new_account, output, wait_status

ROLE = "arn:aws:iam::{account}:role/StatesRole"


@pytest.fixture(scope="module")
def server():
    with running_server(runner="process", stop_grace_seconds=1) as s:
        yield s


@pytest.fixture
def env(server):
    """(account, batch client, stepfunctions client) with a queue `q` and definitions `ok`
    (echo its parameter and env var), `fail` (exit 3) and `slow` (sleep 30)."""
    account = new_account()
    batch = server.client("batch", access_key=account)
    sfn = server.client("stepfunctions", access_key=account)
    make_queue(batch, "q", max_vcpus=4)
    make_definition(batch, "ok", ["sh", "-c", "echo item=Ref::item env=$STEP"], image="ignored:latest")
    make_definition(batch, "fail", ["sh", "-c", "echo failing; exit 3"], image="ignored:latest")
    make_definition(batch, "slow", ["sh", "-c", "sleep 30"], image="ignored:latest")
    return account, batch, sfn


def machine(sfn, account: str, states: dict, start: str) -> str:
    return sfn.create_state_machine(name=f"m{time.monotonic_ns()}", roleArn=ROLE.format(account=account),
                                    definition=json.dumps({"StartAt": start, "States": states}))["stateMachineArn"]


def run(sfn, arn: str, payload: dict | None = None, timeout: float = 30) -> tuple[dict, list]:
    """Start an execution, wait until it leaves RUNNING: (DescribeExecution, history events)."""
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload or {}))["executionArn"]
    return finish(sfn, execution, timeout)


def finish(sfn, execution: str, timeout: float = 30) -> tuple[dict, list]:
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert described["status"] != "RUNNING", f"execution still running after {timeout}s"
    return described, sfn.get_execution_history(executionArn=execution)["events"]


def task(resource: str, params: dict, **more) -> dict:
    return {"Type": "Task", "Resource": f"arn:aws:states:::batch:{resource}", "Parameters": params, **more}


def types(events: list) -> list:
    return [e["type"] for e in events]


def test_sync_task_waits_for_the_job_and_outputs_it_as_describe_jobs_shows_it(server, env):
    account, batch, sfn = env
    arn = machine(sfn, account, {"Run": task("submitJob.sync", {
        "JobName": "one", "JobQueue": "q", "JobDefinition": "ok", "Parameters": {"item.$": "$.item"},
        "ContainerOverrides": {"Environment": [{"Name": "STEP", "Value": "run"}]}}, End=True)}, "Run")
    described, events = run(sfn, arn, {"item": "a.png"})
    assert described["status"] == "SUCCEEDED"
    job = json.loads(described["output"])
    # Step Functions' casing of the DescribeJobs answer; map keys (Parameters) as written.
    assert job["Status"] == "SUCCEEDED" and job["JobName"] == "one"
    assert job["Parameters"] == {"item": "a.png"}
    assert job["Container"]["ExitCode"] == 0
    assert job["Attempts"][0]["Container"]["ExitCode"] == 0
    (real,) = batch.describe_jobs(jobs=[job["JobId"]])["jobs"]
    assert real["status"] == "SUCCEEDED" and real["stoppedAt"] == job["StoppedAt"]
    env_vars = {e["name"]: e["value"] for e in real["container"]["environment"]}
    assert env_vars["STEP"] == "run"
    assert env_vars["MANAGED_BY_AWS"] == "STARTED_BY_STEP_FUNCTIONS"  # what .sync adds on AWS
    assert output(server.emulator.store, account, real) == ["item=a.png env=run"]
    assert types(events) == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                             "TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]
    submitted = next(e for e in events if e["type"] == "TaskSubmitted")["taskSubmittedEventDetails"]
    assert submitted["resource"] == "submitJob.sync" and submitted["resourceType"] == "batch"
    assert json.loads(submitted["output"])["JobId"] == job["JobId"]
    scheduled = next(e for e in events if e["type"] == "TaskScheduled")["taskScheduledEventDetails"]
    assert json.loads(scheduled["parameters"])["Parameters"] == {"item": "a.png"}


def test_request_response_task_returns_the_submit_job_answer_at_once(env):
    account, batch, sfn = env
    arn = machine(sfn, account, {"Submit": task("submitJob", {
        "JobName": "bg", "JobQueue": "q", "JobDefinition": "slow"}, End=True)}, "Submit")
    described, events = run(sfn, arn, timeout=10)
    assert described["status"] == "SUCCEEDED"
    answer = json.loads(described["output"])
    # SubmitJob's answer in Step Functions' casing, with the HTTP metadata every request-response
    # optimized integration adds on AWS (see stepfunctions.http_metadata).
    assert set(answer) == {"JobArn", "JobId", "JobName", "SdkHttpMetadata", "SdkResponseMetadata"}
    assert answer["JobName"] == "bg" and answer["JobArn"].endswith(f":job/{answer['JobId']}")
    assert answer["SdkHttpMetadata"]["HttpStatusCode"] == 200
    request_id = answer["SdkResponseMetadata"]["RequestId"]
    assert answer["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"] == request_id
    assert answer["SdkHttpMetadata"]["AllHttpHeaders"]["x-amzn-RequestId"] == [request_id]
    assert describe_status(batch, answer["JobId"]) in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
    assert "TaskSubmitted" not in types(events)  # only integration patterns record it
    batch.terminate_job(jobId=answer["JobId"], reason="test over")


def describe_status(batch, job_id: str) -> str:
    return batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"]


def test_a_failed_job_fails_the_execution_with_states_task_failed_and_the_job_as_cause(env):
    account, batch, sfn = env
    arn = machine(sfn, account, {"Run": task("submitJob.sync", {
        "JobName": "bad", "JobQueue": "q", "JobDefinition": "fail"}, End=True)}, "Run")
    described, events = run(sfn, arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.TaskFailed"
    cause = json.loads(described["cause"])
    assert cause["Status"] == "FAILED" and cause["JobName"] == "bad"
    assert cause["StatusReason"] == "Essential container in task exited"
    assert cause["Attempts"][0]["Container"]["ExitCode"] == 3
    assert types(events)[-2:] == ["TaskFailed", "ExecutionFailed"]
    failed = events[-2]["taskFailedEventDetails"]
    assert failed["error"] == "States.TaskFailed" and json.loads(failed["cause"])["JobId"] == cause["JobId"]


def test_retry_then_catch_route_a_failing_job_to_the_fallback_state(env):
    account, batch, sfn = env
    arn = machine(sfn, account, {
        "Run": task("submitJob.sync", {"JobName": "bad", "JobQueue": "q", "JobDefinition": "fail"},
                    Retry=[{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                    Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Cleanup"}],
                    Next="Never"),
        "Never": {"Type": "Fail", "Error": "NotReached"},
        "Cleanup": task("submitJob.sync", {"JobName": "cleanup", "JobQueue": "q", "JobDefinition": "ok",
                                           "Parameters": {"item": "cleanup"}}, End=True)}, "Run")
    described, events = run(sfn, arn)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["JobName"] == "cleanup"
    # Two attempts of Run (the retry), each a job of its own that FAILED, then the Catch.
    failed = [json.loads(e["taskFailedEventDetails"]["cause"]) for e in events if e["type"] == "TaskFailed"]
    assert len(failed) == 2 and len({job["JobId"] for job in failed}) == 2
    assert all(describe_status(batch, job["JobId"]) == "FAILED" for job in failed)
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"] == "TaskStateEntered"]
    assert entered == ["Run", "Cleanup"]


def test_map_runs_one_sync_job_per_item(server, env):
    account, batch, sfn = env
    arn = machine(sfn, account, {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Job", "States": {
            "Job": task("submitJob.sync", {"JobName": "item", "JobQueue": "q", "JobDefinition": "ok",
                                           "Parameters": {"item.$": "$"}},
                        ResultSelector={"JobId.$": "$.JobId", "Status.$": "$.Status"}, End=True)}}}}, "Each")
    described, events = run(sfn, arn, {"items": ["x", "y", "z"]})
    assert described["status"] == "SUCCEEDED", described
    results = json.loads(described["output"])
    assert [r["Status"] for r in results] == ["SUCCEEDED"] * 3
    jobs = batch.describe_jobs(jobs=[r["JobId"] for r in results])["jobs"]
    assert sorted(output(server.emulator.store, account, j)[0] for j in jobs) == [
        "item=x env=", "item=y env=", "item=z env="]
    assert "MapStateStarted" in types(events) and "MapStateSucceeded" in types(events)
    assert types(events).count("TaskSucceeded") == 3


def test_stop_execution_terminates_the_running_job(env):
    account, batch, sfn = env
    arn = machine(sfn, account, {"Run": task("submitJob.sync", {
        "JobName": "long", "JobQueue": "q", "JobDefinition": "slow"}, End=True)}, "Run")
    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    deadline = time.monotonic() + 15
    job_id = None
    while job_id is None and time.monotonic() < deadline:
        for e in sfn.get_execution_history(executionArn=execution)["events"]:
            if e["type"] == "TaskSubmitted":
                job_id = json.loads(e["taskSubmittedEventDetails"]["output"])["JobId"]
        time.sleep(0.1)
    assert job_id, "the task never submitted its job"
    wait_status(batch, job_id, "RUNNING", timeout=15)
    sfn.stop_execution(executionArn=execution, error="Operator", cause="no longer needed")
    described, events = finish(sfn, execution)
    assert described["status"] == "ABORTED"
    assert types(events)[-1] == "ExecutionAborted"
    job = wait_status(batch, job_id, "FAILED", timeout=15)
    assert job["statusReason"] == "Step Functions execution stopped"


def test_a_batch_error_fails_the_task_with_the_batch_error_name(env):
    account, _, sfn = env
    arn = machine(sfn, account, {"Run": task("submitJob.sync", {
        "JobName": "x", "JobQueue": "no-such-queue", "JobDefinition": "ok"}, End=True)}, "Run")
    described, events = run(sfn, arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "Batch.ClientException"
    assert "no-such-queue" in described["cause"]
    assert types(events)[-2:] == ["TaskFailed", "ExecutionFailed"]



def test_other_integrations_reach_this_server_in_the_executions_account(server, env):
    """moto's SQS integration (like its Lambda, SNS, DynamoDB and aws-sdk:* ones) calls this
    server, signed for the account of the execution's role: the message lands in its queue."""
    account, batch, sfn = env
    sqs = server.client("sqs", access_key=account)
    queue_url = sqs.create_queue(QueueName="done")["QueueUrl"]
    arn = machine(sfn, account, {
        "Run": task("submitJob.sync", {"JobName": "one", "JobQueue": "q", "JobDefinition": "ok",
                                       "Parameters": {"item": "n"}},
                    ResultSelector={"JobId.$": "$.JobId", "Status.$": "$.Status"}, Next="Tell"),
        "Tell": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True,
                 "Parameters": {"QueueUrl": queue_url, "MessageBody.$": "$"}}}, "Run")
    described, events = run(sfn, arn)
    assert described["status"] == "SUCCEEDED", described
    (message,) = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)["Messages"]
    body = json.loads(message["Body"])
    assert body["Status"] == "SUCCEEDED" and describe_status(batch, body["JobId"]) == "SUCCEEDED"


def test_a_task_timeout_terminates_its_job(env):
    account, batch, sfn = env
    arn = machine(sfn, account, {"Run": task("submitJob.sync", {
        "JobName": "long", "JobQueue": "q", "JobDefinition": "slow"}, TimeoutSeconds=2, End=True)}, "Run")
    described, events = run(sfn, arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Timeout"
    assert "TaskTimedOut" in types(events)
    job_id = next(json.loads(e["taskSubmittedEventDetails"]["output"])["JobId"]
                  for e in events if e["type"] == "TaskSubmitted")
    job = wait_status(batch, job_id, "FAILED", timeout=15)
    assert job["statusReason"] == "Step Functions task timed out"


def test_a_failed_map_iteration_fails_the_map_and_stops_the_others_jobs(env):
    account, batch, sfn = env
    arn = machine(sfn, account, {"Each": {
        "Type": "Map", "ItemsPath": "$.definitions", "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Job", "States": {
            "Job": task("submitJob.sync", {"JobName": "item", "JobQueue": "q", "JobDefinition.$": "$"},
                        End=True)}}}}, "Each")
    described, events = run(sfn, arn, {"definitions": ["slow", "fail"]})
    assert described["status"] == "FAILED"
    assert described["error"] == "States.TaskFailed"
    assert "MapStateFailed" in types(events)
    submitted = [json.loads(e["taskSubmittedEventDetails"]["output"])["JobId"]
                 for e in events if e["type"] == "TaskSubmitted"]
    assert len(submitted) == 2
    jobs = {j["jobDefinition"].split("/")[-1].split(":")[0]: j["jobId"]
            for j in batch.describe_jobs(jobs=submitted)["jobs"]}
    slow = wait_status(batch, jobs["slow"], "FAILED", timeout=15)
    assert slow["statusReason"] == "Step Functions execution stopped"


def test_wait_for_task_token_resumes_when_the_job_sends_task_success(env):
    """`submitJob.waitForTaskToken`: the job gets the token and answers through the Step
    Functions API (from its container's environment: AWS_ENDPOINT_URL points here)."""
    account, batch, sfn = env
    send = ("import boto3, json, os; boto3.client('stepfunctions').send_task_success("
            "taskToken=os.environ['TASK_TOKEN'], output=json.dumps({'answer': os.environ['AWS_BATCH_JOB_ID']}))")
    make_definition(batch, "callback", [sys.executable, "-c", send], image="ignored:latest")
    arn = machine(sfn, account, {"Run": task("submitJob.waitForTaskToken", {
        "JobName": "cb", "JobQueue": "q", "JobDefinition": "callback",
        "ContainerOverrides": {"Environment": [{"Name": "TASK_TOKEN", "Value.$": "$$.Task.Token"}]}},
        End=True)}, "Run")
    described, events = run(sfn, arn)
    assert described["status"] == "SUCCEEDED", described
    job_id = json.loads(next(e for e in events if e["type"] == "TaskSubmitted")
                        ["taskSubmittedEventDetails"]["output"])["JobId"]
    assert json.loads(described["output"]) == {"answer": job_id}
