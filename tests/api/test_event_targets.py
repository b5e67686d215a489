"""EventBridge completed around moto, as a user sees it through boto3 on one endpoint: rules whose
target is a Batch job queue submit jobs (Input/InputPath/InputTransformer reach the job's
Parameters and ContainerOverrides), failed submissions land in the dead-letter queue with
EventBridge's attributes, S3 uploads put AWS-shaped events on the default bus, and scheduled
rules and EventBridge Scheduler schedules fire (--time-scale 60: a minute is a second).
Jobs really run (process runner)."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import unquote_plus

import pytest

from batchemu.testing import running_server
from tests.helpers import wait_until
from tests.e2e.support import new_account


@pytest.fixture(scope="module")
def server():
    with running_server(runner="process", time_scale=60) as s:
        yield s


class Account:
    """An account of its own with a job queue, a job definition that prints its parameter and
    environment, and helpers."""

    def __init__(self, server):
        self.id = new_account()
        self.server = server
        self.batch, self.sqs, self.events, self.s3, self.logs = (
            server.client(s, access_key=self.id) for s in ("batch", "sqs", "events", "s3", "logs"))
        self.batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
        self.queue_arn = self.batch.create_job_queue(
            jobQueueName="q", priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])["jobQueueArn"]
        self.batch.register_job_definition(
            jobDefinitionName="echo", type="container", parameters={"key": "none"},
            containerProperties={"image": "busybox", "command": ["sh", "-c", "echo key=$0 who=$WHO", "Ref::key"],
                                 "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                          {"type": "MEMORY", "value": "64"}]})

    def queue(self, name: str) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def messages(self, url: str, count: int = 1, timeout: float = 15) -> list:
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            assert time.monotonic() < deadline, f"timed out with {len(got)} of {count} messages"
            for m in self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                              MessageAttributeNames=["All"]).get("Messages", []):
                got.append(m)
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return got

    def jobs(self, name: str) -> list:
        summaries = self.batch.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": [name]}])
        return summaries["jobSummaryList"]

    def finished_job(self, name: str, timeout: float = 20) -> dict:
        found = wait_until(lambda: self.jobs(name), timeout=timeout)
        job_id = found[0]["jobId"]
        return wait_until(lambda: next((j for j in self.batch.describe_jobs(jobs=[job_id])["jobs"]
                                        if j["status"] in ("SUCCEEDED", "FAILED")), None), timeout=timeout)

    def output(self, job: dict) -> list[str]:
        stream = job["container"]["logStreamName"]
        return [e["message"] for e in self.logs.get_log_events(logGroupName="/aws/batch/job",
                                                                logStreamName=stream)["events"]]

    def batch_target(self, **extra) -> dict:
        return {"Id": "batch", "Arn": self.queue_arn, "RoleArn": f"arn:aws:iam::{self.id}:role/events",
                "BatchParameters": {"JobDefinition": "echo", "JobName": extra.pop("JobName", "from-rule")},
                **extra}


@pytest.fixture
def account(server):
    return Account(server)


PATTERN = json.dumps({"source": ["my.app"], "detail-type": ["File Ready"]})


def put_event(account, detail: dict):
    out = account.events.put_events(Entries=[{"Source": "my.app", "DetailType": "File Ready",
                                              "Detail": json.dumps(detail)}])
    assert out["FailedEntryCount"] == 0


def test_a_rule_submits_a_job_with_the_transformed_input_as_parameters_and_overrides(account):
    account.events.put_rule(Name="files", EventPattern=PATTERN)
    target = account.batch_target(JobName="transformed", InputTransformer={
        "InputPathsMap": {"name": "$.detail.name", "who": "$.detail.who"},
        "InputTemplate": '{"Parameters": {"key": <name>}, "ContainerOverrides": '
                         '{"Environment": [{"Name": "WHO", "Value": <who>}]}}'})
    account.events.put_targets(Rule="files", Targets=[target])
    put_event(account, {"name": "photo.jpg", "who": "alice"})
    job = account.finished_job("transformed")
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    assert job["parameters"]["key"] == "photo.jpg"
    assert {"name": "WHO", "value": "alice"} in job["container"]["environment"]
    assert wait_until(lambda: "key=photo.jpg who=alice" in account.output(job))
    assert job["jobQueue"] == account.queue_arn


def test_batch_parameters_array_size_and_attempts_reach_the_job(account):
    account.events.put_rule(Name="arrays", EventPattern=PATTERN)
    target = account.batch_target(JobName="array-from-rule", Input=json.dumps({"Parameters": {"key": "fixed"}}))
    target["BatchParameters"].update({"ArrayProperties": {"Size": 3}, "RetryStrategy": {"Attempts": 2}})
    account.events.put_targets(Rule="arrays", Targets=[target])
    put_event(account, {"name": "ignored"})
    job = account.finished_job("array-from-rule")
    assert job["arrayProperties"]["size"] == 3
    assert job["retryStrategy"]["attempts"] == 2
    assert job["parameters"]["key"] == "fixed"


def test_a_failed_submission_goes_to_the_dead_letter_queue_with_eventbridges_attributes(account):
    dlq_url, dlq_arn = account.queue("dlq")
    account.events.put_rule(Name="broken", EventPattern=PATTERN)
    rule_arn = account.events.describe_rule(Name="broken")["Arn"]
    target = account.batch_target(JobName="never", DeadLetterConfig={"Arn": dlq_arn},
                                  RetryPolicy={"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60})
    target["BatchParameters"]["JobDefinition"] = "missing-definition"
    account.events.put_targets(Rule="broken", Targets=[target])
    put_event(account, {"name": "x"})
    [message] = account.messages(dlq_url)
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == rule_arn
    assert attributes["TARGET_ARN"] == account.queue_arn
    assert attributes["ERROR_CODE"] in ("NO_RESOURCE", "SDK_CLIENT_ERROR")
    assert "missing-definition" in attributes["ERROR_MESSAGE"]
    body = json.loads(message["Body"])
    assert body["source"] == "my.app" and body["detail"] == {"name": "x"}
    assert account.jobs("never") == []


def test_sqs_targets_get_input_inputpath_and_templates(account):
    url, arn = account.queue("inputs")
    account.events.put_rule(Name="to-sqs", EventPattern=PATTERN)
    account.events.put_targets(Rule="to-sqs", Targets=[
        {"Id": "whole", "Arn": arn},
        {"Id": "constant", "Arn": arn, "Input": '{"fixed": true}'},
        {"Id": "path", "Arn": arn, "InputPath": "$.detail.name"},
        {"Id": "text", "Arn": arn, "InputTransformer": {"InputPathsMap": {"n": "$.detail.name"},
                                                        "InputTemplate": '"file <n> is ready"'}},
    ])
    put_event(account, {"name": "a.txt"})
    bodies = sorted(m["Body"] for m in account.messages(url, 4))
    whole = json.loads(next(b for b in bodies if b.startswith("{\"version")))
    assert list(whole) == ["version", "id", "detail-type", "source", "account", "time", "region",
                           "resources", "detail"]
    assert whole["account"] == account.id and whole["time"].endswith("Z")
    assert '{"fixed": true}' in bodies and '"a.txt"' in bodies and '"file a.txt is ready"' in bodies


def test_disabled_and_scheduled_rules_take_no_events(account):
    url, arn = account.queue("quiet")
    account.events.put_rule(Name="off", EventPattern=PATTERN, State="DISABLED")
    account.events.put_rule(Name="hourly", ScheduleExpression="rate(1 hour)")
    for rule in ("off", "hourly"):
        account.events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    put_event(account, {"name": "nobody"})
    time.sleep(1)
    assert account.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []


def test_a_scheduled_rule_fires_every_minute_of_scaled_time(account):
    url, arn = account.queue("ticks")
    account.events.put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")
    rule_arn = account.events.describe_rule(Name="every-minute")["Arn"]
    started = time.monotonic()
    account.events.put_targets(Rule="every-minute", Targets=[{"Id": "q", "Arn": arn}, account.batch_target(
        JobName="scheduled", Input=json.dumps({"Parameters": {"key": "tick"}}))])
    first, second = (json.loads(m["Body"]) for m in account.messages(url, 2, timeout=10))
    elapsed = time.monotonic() - started
    assert elapsed < 5, elapsed  # two firings of rate(1 minute) at --time-scale 60: about 2 s
    assert first["detail-type"] == "Scheduled Event" and first["source"] == "aws.events"
    assert first["resources"] == [rule_arn] and first["detail"] == {}
    job = account.finished_job("scheduled")
    assert job["status"] == "SUCCEEDED" and job["parameters"]["key"] == "tick"
    account.events.disable_rule(Name="every-minute")


def test_a_cron_rule_fires_on_the_scaled_minute(account):
    url, arn = account.queue("cron")
    account.events.put_rule(Name="cron", ScheduleExpression="cron(* * * * ? *)")
    account.events.put_targets(Rule="cron", Targets=[{"Id": "q", "Arn": arn}])
    assert json.loads(account.messages(url, 1, timeout=5)[0]["Body"])["detail-type"] == "Scheduled Event"
    account.events.remove_targets(Rule="cron", Ids=["q"])
    account.events.delete_rule(Name="cron")


def test_an_eventbridge_scheduler_schedule_submits_a_job(account):
    scheduler = account.server.client("scheduler", access_key=account.id)
    scheduler.create_schedule(
        Name="nightly", ScheduleExpression="rate(1 minute)", FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": "arn:aws:scheduler:::aws-sdk:batch:submitJob",
                "RoleArn": f"arn:aws:iam::{account.id}:role/scheduler",
                "Input": json.dumps({"JobName": "from-scheduler", "JobQueue": "q", "JobDefinition": "echo",
                                     "Parameters": {"key": "<aws.scheduler.schedule-arn>"},
                                     "ContainerOverrides": {"Environment": [{"Name": "WHO", "Value": "cron"}]}})})
    job = account.finished_job("from-scheduler")
    assert job["status"] == "SUCCEEDED"
    arn = scheduler.get_schedule(Name="nightly")["Arn"]
    assert wait_until(lambda: f"key={arn} who=cron" in account.output(job))
    scheduler.delete_schedule(Name="nightly")


def test_s3_uploads_put_aws_shaped_events_on_the_default_bus(account):
    url, arn = account.queue("s3-events")
    account.s3.create_bucket(Bucket=f"in-{account.id}")
    bucket = f"in-{account.id}"
    notified_url, notified_arn = account.queue("s3-notifications")
    account.s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={
            "EventBridgeConfiguration": {},
            "QueueConfigurations": [{"QueueArn": notified_arn, "Events": ["s3:ObjectCreated:*"]}]})
    account.events.put_rule(Name="uploads", EventPattern=json.dumps(
        {"source": ["aws.s3"], "detail-type": ["Object Created", "Object Deleted"],
         "detail": {"bucket": {"name": [bucket]}}}))
    account.events.put_targets(Rule="uploads", Targets=[
        {"Id": "q", "Arn": arn},
        account.batch_target(JobName="on-upload", InputTransformer={
            "InputPathsMap": {"key": "$.detail.object.key"},
            "InputTemplate": '{"Parameters": {"key": <key>}}'})])
    account.s3.put_object(Bucket=bucket, Key="img/a.png", Body=b"12345")
    account.s3.delete_object(Bucket=bucket, Key="img/a.png")
    created, deleted = (json.loads(m["Body"]) for m in account.messages(url, 2))
    assert created["detail-type"] == "Object Created" and created["source"] == "aws.s3"
    assert created["resources"] == [f"arn:aws:s3:::{bucket}"] and created["account"] == account.id
    detail = created["detail"]
    assert detail["reason"] == "PutObject" and detail["bucket"] == {"name": bucket}
    assert detail["object"]["key"] == "img/a.png" and detail["object"]["size"] == 5
    assert detail["object"]["etag"] == "827ccb0eea8a706c4c34a16891f84e7b"
    assert set(detail) >= {"version", "request-id", "requester", "source-ip-address"}
    assert deleted["detail-type"] == "Object Deleted"
    assert deleted["detail"]["reason"] == "DeleteObject"
    assert deleted["detail"]["deletion-type"] == "Permanently Deleted"
    assert int(deleted["detail"]["object"]["sequencer"], 16) > int(detail["object"]["sequencer"], 16)
    # S3's own notification to SQS (a worker-queue design) still arrives beside EventBridge's.
    records = [json.loads(m["Body"]) for m in account.messages(notified_url, 1)]
    record = next(r for r in records if "Records" in r)["Records"][0]
    # (moto URL-encodes the key's "/" too; a worker decodes it with unquote_plus, as on AWS)
    assert record["eventName"] == "ObjectCreated:Put" and unquote_plus(record["s3"]["object"]["key"]) == "img/a.png"
    job = account.finished_job("on-upload")
    assert job["parameters"]["key"] == "img/a.png" and job["status"] == "SUCCEEDED"


def test_invalid_schedule_expressions_are_refused_with_the_reason(account):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match=r"ScheduleExpression is not valid. Reason: .*exactly one of day-of-month"):
        account.events.put_rule(Name="bad", ScheduleExpression="cron(0 10 * * * *)")
    with pytest.raises(ClientError, match=r"BatchParameters must be specified for target: job"):
        account.events.put_rule(Name="bare", EventPattern=PATTERN)
        account.events.put_targets(Rule="bare", Targets=[{"Id": "job", "Arn": account.queue_arn}])
    with pytest.raises(ClientError, match=r"Reason: rate\(1 minutes\): the unit must be singular"):
        account.events.put_rule(Name="bad", ScheduleExpression="rate(1 minutes)")
    scheduler = account.server.client("scheduler", access_key=account.id)
    with pytest.raises(ClientError, match=r"Invalid Schedule Expression cron\(0 25 \* \* \? \*\): .*hours: 25"):
        scheduler.create_schedule(Name="bad", ScheduleExpression="cron(0 25 * * ? *)",
                                  FlexibleTimeWindow={"Mode": "OFF"},
                                  Target={"Arn": "arn:aws:scheduler:::aws-sdk:batch:submitJob",
                                          "RoleArn": "arn:aws:iam::123456789012:role/r", "Input": "{}"})


def test_scheduled_rules_and_schedules_fire_again_after_a_restart(tmp_path):
    """A server with a data dir keeps its scheduled rules and schedules in its store; the next
    server puts them back into moto (whose state a new process would have lost: dropped here
    for this account) and they fire without any EventBridge call."""
    from moto.events.models import events_backends
    from moto.scheduler.models import scheduler_backends

    with running_server(runner="process", time_scale=60, data_dir=str(tmp_path)) as first:
        account = Account(first)
        account.events.put_rule(Name="kept", ScheduleExpression="rate(1 minute)", State="DISABLED")
        account.events.put_targets(Rule="kept", Targets=[account.batch_target(
            JobName="after-restart", Input=json.dumps({"Parameters": {"key": "kept"}}))])
        account.server.client("scheduler", access_key=account.id).create_schedule(
            Name="kept-schedule", ScheduleExpression="rate(1 minute)", FlexibleTimeWindow={"Mode": "OFF"},
            State="DISABLED",
            Target={"Arn": "arn:aws:scheduler:::aws-sdk:batch:submitJob", "RoleArn": "arn:aws:iam::1:role/r",
                    "Input": json.dumps({"JobName": "scheduler-after-restart", "JobQueue": "q",
                                         "JobDefinition": "echo"})})
        account.events.enable_rule(Name="kept")  # the kept copy follows every change
        assert account.jobs("after-restart") == []  # disabled until just now: nothing fired yet
    events_backends[account.id]["us-east-1"].event_buses["default"].rules.clear()
    scheduler_backends[account.id]["us-east-1"].schedule_groups["default"].schedules.clear()
    with running_server(runner="process", time_scale=60, data_dir=str(tmp_path)) as second:
        account.server = second
        account.batch, account.logs = (second.client(s, access_key=account.id) for s in ("batch", "logs"))
        job = account.finished_job("after-restart")
        assert job["status"] == "SUCCEEDED" and job["parameters"]["key"] == "kept"
        rules = second.client("events", access_key=account.id).list_rules()["Rules"]
        assert [(r["Name"], r["State"]) for r in rules] == [("kept", "ENABLED")]
        schedule = second.client("scheduler", access_key=account.id).get_schedule(Name="kept-schedule")
        assert schedule["State"] == "DISABLED"
        assert account.jobs("scheduler-after-restart") == []
        second.emulator.pipelines.moto_was_reset()
        assert not second.emulator.pipelines.durable.has_any()


def test_a_disabled_queue_refuses_the_submission_into_the_dead_letter_queue(account):
    dlq_url, dlq_arn = account.queue("dlq-disabled")
    account.batch.update_job_queue(jobQueue="q", state="DISABLED")
    account.events.put_rule(Name="to-disabled", EventPattern=PATTERN)
    account.events.put_targets(Rule="to-disabled", Targets=[account.batch_target(
        JobName="refused", DeadLetterConfig={"Arn": dlq_arn})])
    put_event(account, {"name": "late"})
    [message] = account.messages(dlq_url)
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "SDK_CLIENT_ERROR" and "DISABLED" in attributes["ERROR_MESSAGE"]
    assert account.jobs("refused") == []


def test_a_failed_scheduler_target_goes_to_its_dead_letter_queue(account):
    dlq_url, dlq_arn = account.queue("scheduler-dlq")
    scheduler = account.server.client("scheduler", access_key=account.id)
    arn = scheduler.create_schedule(
        Name="broken", ScheduleExpression="rate(1 minute)", FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": "arn:aws:scheduler:::aws-sdk:batch:submitJob", "RoleArn": "arn:aws:iam::1:role/r",
                "Input": json.dumps({"JobName": "<aws.scheduler.execution-id>", "JobQueue": "no-such-queue",
                                     "JobDefinition": "echo"}),
                "DeadLetterConfig": {"Arn": dlq_arn}})["ScheduleArn"]
    [message] = account.messages(dlq_url, timeout=10)
    scheduler.delete_schedule(Name="broken")
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    # The attributes of the Scheduler User Guide's dead-letter event ("Configuring a dead-letter
    # queue", "Retrieve the dead-letter event"); a missing queue is not retried, so no
    # EXHAUSTED_RETRY_CONDITION.
    assert set(attributes) == {"SCHEDULE_ARN", "TARGET_ARN", "ERROR_CODE", "ERROR_MESSAGE", "EXECUTION_ID",
                               "SCHEDULED_TIME", "RETRY_ATTEMPTS", "IS_PAYLOAD_TRUNCATED"}
    assert attributes["SCHEDULE_ARN"] == arn
    assert attributes["TARGET_ARN"] == "arn:aws:scheduler:::aws-sdk:batch:submitJob"
    assert attributes["ERROR_CODE"] == "NO_RESOURCE" and "no-such-queue" in attributes["ERROR_MESSAGE"]
    assert attributes["RETRY_ATTEMPTS"] == "0" and attributes["IS_PAYLOAD_TRUNCATED"] == "false"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", attributes["SCHEDULED_TIME"])
    body = json.loads(message["Body"])  # the target's input, its context attributes replaced
    assert body["JobQueue"] == "no-such-queue" and body["JobName"] == attributes["EXECUTION_ID"]


def test_a_job_state_change_rule_submits_the_next_job(account):
    """Batch's own events drive a rule too: when "first" succeeds, a rule submits "second" with
    the first job's id as a parameter."""
    account.events.put_rule(Name="chain", EventPattern=json.dumps({
        "source": ["aws.batch"], "detail-type": ["Batch Job State Change"],
        "detail": {"status": ["SUCCEEDED"], "jobName": ["first"]}}))
    account.events.put_targets(Rule="chain", Targets=[account.batch_target(JobName="second", InputTransformer={
        "InputPathsMap": {"id": "$.detail.jobId"}, "InputTemplate": '{"Parameters": {"key": <id>}}'})])
    first = account.batch.submit_job(jobName="first", jobQueue="q", jobDefinition="echo")["jobId"]
    second = account.finished_job("second")
    assert second["status"] == "SUCCEEDED" and second["parameters"]["key"] == first
    assert wait_until(lambda: f"key={first} who=" in account.output(second))


