#!/usr/bin/env python3
"""The thumbnails pipeline against batchemu, with plain boto3 (no batchemu import).

Creates an input and an output S3 bucket, uploads N generated PNG images and a manifest, a
DynamoDB table, an SQS queue fed by an EventBridge rule for "Batch Job State Change" events,
then a compute environment, job queue and job definition, submits ONE array job (a child per
image), waits for it and prints the thumbnails, the table rows, each child's log and the events.

With `--trigger upload` nothing is submitted from here: the input bucket sends its events to
EventBridge, a rule matches the upload of manifest.json and its Batch target submits the array
job (S3 -> EventBridge -> Batch); a failed submission goes to the run's dead-letter queue.

    python3 run.py [--endpoint-url http://127.0.0.1:8000] [--images 6] [--trigger submit|upload]

Every resource name carries a fresh run id, so runs against one server never mix.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import struct
import sys
import time
import uuid
import zlib

import boto3

DEFAULT_ENDPOINT = "http://127.0.0.1:8000"
DEFAULT_IMAGE = "batchemu-examples/thumbnails:latest"
LOG_GROUP = "/aws/batch/job"
TERMINAL = ("SUCCEEDED", "FAILED")
# A few sizes and orientations; every one is larger than the 64x64 thumbnail box.
SIZES = [(320, 240), (240, 320), (400, 300), (160, 160), (300, 120), (96, 256), (512, 384), (200, 150)]


@dataclasses.dataclass
class Pipeline:
    """Names and ids of everything one run created."""
    run_id: str
    input_bucket: str
    output_bucket: str
    table: str
    queue_url: str
    queue_arn: str
    rule: str
    compute_environment: str
    job_queue: str
    job_queue_arn: str
    job_definition: str
    manifest_key: str
    images: list          # [(key, width, height)] in manifest order: index i is images[i]
    job_id: str | None = None
    upload_rule: str | None = None    # --trigger upload: the rule that submits the job
    dlq_url: str | None = None        # ... and the dead-letter queue of its Batch target


def clients(endpoint_url: str = DEFAULT_ENDPOINT, region: str | None = None,
            access_key: str | None = None, secret_key: str | None = None) -> dict:
    """boto3 clients for every service the pipeline uses, all on the one endpoint. Credentials
    come from the arguments, else the usual places, else batchemu's test ones (a 12-digit
    access key id picks that account; any other key is account 123456789012)."""
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    session = boto3.Session(region_name=region)
    creds = {}
    if access_key or session.get_credentials() is None:
        creds = {"aws_access_key_id": access_key or "test", "aws_secret_access_key": secret_key or "test"}
    return {name: session.client(name, endpoint_url=endpoint_url, **creds)
            for name in ("s3", "dynamodb", "sqs", "events", "batch", "logs")}


# ---- sample images ----------------------------------------------------------------------

def png(width: int, height: int, pixel) -> bytes:
    """A truecolour 8-bit PNG (RFC 2083) from pixel(x, y) -> (r, g, b); stdlib only."""
    raw = bytearray()
    for y in range(height):
        raw.append(0)                                  # filter type: None
        for x in range(width):
            raw += bytes(pixel(x, y))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw), 6))
            + chunk(b"IEND", b""))


def sample_images(n: int) -> list:
    """n distinct images [(key, png bytes, width, height)]: gradients with a disc in the middle."""
    out = []
    for i in range(n):
        width, height = SIZES[i % len(SIZES)]
        blue = (i * 97) % 256
        cx, cy, r2 = width // 2, height // 2, (min(width, height) // 3) ** 2

        def pixel(x, y, width=width, height=height, blue=blue, cx=cx, cy=cy, r2=r2):
            if (x - cx) ** 2 + (y - cy) ** 2 < r2:
                return (255 - blue, 255, blue)
            return (x * 255 // width, y * 255 // height, blue)

        out.append((f"images/sample-{i:03d}.png", png(width, height, pixel), width, height))
    return out


# ---- the pipeline -----------------------------------------------------------------------

def setup(c: dict, n_images: int, image: str = DEFAULT_IMAGE, max_vcpus: int = 2,
          run_id: str | None = None, trigger: str = "submit") -> Pipeline:
    """Create every resource; upload the inputs unless `trigger` is "upload" (then the upload,
    done by upload() afterwards, is what starts the job: see start_on_upload)."""
    run_id = run_id or uuid.uuid4().hex[:8]
    name = f"thumbnails-{run_id}"
    say(f"run {run_id}: creating buckets, table, queue, rule and Batch resources")

    input_bucket, output_bucket = f"{name}-input", f"{name}-output"
    for bucket in (input_bucket, output_bucket):
        c["s3"].create_bucket(Bucket=bucket)
    samples = sample_images(n_images)
    images = [(key, width, height) for key, _, width, height in samples]
    manifest_key = "manifest.json"
    if trigger == "submit":
        upload(c, input_bucket, samples, manifest_key)

    table = name
    c["dynamodb"].create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                               AttributeDefinitions=[{"AttributeName": "image", "AttributeType": "S"}],
                               KeySchema=[{"AttributeName": "image", "KeyType": "HASH"}])
    c["dynamodb"].get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})

    # Batch first: the event rule matches this run's job queue only.
    ce = f"{name}-ce"
    c["batch"].create_compute_environment(
        computeEnvironmentName=ce, type="MANAGED", state="ENABLED",
        computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": max_vcpus,
                          "instanceTypes": ["optimal"], "subnets": ["subnet-local"],
                          "securityGroupIds": ["sg-local"], "instanceRole": "ecsInstanceRole"})
    wait_for(lambda: c["batch"].describe_compute_environments(computeEnvironments=[ce])
             ["computeEnvironments"][0]["status"] == "VALID", 60, f"compute environment {ce} VALID")
    job_queue = f"{name}-queue"
    job_queue_arn = c["batch"].create_job_queue(
        jobQueueName=job_queue, priority=1, state="ENABLED",
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])["jobQueueArn"]
    wait_for(lambda: c["batch"].describe_job_queues(jobQueues=[job_queue])
             ["jobQueues"][0]["status"] == "VALID", 60, f"job queue {job_queue} VALID")
    job_definition = f"{name}-worker"
    c["batch"].register_job_definition(
        jobDefinitionName=job_definition, type="container",
        retryStrategy={"attempts": 1}, timeout={"attemptDurationSeconds": 300},
        containerProperties={
            "image": image,
            "command": ["python3", "/app/worker.py"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "256"}],
            "environment": [{"name": "INPUT_BUCKET", "value": input_bucket},
                            {"name": "OUTPUT_BUCKET", "value": output_bucket},
                            {"name": "TABLE", "value": table},
                            {"name": "MANIFEST_KEY", "value": manifest_key}]})

    queue_url = c["sqs"].create_queue(QueueName=f"{name}-events")["QueueUrl"]
    queue_arn = c["sqs"].get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    rule = f"{name}-job-state"
    rule_arn = c["events"].put_rule(Name=rule, EventPattern=json.dumps({
        "source": ["aws.batch"], "detail-type": ["Batch Job State Change"],
        "detail": {"jobQueue": [job_queue_arn]}}))["RuleArn"]
    # What AWS needs before EventBridge may deliver to the queue.
    c["sqs"].set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                       "Action": "sqs:SendMessage", "Resource": queue_arn,
                       "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]})})
    c["events"].put_targets(Rule=rule, Targets=[{"Id": "events-queue", "Arn": queue_arn}])

    p = Pipeline(run_id, input_bucket, output_bucket, table, queue_url, queue_arn, rule, ce,
                 job_queue, job_queue_arn, job_definition, manifest_key, images)
    if trigger == "upload":
        start_on_upload(c, p)
    return p


def upload(c: dict, bucket: str, samples: list, manifest_key: str) -> None:
    """The images, then the manifest that lists them (with --trigger upload, the manifest's
    "Object Created" event is what submits the job, so it goes last)."""
    for key, data, _, _ in samples:
        c["s3"].put_object(Bucket=bucket, Key=key, Body=data, ContentType="image/png")
    c["s3"].put_object(Bucket=bucket, Key=manifest_key,
                       Body=json.dumps({"keys": [key for key, _, _, _ in samples]}).encode(),
                       ContentType="application/json")
    say(f"uploaded {len(samples)} images and {manifest_key} to s3://{bucket}")


def start_on_upload(c: dict, p: Pipeline) -> None:
    """S3 -> EventBridge -> Batch: the input bucket sends its events to EventBridge; a rule for
    "Object Created" on a key ending in manifest.json has the job queue as its target. The
    target's input transformer hands the bucket and the manifest's key to the job as
    environment overrides; a submission that fails (say, the job definition was deregistered)
    is retried, then lands in a dead-letter queue with the error. The same event also goes to
    the run's events queue, to show what started the job."""
    name = f"thumbnails-{p.run_id}"
    account = p.job_queue_arn.split(":")[4]
    c["s3"].put_bucket_notification_configuration(
        Bucket=p.input_bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    p.dlq_url = c["sqs"].create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = c["sqs"].get_queue_attributes(QueueUrl=p.dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    p.upload_rule = f"{name}-on-upload"
    c["events"].put_rule(Name=p.upload_rule, EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [p.input_bucket]}, "object": {"key": [{"suffix": "manifest.json"}]}}}))
    batch = {"JobDefinition": p.job_definition, "JobName": f"thumbnails-{p.run_id}"}
    if len(p.images) >= 2:
        batch["ArrayProperties"] = {"Size": len(p.images)}
    c["events"].put_targets(Rule=p.upload_rule, Targets=[
        {"Id": "thumbnails-job", "Arn": p.job_queue_arn,
         "RoleArn": f"arn:aws:iam::{account}:role/eventbridge-submit-batch",
         "BatchParameters": batch,
         "InputTransformer": {
             "InputPathsMap": {"bucket": "$.detail.bucket.name", "key": "$.detail.object.key"},
             "InputTemplate": '{"ContainerOverrides": {"Environment": ['
                              '{"Name": "INPUT_BUCKET", "Value": <bucket>}, '
                              '{"Name": "MANIFEST_KEY", "Value": <key>}]}}'},
         "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
         "DeadLetterConfig": {"Arn": dlq_arn}},
        {"Id": "events-queue", "Arn": p.queue_arn}])
    say(f"rule {p.upload_rule}: an upload of manifest.json to s3://{p.input_bucket} submits the job")


