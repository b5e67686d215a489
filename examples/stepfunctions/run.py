#!/usr/bin/env python3
"""The Step Functions workflow example against batchemu, with plain boto3 (no batchemu import).

Creates a bucket with N text inputs and the steps' code, a compute environment, the job queue
`workflow-queue` and the job definition `workflow-step` the state machine names
(workflow.asl.json), the state machine, then starts an execution and waits for it:

    Prepare (job) -> Count (ONE array job, a child per input) -> Aggregate (job)
    any failed job -> ReportFailure (job) -> Fail

    python3 run.py [--endpoint-url http://127.0.0.1:8000] [--inputs 3] [--fail]

`--fail` adds an input containing the word FAIL: its Count child exits 1, the array job
fails, the Catch runs ReportFailure and the execution FAILS. Prints the execution's history,
the jobs' output and the result files. Exit status 0 when the execution did what was asked.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
DEFAULT_ENDPOINT = "http://127.0.0.1:8000"
DEFAULT_IMAGE = "batchemu-examples/thumbnails:latest"  # any image with python3 and boto3
QUEUE, DEFINITION = "workflow-queue", "workflow-step"
LOG_GROUP = "/aws/batch/job"
# AWS Batch's "fetch and run": the job downloads the steps from S3 and runs `Ref::step`.
FETCH_AND_RUN = ("import boto3, os, sys; "
                 "code = boto3.client('s3').get_object(Bucket=os.environ['BUCKET'], Key='code/steps.py')['Body'].read(); "
                 "sys.argv = ['steps.py'] + sys.argv[1:]; "
                 "exec(compile(code, 'steps.py', 'exec'), {'__name__': '__main__'})")
TEXTS = ["the quick brown fox\njumps over\nthe lazy dog\n", "to be or not to be\n",
         "batch jobs\nin a state machine\non one endpoint\n", "one\ntwo\nthree\nfour\n"]


def clients(endpoint_url: str = DEFAULT_ENDPOINT, region: str | None = None,
            access_key: str | None = None, secret_key: str | None = None) -> dict:
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    session = boto3.Session(region_name=region)
    creds = {}
    if access_key or session.get_credentials() is None:
        creds = {"aws_access_key_id": access_key or "test", "aws_secret_access_key": secret_key or "test"}
    return {name: session.client(name, endpoint_url=endpoint_url, **creds)
            for name in ("s3", "batch", "stepfunctions", "iam", "logs")}


def inputs(n: int, fail: bool) -> dict:
    """{key: text}: n texts, plus one that makes its Count child fail."""
    out = {f"inputs/{i:03d}.txt": TEXTS[i % len(TEXTS)] for i in range(n)}
    if fail:
        out[f"inputs/{n:03d}-poison.txt"] = "this input will FAIL\n"
    return out


def setup(c: dict, n: int, fail: bool = False, image: str = DEFAULT_IMAGE, run_id: str | None = None) -> dict:
    """Everything one execution needs; the Batch resources and the state machine are shared
    by runs in one account (made once), the bucket is the run's own."""
    run_id = run_id or uuid.uuid4().hex[:8]
    bucket = f"workflow-{run_id}"
    c["s3"].create_bucket(Bucket=bucket)
    c["s3"].put_object(Bucket=bucket, Key="code/steps.py", Body=(HERE / "steps.py").read_bytes())
    texts = inputs(n, fail)
    for key, text in texts.items():
        c["s3"].put_object(Bucket=bucket, Key=key, Body=text.encode())
    say(f"run {run_id}: s3://{bucket} has {len(texts)} inputs and code/steps.py")

    batch = c["batch"]
    if not batch.describe_job_queues(jobQueues=[QUEUE])["jobQueues"]:
        batch.create_compute_environment(
            computeEnvironmentName="workflow-ce", type="MANAGED",
            computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": 4, "instanceTypes": ["optimal"],
                              "subnets": ["subnet-local"], "securityGroupIds": ["sg-local"],
                              "instanceRole": "ecsInstanceRole"})
        wait_for(lambda: batch.describe_compute_environments(computeEnvironments=["workflow-ce"])
                 ["computeEnvironments"][0]["status"] == "VALID", 60, "the compute environment")
        batch.create_job_queue(jobQueueName=QUEUE, priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "workflow-ce"}])
        wait_for(lambda: batch.describe_job_queues(jobQueues=[QUEUE])["jobQueues"][0]["status"] == "VALID",
                 60, "the job queue")
    batch.register_job_definition(
        jobDefinitionName=DEFINITION, type="container", parameters={"step": "prepare"},
        containerProperties={"image": image, "command": ["python3", "-c", FETCH_AND_RUN, "Ref::step"],
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "256"}]})

    role = ensure_role(c["iam"])
    definition = (HERE / "workflow.asl.json").read_text()
    machines = [m for m in c["stepfunctions"].list_state_machines()["stateMachines"] if m["name"] == "workflow"]
    if machines:
        arn = machines[0]["stateMachineArn"]
        c["stepfunctions"].update_state_machine(stateMachineArn=arn, definition=definition, roleArn=role)
    else:
        arn = c["stepfunctions"].create_state_machine(name="workflow", definition=definition,
                                                      roleArn=role)["stateMachineArn"]
    return {"run_id": run_id, "bucket": bucket, "inputs": sorted(texts), "texts": texts, "state_machine": arn}


