""""Batch Job State Change" events (ref §14.1) as a user sees them: through an EventBridge rule
with an SQS target (moto, same endpoint), and on the GET /batchemu/events Server-Sent Events
stream. Jobs really run (process runner: `echo` on the host)."""

from __future__ import annotations

import calendar
import json
import re
import time
import urllib.error
import urllib.request
import uuid

import pytest

from batchemu import events as events_module
from batchemu.testing import running_server
from tests.e2e.support import new_account

ENVELOPE_KEYS = ["version", "id", "detail-type", "source", "account", "time", "region", "resources",
                 "detail"]
LIFE = ["RUNNABLE", "STARTING", "RUNNING"]


@pytest.fixture(scope="module")
def server():
    with running_server(runner="process") as s:
        yield s


class Account:
    """An account of its own with a queue that runs jobs, and helpers for events."""

    def __init__(self, server, region: str = "us-east-1", account: str | None = None):
        self.id = account or new_account()
        self.server = server
        self.region = region
        self.batch = self.client("batch")
        self.sqs = self.client("sqs")
        self.events = self.client("events")
        self.batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
        self.batch.create_job_queue(jobQueueName="q", priority=1,
                                    computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])

    def client(self, service):
        return self.server.client(service, access_key=self.id, region=self.region)

    def rule_to_queue(self, name: str, state: str = "ENABLED") -> str:
        """An EventBridge rule for Batch job state changes with a new SQS queue as its target."""
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.events.put_rule(Name=name, State=state, EventPattern=json.dumps(
            {"source": ["aws.batch"], "detail-type": ["Batch Job State Change"]}))
        self.events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
        return url

    def run(self, name: str, command: list) -> str:
        self.batch.register_job_definition(
            jobDefinitionName=name, type="container",
            containerProperties={"image": "busybox", "command": command, "resourceRequirements": [
                {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]})
        return self.batch.submit_job(jobName=name, jobQueue="q", jobDefinition=name)["jobId"]

    def received(self, url: str, until, timeout: float = 30) -> list:
        """Messages (parsed) from the queue, in order, until `until(events)` holds."""
        got = []
        deadline = time.monotonic() + timeout
        while not until(got):
            assert time.monotonic() < deadline, f"timed out; got {[e['detail']['status'] for e in got]}"
            for m in self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                              WaitTimeSeconds=1).get("Messages", []):
                got.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return got


def finished(job_id):
    return lambda got: any(e["detail"]["jobId"] == job_id and e["detail"]["status"] in ("SUCCEEDED", "FAILED")
                           for e in got)


class Stream:
    """A GET /batchemu/events client: open, wait for the ': connected' comment, read events."""

    def __init__(self, server, query: str = "", timeout: float = 15):
        self.resp = urllib.request.urlopen(f"{server.url}/batchemu/events{query}", timeout=timeout)
        assert self.resp.headers["Content-Type"].startswith("text/event-stream")
        assert self.resp.readline() == b": connected\n"

    def lines(self):
        """Non-blank lines (a blank line only ends an event)."""
        while True:
            line = self.resp.readline()
            if not line:
                return
            if line != b"\n":
                yield line.decode().rstrip("\n")

    def events_until(self, until) -> list:
        got = []
        for line in self.lines():
            if line.startswith("data: "):
                got.append(json.loads(line[len("data: "):]))
                if until(got):
                    return got
        raise AssertionError("stream ended")

    def close(self):
        self.resp.close()


@pytest.fixture()
def acct(server):
    return Account(server)


def test_rule_with_sqs_target_receives_every_change_in_order(acct):
    url = acct.rule_to_queue("batch-events")
    job_id = acct.run("ok", ["echo", "hello"])
    got = acct.received(url, finished(job_id))
    assert [e["detail"]["status"] for e in got] == LIFE + ["SUCCEEDED"]  # none for SUBMITTED (§14.1)

    job = acct.batch.describe_jobs(jobs=[job_id])["jobs"][0]
    for event in got:
        assert list(event) == ENVELOPE_KEYS
        assert event["version"] == "0"
        assert uuid.UUID(event["id"])
        assert event["detail-type"] == "Batch Job State Change"
        assert event["source"] == "aws.batch"
        assert event["account"] == acct.id
        assert event["region"] == "us-east-1"
        assert event["resources"] == [job["jobArn"]]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
        assert event["detail"]["jobId"] == job_id
    assert len({e["id"] for e in got}) == 4
    # The last event's detail is the job exactly as DescribeJobs shows it.
    assert got[-1]["detail"] == job
    assert got[2]["detail"]["startedAt"] == job["startedAt"] and "stoppedAt" not in got[2]["detail"]
    assert "startedAt" not in got[0]["detail"]
    # time is when the change happened: SUCCEEDED's is stoppedAt (to the second).
    stamp = calendar.timegm(time.strptime(got[-1]["time"], "%Y-%m-%dT%H:%M:%SZ"))
    assert stamp <= job["stoppedAt"] / 1000 < stamp + 2


