"""Create/Describe/List/Update/DeleteSchedulingPolicy through real boto3 (ref §11.4)."""

import pytest
from botocore.exceptions import ClientError

FAIR = {"shareDecaySeconds": 3600, "computeReservation": 1,
        "shareDistribution": [{"shareIdentifier": "A1*", "weightFactor": 0.1},
                              {"shareIdentifier": "B2", "weightFactor": 0.2}]}
QUOTA = {"idleResourceAssignmentStrategy": "FIFO"}


def client_error(call, **kwargs):
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def describe(batch, arn):
    (policy,) = batch.describe_scheduling_policies(arns=[arn])["schedulingPolicies"]
    return policy


def account_of(arn):
    return arn.split(":")[4]


def test_create_and_describe_fair_share(batch):
    out = batch.create_scheduling_policy(name="fair", fairsharePolicy=FAIR, tags={"k": "v"})
    assert out["name"] == "fair"
    assert out["arn"] == f"arn:aws:batch:us-east-1:{account_of(out['arn'])}:scheduling-policy/fair"
    policy = describe(batch, out["arn"])
    assert policy == {"name": "fair", "arn": out["arn"], "fairsharePolicy": FAIR, "tags": {"k": "v"}}


def test_only_what_was_given_is_echoed(batch):
    arn = batch.create_scheduling_policy(
        name="sparse", fairsharePolicy={"shareDistribution": [{"shareIdentifier": "x"}]})["arn"]
    assert describe(batch, arn)["fairsharePolicy"] == {"shareDistribution": [{"shareIdentifier": "x"}]}
    # neither member: a fair-share policy with default settings, nothing invented in the output
    arn = batch.create_scheduling_policy(name="bare")["arn"]
    policy = describe(batch, arn)
    assert policy["fairsharePolicy"] == {} and "quotaSharePolicy" not in policy
    # an update giving neither resets a fair-share policy to its defaults
    batch.update_scheduling_policy(arn=describe(batch, arn.replace("bare", "sparse"))["arn"])
    assert describe(batch, arn.replace("bare", "sparse"))["fairsharePolicy"] == {}


def test_create_and_describe_quota_share(batch):
    arn = batch.create_scheduling_policy(name="quota", quotaSharePolicy=QUOTA)["arn"]
    policy = describe(batch, arn)
    assert policy["quotaSharePolicy"] == QUOTA and "fairsharePolicy" not in policy


def test_both_kinds_rejected(batch):
    code, message = client_error(batch.create_scheduling_policy, name="both",
                                 fairsharePolicy=FAIR, quotaSharePolicy=QUOTA)
    assert code == "ClientException" and "Only one of fairsharePolicy or quotaSharePolicy" in message
    assert batch.list_scheduling_policies()["schedulingPolicies"] == []


def test_bad_name_and_duplicate(batch):
    assert "name must be 1 to 128 characters" in client_error(batch.create_scheduling_policy, name="bad name")[1]
    batch.create_scheduling_policy(name="dup", fairsharePolicy=FAIR)
    # moto accepts a duplicate (peers §1.5); AWS names are unique per Region
    assert "already exists" in client_error(batch.create_scheduling_policy, name="dup", fairsharePolicy=FAIR)[1]


def shares(*identifiers, weight=None):
    return [{"shareIdentifier": i, **({} if weight is None else {"weightFactor": weight})} for i in identifiers]


@pytest.mark.parametrize("policy, needle", [
    ({"shareDecaySeconds": -1}, "fairsharePolicy.shareDecaySeconds must be between 0 and 604800"),
    ({"shareDecaySeconds": 604801}, "fairsharePolicy.shareDecaySeconds must be between 0 and 604800"),
    ({"computeReservation": -1}, "fairsharePolicy.computeReservation must be between 0 and 99"),
    ({"computeReservation": 100}, "fairsharePolicy.computeReservation must be between 0 and 99"),
    ({"shareDistribution": shares("a", weight=0.0)}, "shareDistribution[0].weightFactor must be between 0.0001"),
    ({"shareDistribution": shares("a", weight=1000.0)}, "weightFactor must be between 0.0001 and 999.9999"),
    ({"shareDistribution": shares("ok", "user-a")}, "shareDistribution[1].shareIdentifier"),
    ({"shareDistribution": shares("a*b")}, "shareIdentifier must be at most 255 alphanumeric"),
    ({"shareDistribution": shares("a**")}, "shareIdentifier"),
    ({"shareDistribution": shares("")}, "shareIdentifier"),
    ({"shareDistribution": shares("a" * 256)}, "shareIdentifier"),
    ({"shareDistribution": shares("a" * 255 + "*")}, "shareIdentifier"),
    ({"shareDistribution": shares("UserA", "UserA")}, "share identifier UserA is listed more than once"),
    ({"shareDistribution": shares("UserA*", "UserA1")}, "UserA* and UserA1 overlap"),
    ({"shareDistribution": shares("UserA1", "UserA*")}, "UserA1 and UserA* overlap"),
    ({"shareDistribution": shares("User*", "UserB*")}, "overlap"),
])
def test_fair_share_rules(batch, policy, needle):
    code, message = client_error(batch.create_scheduling_policy, name="p", fairsharePolicy=policy)
    assert code == "ClientException" and needle in message
    arn = batch.create_scheduling_policy(name="p", fairsharePolicy={})["arn"]
    code, message = client_error(batch.update_scheduling_policy, arn=arn, fairsharePolicy=policy)
    assert code == "ClientException" and needle in message
    assert describe(batch, arn)["fairsharePolicy"] == {}


