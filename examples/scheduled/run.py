#!/usr/bin/env python3
"""A scheduled AWS Batch job against batchemu, with plain boto3 (no batchemu import).

Creates a compute environment, a job queue and a job definition, then an EventBridge rule with
`rate(1 minute)` whose target is the job queue (the Batch User Guide's "scheduled job"), and,
with --scheduler, an EventBridge Scheduler schedule that calls SubmitJob through the universal
target `arn:aws:scheduler:::aws-sdk:batch:submitJob`. Waits for --runs jobs, prints each job's
output (which names the event that started it), then disables the rule and deletes the schedule.

    batchemu --ephemeral --time-scale 60      # a minute of schedule time is a second
    python3 run.py [--endpoint-url http://127.0.0.1:8000] [--runs 2] [--scheduler]

Without --time-scale the rule fires once a minute, as on AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid

import boto3

DEFAULT_ENDPOINT = "http://127.0.0.1:8000"
LOG_GROUP = "/aws/batch/job"


def clients(endpoint_url: str, region: str | None = None) -> dict:
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    session = boto3.Session(region_name=region)
    creds = {} if session.get_credentials() else {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    return {name: session.client(name, endpoint_url=endpoint_url, **creds)
            for name in ("batch", "events", "scheduler", "logs")}


def setup(c: dict, image: str, run_id: str) -> dict:
    """The Batch resources; returns their names and the queue's ARN."""
    name = f"scheduled-{run_id}"
    ce = f"{name}-ce"
    c["batch"].create_compute_environment(
        computeEnvironmentName=ce, type="MANAGED", state="ENABLED",
        computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": 2, "instanceTypes": ["optimal"],
                          "subnets": ["subnet-local"], "securityGroupIds": ["sg-local"],
                          "instanceRole": "ecsInstanceRole"})
    wait_for(lambda: c["batch"].describe_compute_environments(computeEnvironments=[ce])
             ["computeEnvironments"][0]["status"] == "VALID", 60, "the compute environment")
    queue_arn = c["batch"].create_job_queue(jobQueueName=f"{name}-queue", priority=1,
                                            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])["jobQueueArn"]
    wait_for(lambda: c["batch"].describe_job_queues(jobQueues=[queue_arn])["jobQueues"][0]["status"] == "VALID",
             60, "the job queue")
    c["batch"].register_job_definition(
        jobDefinitionName=f"{name}-report", type="container",
        parameters={"time": "unknown", "source": "unknown"},
        containerProperties={
            "image": image,
            "command": ["sh", "-c", 'echo "scheduled run: event time $0 from $1"; echo "job $AWS_BATCH_JOB_ID done"',
                        "Ref::time", "Ref::source"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]})
    return {"name": name, "queue": f"{name}-queue", "queue_arn": queue_arn, "definition": f"{name}-report"}


def schedule_rule(c: dict, r: dict, expression: str) -> str:
    """An EventBridge rule on a schedule, its target the job queue. The input transformer hands
    the event's time and the rule's ARN to the job as parameters (Ref::time, Ref::source)."""
    account = r["queue_arn"].split(":")[4]
    rule = f"{r['name']}-rule"
    c["events"].put_rule(Name=rule, ScheduleExpression=expression)
    c["events"].put_targets(Rule=rule, Targets=[{
        "Id": "report", "Arn": r["queue_arn"], "RoleArn": f"arn:aws:iam::{account}:role/eventbridge-submit-batch",
        "BatchParameters": {"JobDefinition": r["definition"], "JobName": f"{r['name']}-from-rule"},
        "InputTransformer": {"InputPathsMap": {"time": "$.time", "rule": "$.resources[0]"},
                             "InputTemplate": '{"Parameters": {"time": <time>, "source": <rule>}}'}}])
    say(f"rule {rule}: {expression} submits {r['name']}-from-rule")
    return rule


def schedule_scheduler(c: dict, r: dict, expression: str) -> str:
    """An EventBridge Scheduler schedule whose universal target calls Batch SubmitJob."""
    account = r["queue_arn"].split(":")[4]
    name = f"{r['name']}-schedule"
    c["scheduler"].create_schedule(
        Name=name, ScheduleExpression=expression, FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": "arn:aws:scheduler:::aws-sdk:batch:submitJob",
                "RoleArn": f"arn:aws:iam::{account}:role/scheduler-submit-batch",
                "Input": json.dumps({"JobName": f"{r['name']}-from-scheduler", "JobQueue": r["queue"],
                                     "JobDefinition": r["definition"],
                                     "Parameters": {"time": "(scheduler)", "source": name}})})
    say(f"schedule {name}: {expression} submits {r['name']}-from-scheduler")
    return name


def finished_jobs(c: dict, r: dict, job_name: str, runs: int, timeout: float) -> list:
    """The first `runs` jobs named `job_name`, once each has finished, oldest first."""
    deadline = time.monotonic() + timeout
    while True:
        listed = c["batch"].list_jobs(jobQueue=r["queue"], filters=[{"name": "JOB_NAME", "values": [job_name]}])
        ids = [j["jobId"] for j in sorted(listed["jobSummaryList"], key=lambda j: j["createdAt"])][:runs]
        jobs = c["batch"].describe_jobs(jobs=ids)["jobs"] if ids else []
        if len(jobs) == runs and all(j["status"] in ("SUCCEEDED", "FAILED") for j in jobs):
            return sorted(jobs, key=lambda j: j["createdAt"])
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(ids)} of {runs} runs of {job_name} after {timeout:.0f} s")
        time.sleep(0.25)


def log_lines(c: dict, job: dict) -> list:
    stream = job["container"].get("logStreamName")
    if not stream:
        return []
    return [e["message"] for e in c["logs"].get_log_events(logGroupName=LOG_GROUP, logStreamName=stream,
                                                           startFromHead=True)["events"]]


def report(c: dict, jobs: list) -> None:
    previous = None
    for job in jobs:
        gap = "" if previous is None else f" (+{(job['createdAt'] - previous) / 1000:.1f} s)"
        previous = job["createdAt"]
        print(f"\n{job['jobName']} {job['jobId']}: {job['status']}, submitted at {job['createdAt']}{gap}")
        for line in log_lines(c, job):
            print(f"  {line}")


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
    parser.add_argument("--image", default="busybox:latest", help="the job image (any image with sh and echo)")
    parser.add_argument("--schedule", default="rate(1 minute)", help="the schedule expression (rate(...) or cron(...))")
    parser.add_argument("--runs", type=int, default=2, help="how many scheduled runs to wait for (default 2)")
    parser.add_argument("--scheduler", action="store_true", help="also an EventBridge Scheduler schedule")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the runs")
    args = parser.parse_args(argv)

    c = clients(args.endpoint_url, args.region)
    r = setup(c, args.image, uuid.uuid4().hex[:8])
    rule = schedule_rule(c, r, args.schedule)
    schedule = schedule_scheduler(c, r, args.schedule) if args.scheduler else None
    try:
        jobs = finished_jobs(c, r, f"{r['name']}-from-rule", args.runs, args.timeout)
        if schedule:
            jobs += finished_jobs(c, r, f"{r['name']}-from-scheduler", args.runs, args.timeout)
    finally:
        c["events"].disable_rule(Name=rule)
        if schedule:
            c["scheduler"].delete_schedule(Name=schedule)
    report(c, jobs)
    return 0 if all(j["status"] == "SUCCEEDED" for j in jobs) else 1


if __name__ == "__main__":
    sys.exit(main())