def test_failed_job_event_carries_exit_code_and_reason(acct):
    url = acct.rule_to_queue("failures")
    job_id = acct.run("bad", ["sh", "-c", "exit 3"])
    got = acct.received(url, finished(job_id))
    assert [e["detail"]["status"] for e in got] == LIFE + ["FAILED"]
    detail = got[-1]["detail"]
    assert detail["container"]["exitCode"] == 3
    assert detail["statusReason"] == "Essential container in task exited"
    assert detail["attempts"][0]["container"]["exitCode"] == 3


def test_only_enabled_rules_of_the_jobs_account_receive(server, acct):
    enabled = acct.rule_to_queue("on")
    disabled = acct.rule_to_queue("off", state="DISABLED")
    other = Account(server)
    elsewhere = other.rule_to_queue("other-account")
    job_id = acct.run("mine", ["echo", "1"])
    acct.received(enabled, finished(job_id))
    # Each event reaches every rule before the next event is handled, so by now the other
    # queues would hold everything they were ever going to get.
    assert acct.sqs.receive_message(QueueUrl=disabled).get("Messages") is None
    assert other.sqs.receive_message(QueueUrl=elsewhere).get("Messages") is None


def test_sse_stream_yields_the_same_events(server, acct):
    url = acct.rule_to_queue("for-sse")
    other = Account(server)
    stream = Stream(server, f"?account={acct.id}&region=us-east-1")
    try:
        noise = other.run("noise", ["echo", "other account"])
        job_id = acct.run("streamed", ["echo", "hi"])
        streamed = stream.events_until(finished(job_id))
    finally:
        stream.close()
    queued = acct.received(url, finished(job_id))
    assert {e["account"] for e in streamed} == {acct.id}
    assert noise not in {e["detail"]["jobId"] for e in streamed}
    assert [e["detail"]["status"] for e in streamed] == LIFE + ["SUCCEEDED"]
    assert streamed == queued  # same ids, same times, same details


def test_sse_every_region_of_an_account_and_region_filter(server, acct):
    every_region = Stream(server, f"?account={acct.id}")
    european = Stream(server, f"?account={acct.id}&region=eu-west-1")
    try:
        job_id = acct.run("seen", ["echo", "x"])
        got = every_region.events_until(finished(job_id))
        assert [e["detail"]["status"] for e in got if e["detail"]["jobId"] == job_id] == LIFE + ["SUCCEEDED"]
        eu_job = Account(server, region="eu-west-1", account=acct.id).run("eu", ["echo", "y"])
        eu = european.events_until(finished(eu_job))
        # The us-east-1 job's events came first but were not for this stream.
        assert {e["region"] for e in eu} == {"eu-west-1"}
        assert [e["detail"]["status"] for e in eu] == LIFE + ["SUCCEEDED"]
    finally:
        every_region.close()
        european.close()


def test_sse_keepalive_and_disconnected_clients_are_dropped(server, monkeypatch):
    monkeypatch.setattr(events_module, "KEEPALIVE_SECONDS", 0.1)
    hub = events_module._hubs[server.emulator.store]
    # Follow this stream's own subscriber: earlier tests' closed streams leave the hub at their
    # own next keep-alive, at any moment during this test, so counts would race.
    before = hub.subscribers
    stream = Stream(server)
    assert next(stream.lines()) == ": keep-alive"
    (mine,) = hub.subscribers - before
    stream.close()
    deadline = time.monotonic() + 10
    while mine in hub.subscribers:  # noticed at the next keep-alive write
        assert time.monotonic() < deadline, "the closed stream is still subscribed"
        time.sleep(0.05)


def test_sse_path_only_answers_get(server):
    request = urllib.request.Request(f"{server.url}/batchemu/events", method="POST", data=b"")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request)
    assert err.value.code == 405 and err.value.headers["Allow"] == "GET"
    assert json.loads(err.value.read())["__type"] == "ClientException"


