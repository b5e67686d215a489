#!/usr/bin/env python3
"""The thumbnails pipeline started by an upload, through Lambda: S3 notification -> Lambda
function (function/submit.py) -> SubmitJob of ONE array job; the host never calls SubmitJob.

Builds on the thumbnails example (../thumbnails/run.py: buckets, sample images, DynamoDB
table, Batch resources, the EventBridge rule to SQS), then creates the function, lets S3 invoke
it for manifests/*.json and uploads a manifest. Waits for the job the function submitted and
prints the same report as the thumbnails example, plus the function's answer.

    python3 run.py [--endpoint-url http://127.0.0.1:8000] [--images 4]

Needs batchemu's Lambda runtime image (scripts/build-lambda-image.sh) and the thumbnails job
image (../thumbnails/image/build.sh, which that script builds too).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import sys
import time
import zipfile
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent


def _thumbnails():
    spec = importlib.util.spec_from_file_location("thumbnails_run", HERE.parent / "thumbnails" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


thumbnails = _thumbnails()


def clients(endpoint_url: str = thumbnails.DEFAULT_ENDPOINT, region: str | None = None,
            access_key: str | None = None, secret_key: str | None = None) -> dict:
    """The thumbnails example's clients plus Lambda and IAM, with the same credentials rule."""
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    session = boto3.Session(region_name=region)
    creds = {}
    if access_key or session.get_credentials() is None:
        creds = {"aws_access_key_id": access_key or "test", "aws_secret_access_key": secret_key or "test"}
    return {name: session.client(name, endpoint_url=endpoint_url, **creds)
            for name in ("s3", "dynamodb", "sqs", "events", "batch", "logs", "lambda", "iam")}


def function_zip() -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(HERE / "function" / "submit.py", "submit.py")
    return data.getvalue()


def deploy(c: dict, p) -> str:
    """The function and the bucket notification that invokes it; returns the function's name."""
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "lambda.amazonaws.com"}}]}
    role = c["iam"].create_role(RoleName=f"thumbnails-{p.run_id}-submit",
                                AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    name = f"thumbnails-{p.run_id}-submit"
    arn = c["lambda"].create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="submit.handler", Timeout=60,
        Code={"ZipFile": function_zip()},
        Environment={"Variables": {"JOB_QUEUE": p.job_queue, "JOB_DEFINITION": p.job_definition}})["FunctionArn"]
    c["lambda"].add_permission(FunctionName=name, StatementId="s3-invokes", Action="lambda:InvokeFunction",
                               Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{p.input_bucket}")
    c["s3"].put_bucket_notification_configuration(Bucket=p.input_bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{
            "Id": "manifest-uploaded", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "manifests/"},
                                               {"Name": "suffix", "Value": ".json"}]}}}]})
    thumbnails.say(f"function {name}: invoked by s3://{p.input_bucket}/manifests/*.json")
    return name


def upload_manifest(c: dict, p) -> str:
    key = f"manifests/{p.run_id}.json"
    c["s3"].put_object(Bucket=p.input_bucket, Key=key, ContentType="application/json",
                       Body=json.dumps({"keys": [k for k, _, _ in p.images]}).encode())
    p.manifest_key = key
    thumbnails.say(f"uploaded s3://{p.input_bucket}/{key}")
    return key


def submitted_job(c: dict, p, timeout: float = 120) -> dict:
    """The job the function submitted (the host submitted none): found on the run's queue."""
    deadline = time.monotonic() + timeout
    while True:
        found = c["batch"].list_jobs(jobQueue=p.job_queue,
                                     filters=[{"name": "JOB_NAME", "values": ["thumbnails-*"]}])["jobSummaryList"]
        if found:
            p.job_id = found[0]["jobId"]
            thumbnails.say(f"the function submitted job {p.job_id} ({found[0]['jobName']})")
            return found[0]
        if time.monotonic() > deadline:
            raise TimeoutError(f"no job on {p.job_queue} {timeout:.0f} s after the upload")
        time.sleep(0.5)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint-url", default=thumbnails.DEFAULT_ENDPOINT)
    parser.add_argument("--region")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--image", default=thumbnails.DEFAULT_IMAGE)
    parser.add_argument("--max-vcpus", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    c = clients(args.endpoint_url, args.region)
    p = thumbnails.setup(c, args.images, image=args.image, max_vcpus=args.max_vcpus)
    deploy(c, p)
    upload_manifest(c, p)
    submitted_job(c, p)
    job = thumbnails.wait(c, p.job_id, timeout=args.timeout)
    thumbnails.report(c, p, job)
    return 0 if job["status"] == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
