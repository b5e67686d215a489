"""End to end: the thumbnails example started by the upload alone (`run.py --trigger upload`):
S3 -> EventBridge -> Batch array job, no SubmitJob from the host. Real Docker containers make
the thumbnails; the test reads the outputs, the S3 event that started the job, the job's
overrides from the input transformer, and a failed submission in the dead-letter queue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from batchemu.testing import running_server
from tests.e2e.test_thumbnails_pipeline import EXAMPLE, _load_example, job_image, png_size  # noqa: F401

pytestmark = pytest.mark.docker
IMAGES = 3


@pytest.fixture(scope="module")
def run(job_image):  # noqa: F811 (the fixture imported above)
    """The upload-triggered pipeline once: (module, clients, Pipeline, the job described)."""
    example = _load_example()
    with running_server(runner="docker", job_network="host") as server:
        c = example.clients(server.url, "us-east-1", access_key="test", secret_key="test")
        p = example.setup(c, IMAGES, image=job_image, max_vcpus=2, trigger="upload")
        assert c["batch"].list_jobs(jobQueue=p.job_queue, jobStatus="SUBMITTED")["jobSummaryList"] == []
        example.upload(c, p.input_bucket, example.sample_images(IMAGES), p.manifest_key)
        example.job_started_by_upload(c, p, timeout=30)
        job = example.wait(c, p.job_id, timeout=600)
        yield example, c, p, job, server


def test_the_upload_submits_one_array_job_that_succeeds(run):
    _, c, p, job, _ = run
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    assert job["jobName"] == f"thumbnails-{p.run_id}" and job["arrayProperties"]["size"] == IMAGES
    assert job["arrayProperties"]["statusSummary"]["SUCCEEDED"] == IMAGES
    # The input transformer's output became the job's container overrides.
    env = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert env["MANIFEST_KEY"] == "manifest.json" and env["INPUT_BUCKET"] == p.input_bucket
    every = c["batch"].list_jobs(jobQueue=p.job_queue, filters=[{"name": "JOB_NAME", "values": ["*"]}])
    assert [j["jobId"] for j in every["jobSummaryList"]] == [p.job_id]  # one upload, one job


def test_every_image_has_its_thumbnail_and_row(run):
    _, c, p, _, _ = run
    for key, width, height in p.images:
        body = c["s3"].get_object(Bucket=p.output_bucket, Key="thumbnails/" + key.rpartition("/")[2])["Body"].read()
        assert max(png_size(body)) == 64
    items = c["dynamodb"].scan(TableName=p.table)["Items"]
    assert sorted(int(i["arrayIndex"]["N"]) for i in items) == list(range(IMAGES))


def test_the_s3_event_that_started_the_job_and_the_job_events_reach_the_queue(run):
    _, c, p, _, _ = run
    seen, deadline = [], time.monotonic() + 30
    while time.monotonic() < deadline and not (
            any(e["source"] == "aws.s3" for e in seen)
            and any(e["detail"].get("jobId") == p.job_id and e["detail"].get("status") == "SUCCEEDED" for e in seen)):
        for m in c["sqs"].receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10,
                                          WaitTimeSeconds=1).get("Messages", []):
            seen.append(json.loads(m["Body"]))
            c["sqs"].delete_message(QueueUrl=p.queue_url, ReceiptHandle=m["ReceiptHandle"])
    [upload] = [e for e in seen if e["source"] == "aws.s3"]
    assert upload["detail-type"] == "Object Created"
    assert upload["detail"]["bucket"]["name"] == p.input_bucket
    assert upload["detail"]["object"]["key"] == "manifest.json" and upload["detail"]["reason"] == "PutObject"
    assert any(e["detail"].get("jobId") == p.job_id and e["detail"].get("status") == "SUCCEEDED" for e in seen)


def test_a_failed_submission_lands_in_the_dead_letter_queue(run):
    _, c, p, _, _ = run
    rule_arn = c["events"].describe_rule(Name=p.upload_rule)["Arn"]
    c["batch"].deregister_job_definition(jobDefinition=f"{p.job_definition}:1")
    c["s3"].put_object(Bucket=p.input_bucket, Key="again/manifest.json", Body=b'{"keys": []}')
    deadline, got = time.monotonic() + 30, []
    while not got and time.monotonic() < deadline:
        got = c["sqs"].receive_message(QueueUrl=p.dlq_url, WaitTimeSeconds=1,
                                       MessageAttributeNames=["All"]).get("Messages", [])
    assert got, "nothing in the dead-letter queue"
    attributes = {k: v["StringValue"] for k, v in got[0]["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == rule_arn and attributes["TARGET_ARN"] == p.job_queue_arn
    assert p.job_definition in attributes["ERROR_MESSAGE"]
    assert json.loads(got[0]["Body"])["detail"]["object"]["key"] == "again/manifest.json"


def test_run_py_with_trigger_upload_as_the_readme_runs_it(run):
    _, c, _, _, server = run
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    done = subprocess.run([sys.executable, str(EXAMPLE / "run.py"), "--endpoint-url", server.url,
                           "--images", "2", "--trigger", "upload", "--image", "batchemu-examples/thumbnails:latest"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "-on-upload submitted job" in done.stdout
    assert "Object Created  s3://" in done.stdout and done.stdout.count("worker: done") == 2, done.stdout