def test_a_job_blocked_at_its_queues_head_sends_a_queue_blocked_event(server, acct):
    """ref §14.2: "Batch Job Queue Blocked", resources [job ARN, queue ARN], the job RUNNABLE with
    the blocked reason; once per reason, and not to a rule for state changes only."""
    url = acct.sqs.create_queue(QueueName="blocked")["QueueUrl"]
    arn = acct.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    acct.events.put_rule(Name="blocked", EventPattern=json.dumps(
        {"source": ["aws.batch"], "detail-type": ["Batch Job Queue Blocked"]}))
    acct.events.put_targets(Rule="blocked", Targets=[{"Id": "queue", "Arn": arn}])
    changes = acct.rule_to_queue("changes")
    acct.batch.create_compute_environment(computeEnvironmentName="small", type="MANAGED", computeResources={
        "type": "EC2", "maxvCpus": 1, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"],
        "instanceRole": "ecsInstanceRole", "instanceTypes": ["optimal"]})
    queue_arn = acct.batch.create_job_queue(jobQueueName="small", priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": "small"}])["jobQueueArn"]
    acct.batch.register_job_definition(jobDefinitionName="big", type="container", containerProperties={
        "image": "busybox", "command": ["true"],
        "resourceRequirements": [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "64"}]})
    job = acct.batch.submit_job(jobName="big", jobQueue="small", jobDefinition="big")
    (event,) = acct.received(url, lambda got: len(got) >= 1)
    assert list(event) == ENVELOPE_KEYS
    assert event["detail-type"] == "Batch Job Queue Blocked" and event["source"] == "aws.batch"
    assert event["resources"] == [job["jobArn"], queue_arn]
    assert event["detail"]["jobId"] == job["jobId"] and event["detail"]["status"] == "RUNNABLE"
    assert event["detail"]["statusReason"].startswith("MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE")
    time.sleep(2)                                         # several scheduler passes: still one event
    assert acct.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None
    seen = acct.received(changes, lambda got: any(e["detail"]["status"] == "RUNNABLE" for e in got))
    assert {e["detail-type"] for e in seen} == {"Batch Job State Change"}


def test_service_jobs_send_their_own_state_change_and_blocked_events(server, acct):
    """ref §14.2: "Batch Service Job State Change" and "Batch Service Job Queue Blocked",
    resources [service-job ARN], detail as DescribeServiceJob shows it without tags and
    serviceRequestPayload."""
    url = acct.sqs.create_queue(QueueName="service")["QueueUrl"]
    arn = acct.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    acct.events.put_rule(Name="service", EventPattern=json.dumps(
        {"source": ["aws.batch"], "detail-type": ["Batch Service Job State Change", "Batch Service Job Queue Blocked"]}))
    acct.events.put_targets(Rule="service", Targets=[{"Id": "queue", "Arn": arn}])
    acct.batch.create_service_environment(serviceEnvironmentName="se", serviceEnvironmentType="SAGEMAKER_TRAINING",
                                          capacityLimits=[{"maxCapacity": 1, "capacityUnit": "NUM_INSTANCES"}])
    acct.batch.create_job_queue(jobQueueName="sm", priority=1, serviceEnvironmentOrder=[
        {"order": 1, "serviceEnvironment": "se"}])

    def submit(name, instances):
        request = {"TrainingJobName": name, "RoleArn": "arn:aws:iam::123456789012:role/sm",
                   "AlgorithmSpecification": {"TrainingImage": "trainer:1", "TrainingInputMode": "File",
                                              "ContainerEntrypoint": ["sh", "-c", "true"]},
                   "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": instances, "VolumeSizeInGB": 1},
                   "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
                   "StoppingCondition": {"MaxRuntimeInSeconds": 600}}
        return acct.batch.submit_service_job(jobName=name, jobQueue="sm", serviceJobType="SAGEMAKER_TRAINING",
                                             serviceRequestPayload=json.dumps(request), tags={"team": "ml"})

    ok = submit("ok", 1)
    got = acct.received(url, lambda got: any(e["detail"]["status"] in ("SUCCEEDED", "FAILED") for e in got))
    assert {e["detail-type"] for e in got} == {"Batch Service Job State Change"}
    assert [e["detail"]["status"] for e in got][-1] == "SUCCEEDED", got[-1]["detail"].get("statusReason")
    assert "RUNNING" in [e["detail"]["status"] for e in got]
    for event in got:
        assert list(event) == ENVELOPE_KEYS and event["resources"] == [ok["jobArn"]]
        assert event["detail"]["jobId"] == ok["jobId"] and event["detail"]["serviceJobType"] == "SAGEMAKER_TRAINING"
        assert "tags" not in event["detail"] and "serviceRequestPayload" not in event["detail"]
    big = submit("big", 2)                                     # more instances than the environment has
    blocked = acct.received(url, lambda got: any(e["detail-type"] == "Batch Service Job Queue Blocked" for e in got))
    (event,) = [e for e in blocked if e["detail-type"] == "Batch Service Job Queue Blocked"]
    assert event["resources"] == [big["jobArn"]] and event["detail"]["status"] == "RUNNABLE"
    assert event["detail"]["statusReason"].startswith("MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE")