def ensure_role(iam) -> str:
    try:
        return iam.get_role(RoleName="workflow-states")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Principal": {"Service": "states.amazonaws.com"}}]}
        return iam.create_role(RoleName="workflow-states", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def start(c: dict, run: dict) -> str:
    arn = c["stepfunctions"].start_execution(
        stateMachineArn=run["state_machine"], name=f"run-{run['run_id']}",
        input=json.dumps({"bucket": run["bucket"], "inputs": run["inputs"]}))["executionArn"]
    say(f"started {arn}")
    return arn


def wait(c: dict, execution: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = c["stepfunctions"].describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution still RUNNING after {timeout:.0f} s")
        time.sleep(1)


def history(c: dict, execution: str) -> list:
    events, kwargs = [], {}
    while True:
        page = c["stepfunctions"].get_execution_history(executionArn=execution, **kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def jobs_of(events: list) -> list:
    """The jobs the execution's tasks submitted, in order: (state, job id)."""
    out, state = [], None
    for event in events:
        if event["type"] == "TaskStateEntered":
            state = event["stateEnteredEventDetails"]["name"]
        if event["type"] == "TaskSubmitted":
            out.append((state, json.loads(event["taskSubmittedEventDetails"]["output"])["JobId"]))
    return out


def log_lines(c: dict, job: dict) -> list:
    stream = (job.get("container") or {}).get("logStreamName")
    if not stream:
        return []
    return [e["message"] for e in c["logs"].get_log_events(logGroupName=LOG_GROUP, logStreamName=stream,
                                                           startFromHead=True)["events"]]


def report(c: dict, run: dict, described: dict, events: list) -> None:
    print(f"\nexecution {described['executionArn']}: {described['status']}"
          + (f" ({described.get('error')})" if described.get("error") else ""))
    print("\nhistory:")
    for event in events:
        name = next((v.get("name") for k, v in event.items() if k == "stateEnteredEventDetails"), "")
        print(f"  {event['id']:3d} {event['type']} {name}")
    for state, job_id in jobs_of(events):
        (job,) = c["batch"].describe_jobs(jobs=[job_id])["jobs"]
        print(f"\n{state}: job {job_id} {job['status']}" + (f" {job['arrayProperties'].get('statusSummary')}"
                                                          if job.get("arrayProperties") else ""))
        children = ([f"{job_id}:{i}" for i in range(job["arrayProperties"]["size"])]
                    if job.get("arrayProperties", {}).get("size") else [])
        for child in c["batch"].describe_jobs(jobs=children)["jobs"] if children else [job]:
            for line in log_lines(c, child):
                print(f"  {line}")
    for key in ("results/summary.json", "results/failure.json"):
        try:
            body = c["s3"].get_object(Bucket=run["bucket"], Key=key)["Body"].read().decode()
        except c["s3"].exceptions.NoSuchKey:
            continue
        print(f"\ns3://{run['bucket']}/{key}:\n{body}")


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
    parser.add_argument("--endpoint-url", default=DEFAULT_ENDPOINT)
    parser.add_argument("--region")
    parser.add_argument("--inputs", type=int, default=3, help="how many text inputs (default 3, at least 2)")
    parser.add_argument("--fail", action="store_true", help="add an input that makes its job fail")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help=f"the job image (default {DEFAULT_IMAGE})")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    if args.inputs + args.fail < 2:
        parser.error("the Count array job needs at least 2 inputs")
    c = clients(args.endpoint_url, args.region)
    run = setup(c, args.inputs, fail=args.fail, image=args.image)
    execution = start(c, run)
    described = wait(c, execution, args.timeout)
    report(c, run, described, history(c, execution))
    return 0 if described["status"] == ("FAILED" if args.fail else "SUCCEEDED") else 1


if __name__ == "__main__":
    sys.exit(main())
