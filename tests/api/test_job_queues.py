"""CreateJobQueue / Describe / Update / Delete through real boto3 (ref §4)."""

import contextlib

import pytest
from botocore.exceptions import ClientError

from batchemu.emulator import Emulator
from batchemu.config import Config
from batchemu.testing import RunningServer

EC2 = {"type": "EC2", "maxvCpus": 16, "subnets": ["subnet-1"], "instanceRole": "ecsInstanceRole",
       "instanceTypes": ["optimal"], "securityGroupIds": ["sg-1"]}
FARGATE = {"type": "FARGATE", "maxvCpus": 4, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}
EKS = {"eksClusterArn": "arn:aws:eks:us-east-1:123456789012:cluster/k", "kubernetesNamespace": "batch"}
CANCEL = {"reason": "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", "state": "RUNNABLE",
          "maxTimeSeconds": 600, "action": "CANCEL"}


def error(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def client_error(call, **kwargs):
    """The (code, message) of a call that must fail with HTTP 400."""
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error(exc)


def make_ces(batch):
    """ec2 (EC2), spot (SPOT), un (UNMANAGED), fg (FARGATE), eks (EC2 on EKS)."""
    batch.create_compute_environment(computeEnvironmentName="ec2", type="MANAGED", computeResources=EC2)
    batch.create_compute_environment(computeEnvironmentName="spot", type="MANAGED",
                                     computeResources={**EC2, "type": "SPOT",
                                                       "allocationStrategy": "SPOT_CAPACITY_OPTIMIZED"})
    batch.create_compute_environment(computeEnvironmentName="un", type="UNMANAGED", unmanagedvCpus=4)
    batch.create_compute_environment(computeEnvironmentName="fg", type="MANAGED", computeResources=FARGATE)
    batch.create_compute_environment(computeEnvironmentName="eks", type="MANAGED", computeResources=EC2,
                                     eksConfiguration=EKS)
    return {c["computeEnvironmentName"]: c["computeEnvironmentArn"]
            for c in batch.describe_compute_environments()["computeEnvironments"]}


def order(*names):
    return [{"order": i + 1, "computeEnvironment": n} for i, n in enumerate(names)]


def queue(batch, name):
    (q,) = batch.describe_job_queues(jobQueues=[name])["jobQueues"]
    return q


def test_create_and_describe(batch):
    ces = make_ces(batch)
    out = batch.create_job_queue(
        jobQueueName="q1", priority=10, tags={"team": "a"}, jobStateTimeLimitActions=[CANCEL],
        # by ARN and by name (ref §2.2), given out of order
        computeEnvironmentOrder=[{"order": 5, "computeEnvironment": "spot"},
                                 {"order": 2, "computeEnvironment": ces["ec2"]},
                                 {"order": 9, "computeEnvironment": "un"}])
    account = ces["ec2"].split(":")[4]
    assert out["jobQueueName"] == "q1"
    assert out["jobQueueArn"] == f"arn:aws:batch:us-east-1:{account}:job-queue/q1"
    q = queue(batch, "q1")
    assert q["jobQueueArn"] == out["jobQueueArn"]
    assert q["state"] == "ENABLED" and q["status"] == "VALID" and q["statusReason"] == "JobQueue Healthy"
    assert q["priority"] == 10 and q["jobQueueType"] == "ECS" and q["tags"] == {"team": "a"}
    # stored with ARNs, ascending order (ref §4.1, §4.2)
    assert q["computeEnvironmentOrder"] == [{"order": 2, "computeEnvironment": ces["ec2"]},
                                           {"order": 5, "computeEnvironment": ces["spot"]},
                                           {"order": 9, "computeEnvironment": ces["un"]}]
    assert q["jobStateTimeLimitActions"] == [CANCEL]
    assert "schedulingPolicyArn" not in q and "serviceEnvironmentOrder" not in q


def test_job_queue_type_follows_the_compute_environments(batch):
    make_ces(batch)
    batch.create_job_queue(jobQueueName="fq", priority=1, computeEnvironmentOrder=order("fg"))
    batch.create_job_queue(jobQueueName="kq", priority=1, computeEnvironmentOrder=order("eks"))
    batch.create_job_queue(jobQueueName="eq", priority=1, computeEnvironmentOrder=order("ec2"),
                           jobQueueType="ECS", state="DISABLED")
    assert queue(batch, "fq")["jobQueueType"] == "ECS_FARGATE"
    assert queue(batch, "kq")["jobQueueType"] == "EKS"
    assert queue(batch, "eq")["jobQueueType"] == "ECS" and queue(batch, "eq")["state"] == "DISABLED"


def test_describe_by_name_and_arn_omits_unknown(batch):
    make_ces(batch)
    arn = batch.create_job_queue(jobQueueName="a", priority=1, computeEnvironmentOrder=order("ec2"))["jobQueueArn"]
    batch.create_job_queue(jobQueueName="b", priority=1, computeEnvironmentOrder=order("ec2"))
    foreign = arn.replace(arn.split(":")[4], "000000000000")
    got = batch.describe_job_queues(jobQueues=[arn, "b", "nope", foreign])["jobQueues"]
    assert [q["jobQueueName"] for q in got] == ["a", "b"]
    assert batch.describe_job_queues(jobQueues=["nope"])["jobQueues"] == []


@pytest.mark.parametrize("kwargs, needle", [
    ({"jobQueueName": "-bad"}, "jobQueueName"),
    ({"priority": -1}, "priority must be between 0 and 1000"),
    ({"priority": 1001}, "priority must be between 0 and 1000"),
    ({"computeEnvironmentOrder": None}, "computeEnvironmentOrder must list 1 to 3"),
    ({"computeEnvironmentOrder": []}, "computeEnvironmentOrder must list 1 to 3"),
    ({"computeEnvironmentOrder": order("ec2", "spot", "un", "eks")}, "computeEnvironmentOrder must list 1 to 3"),
    ({"computeEnvironmentOrder": order("missing")}, "Compute environment missing does not exist"),
    ({"computeEnvironmentOrder": order("ec2", "fg")}, "EC2 and Fargate compute environments can't be mixed"),
    ({"computeEnvironmentOrder": order("un", "fg")}, "EC2 and Fargate compute environments can't be mixed"),
    ({"computeEnvironmentOrder": order("ec2", "eks")}, "EKS and ECS compute environments can't be mixed"),
    ({"computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "ec2"},
                                  {"order": 1, "computeEnvironment": "spot"}]}, "order 1 is used more than once"),
    ({"computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "ec2"},
                                  {"order": 2, "computeEnvironment": "ARN:ec2"}]}, "listed more than once"),
    ({"serviceEnvironmentOrder": [{"order": 1, "serviceEnvironment": "se1"}]},
     "can't have both a serviceEnvironmentOrder and a computeEnvironmentOrder"),
    ({"computeEnvironmentOrder": None, "serviceEnvironmentOrder": [{"order": 1, "serviceEnvironment": "se1"}]},
     "Service environment se1 does not exist"),
    ({"jobQueueType": "ECS_FARGATE"}, "jobQueueType ECS_FARGATE doesn't match"),
    ({"schedulingPolicyArn": "arn:aws:batch:us-east-1:123456789012:scheduling-policy/nope"},
     "Scheduling policy arn:aws:batch:us-east-1:123456789012:scheduling-policy/nope does not exist"),
    ({"schedulingPolicyArn": "SP_BY_NAME"}, "does not exist"),
    ({"jobStateTimeLimitActions": [{**CANCEL, "maxTimeSeconds": 599}]},
     "jobStateTimeLimitActions[0].maxTimeSeconds must be between 600 and 86400"),
    ({"jobStateTimeLimitActions": [CANCEL, {**CANCEL, "maxTimeSeconds": 86401}]},
     "jobStateTimeLimitActions[1].maxTimeSeconds must be between 600 and 86400"),
    ({"jobStateTimeLimitActions": [{**CANCEL, "action": "TERMINATE"}]},
     "jobStateTimeLimitActions[0].action must be CANCEL for ECS job queues"),
    ({"jobStateTimeLimitActions": [{**CANCEL, "reason": " "}]}, "jobStateTimeLimitActions[0].reason"),
    ({"jobStateTimeLimitActions": [{**CANCEL, "reason": ""}]}, "reason"),
    ({"tags": {"aws:x": "1"}}, "reserved for AWS use"),
])
def test_create_rejects_bad_input(batch, kwargs, needle):
    ces = make_ces(batch)
    batch.create_scheduling_policy(name="SP_BY_NAME")
    args = {"jobQueueName": "bad", "priority": 1, "computeEnvironmentOrder": order("ec2"), **kwargs}
    args = {k: v for k, v in args.items() if v is not None}
    for entry in args.get("computeEnvironmentOrder", []):
        if entry["computeEnvironment"] == "ARN:ec2":
            entry["computeEnvironment"] = ces["ec2"]
    code, message = client_error(batch.create_job_queue, **args)
    assert code == "ClientException" and needle in message
    assert batch.describe_job_queues()["jobQueues"] == []