def test_fair_share_edges_accepted(batch):
    edges = [
        {"shareDecaySeconds": 0, "computeReservation": 0},
        {"shareDecaySeconds": 604800, "computeReservation": 99},
        {"shareDistribution": shares("a", weight=0.0001) + shares("b", weight=999.9999)},
        {"shareDistribution": shares("a" * 255, "b" * 254 + "*")},
        {"shareDistribution": shares("UserA*", "UserB1", "UserB2", "Use")},
    ]
    for i, policy in enumerate(edges):
        arn = batch.create_scheduling_policy(name=f"edge{i}", fairsharePolicy=policy)["arn"]
        assert describe(batch, arn)["fairsharePolicy"] == policy


def test_describe_takes_arns_only_and_omits_unknown(batch):
    arn = batch.create_scheduling_policy(name="d1", fairsharePolicy=FAIR)["arn"]
    other = batch.create_scheduling_policy(name="d2", fairsharePolicy=FAIR)["arn"]
    got = batch.describe_scheduling_policies(arns=[other, "d1", arn.replace("d1", "zz"), arn])
    assert [p["name"] for p in got["schedulingPolicies"]] == ["d1", "d2"]
    message = client_error(batch.describe_scheduling_policies, arns=[arn] * 101)[1]
    assert "arns" in message and "100" in message


def test_list_paginates(batch):
    arns = [batch.create_scheduling_policy(name=f"l{i}", fairsharePolicy={})["arn"] for i in range(5)]
    first = batch.list_scheduling_policies()
    assert first["schedulingPolicies"] == [{"arn": a} for a in arns] and "nextToken" not in first
    pages = list(batch.get_paginator("list_scheduling_policies").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["schedulingPolicies"]) for p in pages] == [2, 2, 1]
    assert [p["arn"] for page in pages for p in page["schedulingPolicies"]] == arns


def test_update_replaces_the_policy(batch):
    arn = batch.create_scheduling_policy(name="u", fairsharePolicy=FAIR, tags={"k": "v"})["arn"]
    new = {"shareDecaySeconds": 60, "shareDistribution": shares("Z*", weight=2.0)}
    batch.update_scheduling_policy(arn=arn, fairsharePolicy=new)
    assert describe(batch, arn) == {"name": "u", "arn": arn, "fairsharePolicy": new, "tags": {"k": "v"}}


def test_policy_kind_cannot_switch(batch):
    fair = batch.create_scheduling_policy(name="f", fairsharePolicy=FAIR)["arn"]
    quota = batch.create_scheduling_policy(name="q", quotaSharePolicy=QUOTA)["arn"]
    assert "can't be changed to a quotaSharePolicy" in client_error(
        batch.update_scheduling_policy, arn=fair, quotaSharePolicy=QUOTA)[1]
    assert "can't be removed or changed to a fairsharePolicy" in client_error(
        batch.update_scheduling_policy, arn=quota, fairsharePolicy=FAIR)[1]
    assert "can't be removed" in client_error(batch.update_scheduling_policy, arn=quota)[1]
    batch.update_scheduling_policy(arn=quota, quotaSharePolicy=QUOTA)
    assert describe(batch, quota)["quotaSharePolicy"] == QUOTA
    assert describe(batch, fair)["fairsharePolicy"] == FAIR


def test_unknown_policy_is_a_client_error_not_a_500(batch):
    arn = batch.create_scheduling_policy(name="real", fairsharePolicy=FAIR)["arn"]
    for ident in (arn.replace("real", "ghost"), "real", arn.replace(account_of(arn), "000000000000")):
        for call, extra in ((batch.update_scheduling_policy, {"fairsharePolicy": FAIR}),
                            (batch.delete_scheduling_policy, {})):
            code, message = client_error(call, arn=ident, **extra)
            assert code == "ClientException" and f"Scheduling policy {ident} does not exist" in message


def test_delete_refused_while_a_queue_uses_it(batch):
    batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
    arn = batch.create_scheduling_policy(name="used", fairsharePolicy=FAIR)["arn"]
    batch.create_job_queue(jobQueueName="q", priority=1, schedulingPolicyArn=arn,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
    message = client_error(batch.delete_scheduling_policy, arn=arn)[1]
    assert "Cannot delete" in message and "job queue q" in message
    batch.update_job_queue(jobQueue="q", state="DISABLED")
    batch.delete_job_queue(jobQueue="q")
    batch.delete_scheduling_policy(arn=arn)
    assert batch.describe_scheduling_policies(arns=[arn])["schedulingPolicies"] == []
    assert batch.list_scheduling_policies()["schedulingPolicies"] == []
    # the name can be used again
    batch.create_scheduling_policy(name="used", quotaSharePolicy=QUOTA)
    assert describe(batch, arn)["quotaSharePolicy"] == QUOTA