def job_started_by_upload(c: dict, p: Pipeline, timeout: float = 60) -> str:
    """The id of the job the upload rule submitted (found by its name)."""
    name = f"thumbnails-{p.run_id}"
    found: list = []

    def submitted():
        found[:] = c["batch"].list_jobs(jobQueue=p.job_queue, filters=[
            {"name": "JOB_NAME", "values": [name]}])["jobSummaryList"]
        return bool(found)
    wait_for(submitted, timeout, f"the job {name} submitted by rule {p.upload_rule}")
    p.job_id = found[0]["jobId"]
    say(f"rule {p.upload_rule} submitted job {p.job_id} ({len(p.images)} images)")
    return p.job_id


def submit(c: dict, p: Pipeline) -> str:
    """ONE job for all images: an array job of N children (AWS allows arrays of 2 to 10,000;
    a single image is a plain job, which the worker reads as index 0)."""
    kwargs = {"arrayProperties": {"size": len(p.images)}} if len(p.images) >= 2 else {}
    p.job_id = c["batch"].submit_job(jobName=f"thumbnails-{p.run_id}", jobQueue=p.job_queue,
                                     jobDefinition=p.job_definition, **kwargs)["jobId"]
    say(f"submitted job {p.job_id} ({len(p.images)} images)")
    return p.job_id