def test_accepts_the_edges_of_each_range(batch):
    make_ces(batch)
    batch.create_job_queue(jobQueueName="lo", priority=0, computeEnvironmentOrder=order("ec2"),
                           jobStateTimeLimitActions=[CANCEL])
    batch.create_job_queue(jobQueueName="hi", priority=1000, computeEnvironmentOrder=order("ec2", "spot", "un"),
                           jobStateTimeLimitActions=[{**CANCEL, "maxTimeSeconds": 86400}])
    assert [q["priority"] for q in batch.describe_job_queues()["jobQueues"]] == [0, 1000]


def test_duplicate_name_and_regional_quota(batch):
    make_ces(batch)
    for i in range(50):
        batch.create_job_queue(jobQueueName=f"q{i}", priority=1, computeEnvironmentOrder=order("ec2"))
    assert "already exists" in client_error(batch.create_job_queue, jobQueueName="q0", priority=1,
                                            computeEnvironmentOrder=order("ec2"))[1]
    assert "limit of 50 job queues" in client_error(batch.create_job_queue, jobQueueName="q50", priority=1,
                                                    computeEnvironmentOrder=order("ec2"))[1]


def test_scheduling_policy_at_create_and_its_replacement(batch):
    make_ces(batch)
    first = batch.create_scheduling_policy(name="p1", fairsharePolicy={})["arn"]
    second = batch.create_scheduling_policy(name="p2", fairsharePolicy={"computeReservation": 10})["arn"]
    batch.create_job_queue(jobQueueName="fair", priority=1, computeEnvironmentOrder=order("ec2"),
                           schedulingPolicyArn=first)
    batch.create_job_queue(jobQueueName="fifo", priority=1, computeEnvironmentOrder=order("ec2"))
    assert queue(batch, "fair")["schedulingPolicyArn"] == first
    # ref §4.1: replaced, never removed; a FIFO queue can't get one
    batch.update_job_queue(jobQueue="fair", schedulingPolicyArn=second)
    assert queue(batch, "fair")["schedulingPolicyArn"] == second
    message = client_error(batch.update_job_queue, jobQueue="fair", schedulingPolicyArn="")[1]
    assert "can't be removed" in message
    message = client_error(batch.update_job_queue, jobQueue="fifo", schedulingPolicyArn=first)[1]
    assert "FIFO job queue and can't have a scheduling policy added" in message
    assert "schedulingPolicyArn" not in queue(batch, "fifo")
    message = client_error(batch.update_job_queue, jobQueue="fair",
                           schedulingPolicyArn=second.replace("p2", "gone"))[1]
    assert "does not exist" in message and queue(batch, "fair")["schedulingPolicyArn"] == second


