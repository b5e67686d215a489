"""The real `aws` CLI (`aws batch ...`, a subprocess per command) against the server, per
operation family: shorthand syntax, --cli-input-json with AWS's own examples, and the
pagination flags. Batch's model defines no waiters (`aws batch wait` does not exist), so the
pagination flags are what the CLI adds on top of the API.

HOME is an empty temporary directory and the credentials come from the environment, so no
user configuration leaks in. Prerequisites that are not the subject of a test are made with
boto3 (milliseconds, where each CLI command costs most of a second).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from botocore import xform_name

from conformance.examples import example
from conformance.harness import (OPERATIONS, REGION, SECRET, NotImplementedYet, unique, wait_gone, wait_job,
                                wait_settled)
from conformance.registry import covers
from conformance.world import QUOTA_INSTANCE_TYPE, TRAINING_JOB, World, container_properties

pytestmark = pytest.mark.skipif(shutil.which("aws") is None, reason="the aws CLI is not installed")

COMMANDS = {xform_name(op, "-"): op for op in OPERATIONS}


class Aws:
    def __init__(self, endpoint_url, home, account, sent: set):
        self.url = endpoint_url
        self.sent = sent
        self.env = {"PATH": os.environ["PATH"], "HOME": str(home), "AWS_ACCESS_KEY_ID": account,
                    "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": REGION,
                    "AWS_CONFIG_FILE": str(home / "no-config"),
                    "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"), "AWS_PAGER": "",
                    "AWS_MAX_ATTEMPTS": "1"}

    def run(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run(["aws", "--endpoint-url", self.url, "--output", "json", *args],
                              env=self.env, capture_output=True, text=True, timeout=60)

    def __call__(self, command, *args):
        """`aws batch <command> <args>`: its JSON output; fails on a non-zero exit."""
        self.sent.add(COMMANDS[command])
        result = self.run("batch", command, *args)
        if result.returncode != 0 and "(NotImplemented)" in result.stderr:
            raise NotImplementedYet(COMMANDS[command], result.stderr.strip())
        assert result.returncode == 0, f"aws batch {command} failed: {result.stderr}"
        return json.loads(result.stdout) if result.stdout.strip() else {}

    def error(self, command, *args) -> str:
        """stderr of a command that must fail with a ClientException (exit code 254 in v1)."""
        self.sent.add(COMMANDS[command])
        result = self.run("batch", command, *args)
        assert result.returncode != 0 and "(ClientException)" in result.stderr, result
        return result.stderr


@pytest.fixture()
def aws(endpoint, account, tmp_path, calls):
    return Aws(endpoint.url, tmp_path, account, calls["cli"])


def describe_ce(batch, name):
    found = batch.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"]
    return found[0] if found else None


def describe_queue(batch, name):
    found = batch.describe_job_queues(jobQueues=[name])["jobQueues"]
    return found[0] if found else None


@covers("cli", "CreateComputeEnvironment", "DescribeComputeEnvironments", "CreateJobQueue", "DescribeJobQueues",
        "UpdateJobQueue", "DeleteJobQueue", "UpdateComputeEnvironment", "DeleteComputeEnvironment")
def test_compute_environment_and_queue_lifecycle(aws, batch, account, tmp_path):
    request, response = example("CreateComputeEnvironment", "To create a managed EC2 compute environment", account)
    (tmp_path / "ce.json").write_text(json.dumps(request))
    assert aws("create-compute-environment", "--cli-input-json", f"file://{tmp_path / 'ce.json'}") == response
    wait_settled(lambda: describe_ce(batch, "C4OnDemand"))
    (ce,) = aws("describe-compute-environments", "--compute-environments", "C4OnDemand")["computeEnvironments"]
    assert ce["computeResources"]["instanceTypes"] == request["computeResources"]["instanceTypes"]

    out = aws("create-job-queue", "--job-queue-name", "HighPriority", "--priority", "10",
              "--compute-environment-order", "order=1,computeEnvironment=C4OnDemand")
    assert out["jobQueueArn"] == f"arn:aws:batch:us-east-1:{account}:job-queue/HighPriority"
    wait_settled(lambda: describe_queue(batch, "HighPriority"))
    (queue,) = aws("describe-job-queues", "--job-queues", "HighPriority")["jobQueues"]
    assert queue["computeEnvironmentOrder"] == [{"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}]

    aws("update-job-queue", "--job-queue", "HighPriority", "--state", "DISABLED")
    wait_settled(lambda: describe_queue(batch, "HighPriority"))
    assert aws("delete-job-queue", "--job-queue", "HighPriority") == {}
    wait_gone(lambda: describe_queue(batch, "HighPriority"))
    aws("update-compute-environment", "--compute-environment", "C4OnDemand", "--state", "DISABLED")
    wait_settled(lambda: describe_ce(batch, "C4OnDemand"))
    assert aws("delete-compute-environment", "--compute-environment", "C4OnDemand") == {}
    wait_gone(lambda: describe_ce(batch, "C4OnDemand"))


@covers("cli", "RegisterJobDefinition", "DescribeJobDefinitions", "TagResource", "ListTagsForResource",
        "UntagResource", "DeregisterJobDefinition")
def test_job_definition_and_tags(aws, account, tmp_path):
    request, response = example("RegisterJobDefinition", "RegisterJobDefinition with tags", account)
    (tmp_path / "jd.json").write_text(json.dumps(request))
    assert aws("register-job-definition", "--cli-input-json", f"file://{tmp_path / 'jd.json'}") == response
    arn = response["jobDefinitionArn"]
    (jd,) = aws("describe-job-definitions", "--job-definition-name", "sleep30")["jobDefinitions"]
    assert jd["containerProperties"]["command"] == ["sleep", "30"] and jd["status"] == "ACTIVE"

    assert aws("tag-resource", "--resource-arn", arn, "--tags", "Stage=Alpha") == {}
    _, listed = example("ListTagsForResource", "ListTagsForResource Example", account)
    assert aws("list-tags-for-resource", "--resource-arn", arn) == listed
    assert aws("untag-resource", "--resource-arn", arn, "--tag-keys", "Stage", "Department") == {}
    assert aws("list-tags-for-resource", "--resource-arn", arn) == {"tags": {"User": "JaneDoe"}}
    assert aws("deregister-job-definition", "--job-definition", "sleep30:1") == {}
    (jd,) = aws("describe-job-definitions", "--job-definitions", arn)["jobDefinitions"]
    assert jd["status"] == "INACTIVE"


@covers("cli", "CreateSchedulingPolicy", "DescribeSchedulingPolicies", "ListSchedulingPolicies",
        "UpdateSchedulingPolicy", "DeleteSchedulingPolicy")
def test_scheduling_policy(aws, account):
    name = unique("fair")
    out = aws("create-scheduling-policy", "--name", name, "--fairshare-policy",
              "shareDecaySeconds=3600,computeReservation=1,"
              "shareDistribution=[{shareIdentifier=A1,weightFactor=0.5},{shareIdentifier=B*,weightFactor=2}]")
    arn = out["arn"]
    assert arn == f"arn:aws:batch:us-east-1:{account}:scheduling-policy/{name}"
    (policy,) = aws("describe-scheduling-policies", "--arns", arn)["schedulingPolicies"]
    assert policy["fairsharePolicy"]["shareDistribution"] == [{"shareIdentifier": "A1", "weightFactor": 0.5},
                                                              {"shareIdentifier": "B*", "weightFactor": 2.0}]
    assert aws("list-scheduling-policies")["schedulingPolicies"] == [{"arn": arn}]
    aws("update-scheduling-policy", "--arn", arn, "--fairshare-policy", "shareDecaySeconds=60")
    (policy,) = aws("describe-scheduling-policies", "--arns", arn)["schedulingPolicies"]
    assert policy["fairsharePolicy"]["shareDecaySeconds"] == 60
    assert aws("delete-scheduling-policy", "--arn", arn) == {}


@covers("cli", "SubmitJob", "DescribeJobs", "ListJobs", "CancelJob", "TerminateJob", "GetJobQueueSnapshot")
def test_jobs(aws, batch):
    w = World(batch)
    queue, jd = w.held_job_queue(), w.job_definition()["name"]  # jobs wait in RUNNABLE
    first = aws("submit-job", "--job-name", "first", "--job-queue", queue, "--job-definition", jd,
                "--container-overrides", "command=echo,Ref::greeting", "--parameters", "greeting=hi")["jobId"]
    second = aws("submit-job", "--job-name", "second", "--job-queue", queue, "--job-definition", jd,
                 "--depends-on", f"jobId={first}")["jobId"]
    wait_job(batch, first, "RUNNABLE")
    (job,) = aws("describe-jobs", "--jobs", first)["jobs"]
    assert job["container"]["command"] == ["echo", "hi"] and job["parameters"] == {"greeting": "hi"}  # ref §5.5
    listed = aws("list-jobs", "--job-queue", queue, "--job-status", "RUNNABLE")["jobSummaryList"]
    assert [j["jobId"] for j in listed] == [first]
    snapshot = aws("get-job-queue-snapshot", "--job-queue", queue)
    assert [j["jobArn"] for j in snapshot["frontOfQueue"]["jobs"]] == [job["jobArn"]]
    assert aws("cancel-job", "--job-id", second, "--reason", "not needed") == {}
    assert aws("terminate-job", "--job-id", first, "--reason", "stop") == {}
    assert (wait_job(batch, first, "FAILED")["statusReason"]) == "stop"
    wait_job(batch, second, "FAILED")  # cancelled, or failed with its dependency (ref §6.7, §8)


@covers("cli", "ListSchedulingPolicies")
def test_pagination_flags(aws, batch):
    # The batch model defines no waiters: the CLI has no `aws batch wait`.
    result = aws.run("batch", "wait", "help")
    assert result.returncode != 0 and "Invalid choice" in result.stderr
    arns = sorted(batch.create_scheduling_policy(name=unique("page"))["arn"] for _ in range(3))

    def listed(out):
        return [p["arn"] for p in out["schedulingPolicies"]]
    # --page-size: the CLI asks for one item at a time and follows nextToken to the end.
    out = aws("list-scheduling-policies", "--page-size", "1")
    assert sorted(listed(out)) == arns and "NextToken" not in out
    # --max-items / --starting-token: the CLI's own resumable pages.
    head = aws("list-scheduling-policies", "--max-items", "2")
    assert len(listed(head)) == 2 and head["NextToken"]
    tail = aws("list-scheduling-policies", "--max-items", "2", "--starting-token", head["NextToken"])
    assert sorted(listed(head) + listed(tail)) == arns and "NextToken" not in tail
    # --no-paginate: one request, the server's own maxResults and nextToken.
    one = aws("list-scheduling-policies", "--no-paginate", "--max-results", "1")
    assert len(listed(one)) == 1 and one["nextToken"]


@covers("cli", "CreateConsumableResource", "DescribeConsumableResource", "UpdateConsumableResource",
        "ListConsumableResources", "ListJobsByConsumableResource", "DeleteConsumableResource")
def test_consumable_resource(aws, batch):
    name = unique("licence")
    aws("create-consumable-resource", "--consumable-resource-name", name, "--total-quantity", "10",
        "--resource-type", "REPLENISHABLE")
    shown = aws("describe-consumable-resource", "--consumable-resource", name)
    assert (shown["totalQuantity"], shown["availableQuantity"]) == (10, 10)
    out = aws("update-consumable-resource", "--consumable-resource", name, "--operation", "ADD", "--quantity", "5")
    assert out["totalQuantity"] == 15
    found = aws("list-consumable-resources", "--filters", f"name=CONSUMABLE_RESOURCE_NAME,values={name}")
    assert [r["consumableResourceName"] for r in found["consumableResources"]] == [name]
    w = World(batch)
    jd = batch.register_job_definition(jobDefinitionName=unique("jd"), type="container",
                                       containerProperties=container_properties(),
                                       consumableResourceProperties={"consumableResourceList": [
                                           {"consumableResource": name, "quantity": 2}]})["jobDefinitionArn"]
    job_id = batch.submit_job(jobName="needs-two", jobQueue=w.held_job_queue(), jobDefinition=jd)["jobId"]
    jobs = aws("list-jobs-by-consumable-resource", "--consumable-resource", name)["jobs"]
    assert [(j["jobArn"].rsplit("/", 1)[1], j["quantity"]) for j in jobs] == [(job_id, 2)]
    # batchemu refuses to delete a resource an unfinished job needs (AWS doesn't say; ref §13.1).
    batch.cancel_job(jobId=job_id, reason="make way")
    wait_job(batch, job_id, "FAILED")
    assert aws("delete-consumable-resource", "--consumable-resource", name) == {}


@covers("cli", "CreateServiceEnvironment", "DescribeServiceEnvironments", "UpdateServiceEnvironment",
        "DeleteServiceEnvironment", "SubmitServiceJob", "DescribeServiceJob", "ListServiceJobs",
        "UpdateServiceJob", "TerminateServiceJob")
def test_service_environment_and_jobs(aws, batch, tmp_path):
    w = World(batch)
    name = unique("se")
    aws("create-service-environment", "--service-environment-name", name, "--service-environment-type",
        "SAGEMAKER_TRAINING", "--capacity-limits", "maxCapacity=5,capacityUnit=NUM_INSTANCES")
    w.settle_se(name)
    (se,) = aws("describe-service-environments", "--service-environments", name)["serviceEnvironments"]
    assert se["capacityLimits"] == [{"maxCapacity": 5, "capacityUnit": "NUM_INSTANCES"}]
    aws("update-service-environment", "--service-environment", name, "--state", "DISABLED")
    w.settle_se(name)
    assert aws("delete-service-environment", "--service-environment", name) == {}

    queue = w.held_service_queue()  # its jobs wait in RUNNABLE, so they can still be updated
    (tmp_path / "payload.json").write_text(json.dumps(TRAINING_JOB))
    out = aws("submit-service-job", "--job-name", "training", "--job-queue", queue, "--service-job-type",
              "SAGEMAKER_TRAINING", "--service-request-payload", f"file://{tmp_path / 'payload.json'}")
    job = aws("describe-service-job", "--job-id", out["jobId"])
    assert json.loads(job["serviceRequestPayload"]) == TRAINING_JOB
    listed = aws("list-service-jobs", "--job-queue", queue, "--filters", "name=JOB_NAME,values=training")
    assert [j["jobId"] for j in listed["jobSummaryList"]] == [out["jobId"]]
    assert aws("update-service-job", "--job-id", out["jobId"], "--scheduling-priority", "7")["jobId"] == out["jobId"]
    assert aws("terminate-service-job", "--job-id", out["jobId"], "--reason", "done") == {}


@covers("cli", "CreateQuotaShare", "DescribeQuotaShare", "ListQuotaShares", "UpdateQuotaShare", "DeleteQuotaShare")
def test_quota_share(aws, batch):
    queue = World(batch).service_queue("quota-queue", quota_management=True)
    name = unique("share")
    arn = aws("create-quota-share", "--quota-share-name", name, "--job-queue", queue,
              "--capacity-limits", f"maxCapacity=2,capacityUnit={QUOTA_INSTANCE_TYPE}",
              "--resource-sharing-configuration", "strategy=RESERVE",
              "--preemption-configuration", "inSharePreemption=DISABLED")["quotaShareArn"]
    assert aws("describe-quota-share", "--quota-share-arn", arn)["quotaShareName"] == name
    assert [s["quotaShareArn"] for s in aws("list-quota-shares", "--job-queue", queue)["quotaShares"]] == [arn]
    aws("update-quota-share", "--quota-share-arn", arn, "--state", "DISABLED")
    wait_settled(lambda: batch.describe_quota_share(quotaShareArn=arn), what="the quota share")
    assert aws("delete-quota-share", "--quota-share-arn", arn) == {}