def wait(c: dict, job_id: str, timeout: float = 600) -> dict:
    """Poll DescribeJobs until the job is SUCCEEDED or FAILED; returns its description."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        job = c["batch"].describe_jobs(jobs=[job_id])["jobs"][0]
        summary = (job.get("arrayProperties") or {}).get("statusSummary") or {}
        progress = (job["status"], tuple(sorted((k, v) for k, v in summary.items() if v)))
        if progress != last:
            say(f"job {job_id}: {job['status']} {dict(progress[1]) or ''}".rstrip())
            last = progress
        if job["status"] in TERMINAL:
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job['status']} after {timeout:.0f} s")
        time.sleep(0.5)


def children(c: dict, p: Pipeline) -> list:
    """The job's children described, in index order (the job itself when it is not an array)."""
    if len(p.images) < 2:
        return c["batch"].describe_jobs(jobs=[p.job_id])["jobs"]
    ids = [f"{p.job_id}:{i}" for i in range(len(p.images))]
    jobs = []
    for start in range(0, len(ids), 100):           # DescribeJobs takes up to 100 ids
        jobs += c["batch"].describe_jobs(jobs=ids[start:start + 100])["jobs"]
    return sorted(jobs, key=lambda j: (j.get("arrayProperties") or {}).get("index", 0))


