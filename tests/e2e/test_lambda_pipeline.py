"""End to end: the thumbnails pipeline through Lambda (examples/thumbnails-lambda) on a live
server with the Docker runner. The test uploads a manifest and nothing else: S3 invokes the
function (a container of batchemu's Lambda runtime image, scripts/build-lambda-image.sh), whose
plain boto3 calls SubmitJob on this server in the function's account; the array job makes the
thumbnails. The images are built when missing or stale (build failures fail the test in CI)."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import boto3
import pytest

from batchemu.testing import running_server
from tests import docker_support
from tests.e2e.support import new_account

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "thumbnails-lambda"
IMAGES = 3


def _load_example():
    spec = importlib.util.spec_from_file_location("thumbnails_lambda_run", EXAMPLE / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def images():
    docker_support.lambda_image()


@pytest.fixture(scope="module")
def run(images):
    example = _load_example()
    account = new_account()
    with running_server(runner="docker", job_network="host") as server:
        c = example.clients(server.url, "us-east-1", access_key=account, secret_key="test")
        p = example.thumbnails.setup(c, IMAGES, max_vcpus=2)
        function = example.deploy(c, p)
        example.upload_manifest(c, p)
        summary = example.submitted_job(c, p, timeout=180)
        job = example.thumbnails.wait(c, p.job_id, timeout=600)
        yield example, c, p, account, function, summary, job


def test_the_upload_alone_starts_one_array_job_submitted_by_the_function(run):
    example, c, p, account, function, summary, job = run
    listed = c["batch"].list_jobs(jobQueue=p.job_queue,
                                  filters=[{"name": "JOB_NAME", "values": ["*"]}])["jobSummaryList"]
    assert [j["jobId"] for j in listed] == [p.job_id]  # the host submitted nothing
    assert job["jobName"] == f"thumbnails-{p.run_id}"
    assert job["jobArn"].split(":")[4] == account  # in the function's account
    assert job["tags"] == {"submittedBy": function, "manifest": p.manifest_key}
    env = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert env["MANIFEST_KEY"] == p.manifest_key and env["INPUT_BUCKET"] == p.input_bucket
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    assert job["arrayProperties"]["size"] == IMAGES
    assert job["arrayProperties"]["statusSummary"]["SUCCEEDED"] == IMAGES


def test_the_functions_log_is_in_cloudwatch_logs(run):
    example, c, p, account, function, summary, job = run
    group = f"/aws/lambda/{function}"
    streams = c["logs"].describe_log_streams(logGroupName=group)["logStreams"]
    lines = [e["message"] for s in streams
             for e in c["logs"].get_log_events(logGroupName=group, logStreamName=s["logStreamName"],
                                               startFromHead=True)["events"]]
    assert f"s3://{p.input_bucket}/{p.manifest_key}: {IMAGES} images -> job {p.job_id} ({job['jobName']})" in lines
    assert any(line.startswith("START RequestId: ") for line in lines)
    assert not any(line.startswith('{"jobIds"') for line in lines)  # the answer is not logged


def test_every_image_has_its_thumbnail_and_row(run):
    example, c, p, *_ = run
    keys = sorted(o["Key"] for o in c["s3"].list_objects_v2(Bucket=p.output_bucket).get("Contents", []))
    assert keys == sorted("thumbnails/" + key.rpartition("/")[2] for key, _, _ in p.images)
    rows = {item["image"]["S"]: item for item in c["dynamodb"].scan(TableName=p.table)["Items"]}
    for index, (key, width, height) in enumerate(p.images):
        assert rows[key]["jobId"]["S"] == f"{p.job_id}:{index}"
        assert max(int(rows[key]["width"]["N"]), int(rows[key]["height"]["N"])) == 64
        body = c["s3"].get_object(Bucket=p.output_bucket, Key="thumbnails/" + key.rpartition("/")[2])["Body"].read()
        assert body[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_function_invoked_directly_answers_with_the_job_it_submitted(run):
    """A RequestResponse Invoke: the answer is the function's return value (last output line)."""
    example, c, p, account, function, *_ = run
    event = {"Records": [{"s3": {"bucket": {"name": p.input_bucket},
                                 "object": {"key": p.manifest_key.replace("/", "%2F")}}}]}
    answer = c["lambda"].invoke(FunctionName=function, Payload=json.dumps(event))
    assert "FunctionError" not in answer
    (job_id,) = json.loads(answer["Payload"].read())["jobIds"]
    (job,) = c["batch"].describe_jobs(jobs=[job_id])["jobs"]
    assert job["arrayProperties"]["size"] == IMAGES
    c["batch"].terminate_job(jobId=job_id, reason="test over")