def test_a_log_group_target_writes_into_batchemus_cloudwatch_logs(account):
    dlq_url, dlq_arn = account.queue("logs-dlq")
    account.logs.create_log_group(logGroupName="/events/files")
    arn = f"arn:aws:logs:us-east-1:{account.id}:log-group:/events/files"
    account.events.put_rule(Name="to-logs", EventPattern=PATTERN)
    account.events.put_targets(Rule="to-logs", Targets=[
        {"Id": "logs", "Arn": arn},
        {"Id": "missing", "Arn": f"arn:aws:logs:us-east-1:{account.id}:log-group:/events/none",
         "DeadLetterConfig": {"Arn": dlq_arn}}])
    put_event(account, {"name": "logged.txt"})
    streams = account.logs.describe_log_streams(logGroupName="/events/files")["logStreams"]
    [event] = account.logs.get_log_events(logGroupName="/events/files",
                                          logStreamName=streams[0]["logStreamName"])["events"]
    logged = json.loads(event["message"])
    assert logged["detail"] == {"name": "logged.txt"} and streams[0]["logStreamName"] == logged["id"]
    [message] = account.messages(dlq_url)
    assert message["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "NO_RESOURCE"


def test_versioned_buckets_report_version_ids_and_delete_markers(account):
    url, arn = account.queue("versioned-events")
    bucket = f"versioned-{account.id}"
    account.s3.create_bucket(Bucket=bucket)
    account.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    account.s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    account.events.put_rule(Name="versioned", EventPattern=json.dumps(
        {"source": ["aws.s3"], "detail": {"bucket": {"name": [bucket]}}}))
    account.events.put_targets(Rule="versioned", Targets=[{"Id": "q", "Arn": arn}])
    version = account.s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["VersionId"]
    account.s3.delete_object(Bucket=bucket, Key="k")
    created, deleted = (json.loads(m["Body"]) for m in account.messages(url, 2))
    assert created["detail"]["object"]["version-id"] == version
    assert deleted["detail-type"] == "Object Deleted"
    assert deleted["detail"]["deletion-type"] == "Delete Marker Created"
    assert deleted["detail"]["object"]["version-id"] != version
    account.s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=version,
                                  Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    [tagged] = (json.loads(m["Body"]) for m in account.messages(url, 1))
    assert tagged["detail-type"] == "Object Tags Added" and tagged["detail"]["object"]["key"] == "k"
    account.s3.delete_object(Bucket=bucket, Key="k", VersionId=version)  # the first version, for good
    [gone] = (json.loads(m["Body"]) for m in account.messages(url, 1))
    assert gone["detail"]["deletion-type"] == "Permanently Deleted"
    assert gone["detail"]["object"]["version-id"] == version and gone["detail"]["object"]["etag"]