def log_lines(c: dict, job: dict) -> list:
    """A job's output, from CloudWatch Logs (group /aws/batch/job, the job's stream)."""
    stream = (job.get("container") or {}).get("logStreamName")
    if not stream:
        return []
    events = c["logs"].get_log_events(logGroupName=LOG_GROUP, logStreamName=stream,
                                      startFromHead=True)["events"]
    return [e["message"] for e in events]


def receive_events(c: dict, p: Pipeline, job_ids, timeout: float = 30) -> list:
    """Take "Batch Job State Change" events off the queue until every one of job_ids has a
    terminal event (delivery is asynchronous and unordered) or the timeout passes."""
    deadline = time.monotonic() + timeout
    events, pending = [], set(job_ids)
    while pending and time.monotonic() < deadline:
        got = c["sqs"].receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in got.get("Messages", []):
            event = json.loads(message["Body"])
            events.append(event)
            if event.get("detail", {}).get("status") in TERMINAL:
                pending.discard(event["detail"].get("jobId"))
            c["sqs"].delete_message(QueueUrl=p.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return events


def rows(c: dict, p: Pipeline) -> list:
    items, kwargs = [], {}
    while True:
        page = c["dynamodb"].scan(TableName=p.table, **kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda item: int(item["arrayIndex"]["N"]))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def report(c: dict, p: Pipeline, job: dict) -> None:
    summary = (job.get("arrayProperties") or {}).get("statusSummary")
    print(f"\njob {p.job_id}: {job['status']}" + (f" {summary}" if summary else ""))
    print(f"\nthumbnails in s3://{p.output_bucket}:")
    listing = c["s3"].list_objects_v2(Bucket=p.output_bucket).get("Contents", [])
    for obj in listing:
        print(f"  {obj['Key']}  {obj['Size']} bytes")
    print(f"\nDynamoDB table {p.table}:")
    for item in rows(c, p):
        print(f"  [{item['arrayIndex']['N']}] {item['image']['S']} "
              f"{item['originalWidth']['N']}x{item['originalHeight']['N']} -> "
              f"{item['thumbnailKey']['S']} {item['width']['N']}x{item['height']['N']} by {item['jobId']['S']}")
    jobs = children(c, p)
    for child in jobs:
        print(f"\nlog of {child['jobId']} ({child['status']}, stream {child['container'].get('logStreamName')}):")
        for line in log_lines(c, child):
            print(f"  {line}")
    events = receive_events(c, p, [child["jobId"] for child in jobs] + [p.job_id], timeout=10)
    print(f"\n{len(events)} events on {p.queue_url}:")
    for event in sorted(events, key=lambda e: (e["time"], e["detail"].get("jobId", ""))):
        detail = event["detail"]
        if event["source"] == "aws.s3":   # --trigger upload: the upload that started the job
            print(f"  {event['time']}  {event['detail-type']}  s3://{detail['bucket']['name']}/{detail['object']['key']}")
        else:
            print(f"  {event['time']}  {detail.get('jobId')}  {detail.get('status')}")


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


def say(message: str) -> None:
    print(message, flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint-url", default=DEFAULT_ENDPOINT, help=f"batchemu's endpoint (default {DEFAULT_ENDPOINT})")
    parser.add_argument("--region", help="AWS region (default $AWS_REGION, $AWS_DEFAULT_REGION or us-east-1)")
    parser.add_argument("--images", type=int, default=6, help="how many sample images (default 6)")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help=f"the job image (default {DEFAULT_IMAGE})")
    parser.add_argument("--max-vcpus", type=int, default=2, help="the compute environment's maxvCpus (default 2)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the job (default 600)")
    parser.add_argument("--trigger", choices=("submit", "upload"), default="submit",
                        help="submit: SubmitJob from here (default); upload: the upload starts the job "
                             "(S3 -> EventBridge -> Batch)")
    args = parser.parse_args(argv)
    if not 1 <= args.images <= 10_000:
        parser.error("--images must be between 1 and 10000")

    c = clients(args.endpoint_url, args.region)
    p = setup(c, args.images, image=args.image, max_vcpus=args.max_vcpus, trigger=args.trigger)
    if args.trigger == "upload":
        upload(c, p.input_bucket, sample_images(args.images), p.manifest_key)
        job_started_by_upload(c, p)
    else:
        submit(c, p)
    job = wait(c, p.job_id, timeout=args.timeout)
    report(c, p, job)
    return 0 if job["status"] == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