def test_an_exception_in_the_function_is_a_function_error(run):
    example, c, p, account, function, *_ = run
    answer = c["lambda"].invoke(FunctionName=function, Payload=json.dumps({"Records": [{"s3": {
        "bucket": {"name": p.input_bucket}, "object": {"key": "manifests/missing.json"}}}]}))
    assert answer["FunctionError"] == "Handled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "NoSuchKey"


def test_an_eventbridge_rule_invokes_the_function(run):
    """A rule whose target is the function (the seeds' "EventBridge -> Lambda"): PutEvents
    returns at once; the function runs on a worker with the rule's input and submits its job."""
    example, c, p, account, function, *_ = run
    before = {j["jobId"] for j in c["batch"].list_jobs(
        jobQueue=p.job_queue, filters=[{"name": "JOB_NAME", "values": ["*"]}])["jobSummaryList"]}
    event = {"Records": [{"s3": {"bucket": {"name": p.input_bucket}, "object": {"key": p.manifest_key}}}]}
    arn = c["lambda"].get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    events = boto3.client(
        "events", endpoint_url=c["batch"].meta.endpoint_url, region_name="us-east-1",
        aws_access_key_id=account, aws_secret_access_key="test")
    events.put_rule(Name="to-lambda", EventPattern=json.dumps({"source": ["test.upload"]}))
    events.put_targets(Rule="to-lambda", Targets=[{"Id": "fn", "Arn": arn, "Input": json.dumps(event)}])
    answer = events.put_events(Entries=[{"Source": "test.upload", "DetailType": "upload", "Detail": "{}"}])
    assert answer["FailedEntryCount"] == 0
    deadline = time.monotonic() + 120
    new = set()
    while not new and time.monotonic() < deadline:
        new = {j["jobId"] for j in c["batch"].list_jobs(
            jobQueue=p.job_queue, filters=[{"name": "JOB_NAME", "values": ["*"]}])["jobSummaryList"]} - before
        time.sleep(0.5)
    assert len(new) == 1, "the function submitted no job"
    c["batch"].terminate_job(jobId=new.pop(), reason="test over")


def test_an_event_invocation_answers_202_at_once_and_runs_later(run):
    example, c, p, account, function, *_ = run
    listed = lambda: {j["jobId"] for j in c["batch"].list_jobs(  # noqa: E731
        jobQueue=p.job_queue, filters=[{"name": "JOB_NAME", "values": ["*"]}])["jobSummaryList"]}
    before = listed()
    event = {"Records": [{"s3": {"bucket": {"name": p.input_bucket}, "object": {"key": p.manifest_key}}}]}
    started = time.monotonic()
    answer = c["lambda"].invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(event))
    assert answer["StatusCode"] == 202 and answer["Payload"].read() == b""
    assert time.monotonic() - started < 2  # a container start takes seconds: it did not wait
    deadline = time.monotonic() + 120
    while not (listed() - before) and time.monotonic() < deadline:
        time.sleep(0.5)
    (job_id,) = listed() - before
    c["batch"].terminate_job(jobId=job_id, reason="test over")