def test_quota_share_policy_needs_a_sagemaker_queue(batch):
    make_ces(batch)
    arn = batch.create_scheduling_policy(name="qs", quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"})["arn"]
    message = client_error(batch.create_job_queue, jobQueueName="q", priority=1,
                           computeEnvironmentOrder=order("ec2"), schedulingPolicyArn=arn)[1]
    assert "quotaSharePolicy" in message and "SAGEMAKER_TRAINING" in message


def test_update_replaces_settings(batch):
    ces = make_ces(batch)
    batch.create_job_queue(jobQueueName="u", priority=1, computeEnvironmentOrder=order("ec2"),
                           jobStateTimeLimitActions=[CANCEL])
    out = batch.update_job_queue(jobQueue="u", priority=7, state="DISABLED",
                                 computeEnvironmentOrder=[{"order": 3, "computeEnvironment": "un"},
                                                          {"order": 1, "computeEnvironment": "spot"}],
                                 jobStateTimeLimitActions=[])
    assert out["jobQueueName"] == "u" and out["jobQueueArn"].endswith(":job-queue/u")
    q = queue(batch, out["jobQueueArn"])
    assert q["priority"] == 7 and q["state"] == "DISABLED" and q["status"] == "VALID"
    assert q["computeEnvironmentOrder"] == [{"order": 1, "computeEnvironment": ces["spot"]},
                                           {"order": 3, "computeEnvironment": ces["un"]}]
    assert q["jobStateTimeLimitActions"] == []
    batch.update_job_queue(jobQueue="u", computeEnvironmentOrder=order("fg"))
    assert queue(batch, "u")["jobQueueType"] == "ECS_FARGATE"


@pytest.mark.parametrize("kwargs, needle", [
    ({"priority": 1001}, "priority must be between 0 and 1000"),
    ({"computeEnvironmentOrder": []}, "computeEnvironmentOrder must list 1 to 3"),
    ({"computeEnvironmentOrder": order("ec2", "fg")}, "EC2 and Fargate compute environments can't be mixed"),
    ({"computeEnvironmentOrder": order("nope")}, "Compute environment nope does not exist"),
    ({"serviceEnvironmentOrder": [{"order": 1, "serviceEnvironment": "se"}]},
     "can't have both a serviceEnvironmentOrder and a computeEnvironmentOrder"),
    ({"jobStateTimeLimitActions": [{**CANCEL, "maxTimeSeconds": 100000}]}, "maxTimeSeconds"),
])
def test_update_rejects_bad_input_and_keeps_the_queue(batch, kwargs, needle):
    make_ces(batch)
    batch.create_job_queue(jobQueueName="u", priority=1, computeEnvironmentOrder=order("ec2"))
    before = queue(batch, "u")
    code, message = client_error(batch.update_job_queue, jobQueue="u", **kwargs)
    assert code == "ClientException" and needle in message
    assert queue(batch, "u") == before


def test_update_and_delete_unknown_queue(batch):
    for call in (batch.update_job_queue, batch.delete_job_queue):
        code, message = client_error(call, jobQueue="ghost")
        assert code == "ClientException" and "Job queue ghost does not exist" in message


def test_delete_requires_disabled_and_frees_the_compute_environment(batch):
    ces = make_ces(batch)
    arn = batch.create_job_queue(jobQueueName="d", priority=1, computeEnvironmentOrder=order("ec2"))["jobQueueArn"]
    assert "ENABLED" in client_error(batch.delete_job_queue, jobQueue="d")[1]
    batch.update_compute_environment(computeEnvironment="ec2", state="DISABLED")
    # the queue stores the CE's ARN, so the CE module sees the relationship (ref §3.4)
    assert "found existing JobQueue relationship" in client_error(
        batch.delete_compute_environment, computeEnvironment=ces["ec2"])[1]
    batch.update_job_queue(jobQueue="d", state="DISABLED")
    batch.delete_job_queue(jobQueue=arn)
    assert batch.describe_job_queues(jobQueues=["d"])["jobQueues"] == []
    assert "does not exist" in client_error(batch.delete_job_queue, jobQueue="d")[1]
    batch.delete_compute_environment(computeEnvironment="ec2")
    # the name is free again
    batch.create_job_queue(jobQueueName="d", priority=1, computeEnvironmentOrder=order("spot"))
    assert queue(batch, "d")["computeEnvironmentOrder"] == [{"order": 1, "computeEnvironment": ces["spot"]}]


def test_list_and_max_results_conflict(batch):
    message = client_error(batch.describe_job_queues, jobQueues=["a"], maxResults=5)[1]
    assert "JobQueues and MaxResults cannot both be set" in message


def test_describe_at_most_100(batch):
    message = client_error(batch.describe_job_queues, jobQueues=[f"q{i}" for i in range(101)])[1]
    assert "jobQueues" in message and "100" in message


def test_pagination_covers_every_item_once(batch):
    make_ces(batch)
    for i in range(7):
        batch.create_job_queue(jobQueueName=f"pg{i}", priority=i, computeEnvironmentOrder=order("un"))
    pages = list(batch.get_paginator("describe_job_queues").paginate(PaginationConfig={"PageSize": 3}))
    assert [q["jobQueueName"] for p in pages for q in p["jobQueues"]] == [f"pg{i}" for i in range(7)]
    assert [len(p["jobQueues"]) for p in pages] == [3, 3, 1]
    assert "nextToken" not in pages[-1]


# -- asynchronous status, on a server whose clock the test moves -----------------------------

@contextlib.contextmanager
def clocked_server(settle_seconds):
    now = [1_700_000_000_000]
    config = Config(ephemeral=True, port=0, runner="none", settle_seconds=settle_seconds)
    emulator = Emulator(config, clock=lambda: now[0])
    try:
        emulator.start()
        yield RunningServer(emulator), now
    finally:
        emulator.stop()


def test_settle_delay_shows_transitional_status():
    with clocked_server(settle_seconds=30) as (s, now):
        c = s.client()
        c.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
        message = client_error(c.create_job_queue, jobQueueName="slow", priority=1,
                               computeEnvironmentOrder=order("ce"))[1]
        assert "CREATING" in message and "VALID state" in message  # the CE is not VALID yet
        now[0] += 30_000
        c.create_job_queue(jobQueueName="slow", priority=1, computeEnvironmentOrder=order("ce"))
        q = queue(c, "slow")
        assert q["status"] == "CREATING" and "statusReason" not in q
        assert "Cannot update, resource is being modified" in client_error(
            c.update_job_queue, jobQueue="slow", priority=2)[1]
        now[0] += 30_000
        assert queue(c, "slow")["status"] == "VALID"
        assert queue(c, "slow")["statusReason"] == "JobQueue Healthy"
        c.update_job_queue(jobQueue="slow", state="DISABLED")
        q = queue(c, "slow")
        assert q["status"] == "UPDATING" and q["state"] == "DISABLED"  # state at once (ref §4.3)
        assert "Cannot delete, resource is being modified" in client_error(
            c.delete_job_queue, jobQueue="slow")[1]
        now[0] += 30_000
        c.delete_job_queue(jobQueue="slow")
        assert queue(c, "slow")["status"] == "DELETING"
        assert "does not exist" in client_error(c.update_job_queue, jobQueue="slow", state="ENABLED")[1]
        now[0] += 30_000
        assert queue(c, "slow")["status"] == "DELETED"
        now[0] += 30_000
        assert c.describe_job_queues()["jobQueues"] == []
