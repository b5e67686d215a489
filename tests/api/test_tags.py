"""TagResource / UntagResource / ListTagsForResource through real boto3 and raw HTTP
(ref §1.2 tag endpoints, §15)."""

import json

import pytest
import requests
from botocore.exceptions import ClientError



def client_error(call, **kwargs):
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def tags_of(batch, arn):
    return batch.list_tags_for_resource(resourceArn=arn)["tags"]


def make_resources(batch):
    """A CE, a job queue and a scheduling policy, each created with tags; their ARNs."""
    ce = batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED",
                                          tags={"made": "ce"})["computeEnvironmentArn"]
    sp = batch.create_scheduling_policy(name="sp", fairsharePolicy={}, tags={"made": "sp"})["arn"]
    jq = batch.create_job_queue(jobQueueName="jq", priority=1, schedulingPolicyArn=sp, tags={"made": "jq"},
                                computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])["jobQueueArn"]
    return {"ce": ce, "jq": jq, "sp": sp}


def described_tags(batch, which):
    if which == "ce":
        return batch.describe_compute_environments(computeEnvironments=["ce"])["computeEnvironments"][0]["tags"]
    if which == "jq":
        return batch.describe_job_queues(jobQueues=["jq"])["jobQueues"][0]["tags"]
    return batch.describe_scheduling_policies(arns=[make_arn(batch, "scheduling-policy/sp")])[
        "schedulingPolicies"][0]["tags"]


def make_arn(batch, suffix):
    ce = batch.describe_compute_environments()["computeEnvironments"][0]["computeEnvironmentArn"]
    return ce.split("compute-environment/")[0] + suffix


@pytest.mark.parametrize("which", ["ce", "jq", "sp"])
def test_tag_merge_untag_and_list(batch, which):
    arn = make_resources(batch)[which]
    assert tags_of(batch, arn) == {"made": which}  # tags given at create
    batch.tag_resource(resourceArn=arn, tags={"a": "1", "b": "2"})
    # ref §15: merge; keys not in the request are kept, a repeated key overwrites
    batch.tag_resource(resourceArn=arn, tags={"b": "two", "c": ""})
    assert tags_of(batch, arn) == {"made": which, "a": "1", "b": "two", "c": ""}
    batch.untag_resource(resourceArn=arn, tagKeys=["a", "made", "not-there"])
    assert tags_of(batch, arn) == {"b": "two", "c": ""}
    assert described_tags(batch, which) == {"b": "two", "c": ""}  # the resource itself changed


def test_tagging_leaves_the_rest_of_the_document_alone(batch):
    arns_ = make_resources(batch)
    before = batch.describe_job_queues(jobQueues=["jq"])["jobQueues"][0]
    batch.tag_resource(resourceArn=arns_["jq"], tags={"x": "y"})
    after = batch.describe_job_queues(jobQueues=["jq"])["jobQueues"][0]
    assert after == {**before, "tags": {"made": "jq", "x": "y"}}
    # still a single queue, still known by name to the other modules
    assert [q["jobQueueName"] for q in batch.describe_job_queues()["jobQueues"]] == ["jq"]
    batch.update_job_queue(jobQueue="jq", priority=5)
    assert tags_of(batch, arns_["jq"]) == {"made": "jq", "x": "y"}


def test_at_most_50_tags_after_the_merge(batch):
    arn = make_resources(batch)["ce"]
    batch.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(49)})  # + "made" = 50
    batch.tag_resource(resourceArn=arn, tags={"k0": "overwrite"})  # still 50
    code, message = client_error(batch.tag_resource, resourceArn=arn, tags={"one-more": "v"})
    assert code == "ClientException" and "at most 50 tags, got 51" in message
    assert len(tags_of(batch, arn)) == 50 and tags_of(batch, arn)["k0"] == "overwrite"


def test_reserved_and_oversized_tags(batch):
    arn = make_resources(batch)["sp"]
    assert "reserved for AWS use" in client_error(batch.tag_resource, resourceArn=arn, tags={"aws:x": "1"})[1]
    assert "reserved for AWS use" in client_error(batch.untag_resource, resourceArn=arn, tagKeys=["AWS:x"])[1]
    # the wire layer checks lengths against the model; either way the message names tags and the limit
    message = client_error(batch.tag_resource, resourceArn=arn, tags={"k" * 129: "v"})[1]
    assert "tags" in message and "128" in message
    message = client_error(batch.tag_resource, resourceArn=arn, tags={"k": "v" * 257})[1]
    assert "tags" in message and "256" in message
    assert tags_of(batch, arn) == {"made": "sp"}


def test_unknown_foreign_and_malformed_arns(server, batch):
    real = make_resources(batch)["jq"]
    account = real.split(":")[4]
    # the same resources exist in another account and in another region of this account
    make_resources(server.client(access_key="222222222222"))
    make_resources(server.client(access_key=account, region="eu-west-1"))
    for arn in (real.replace("job-queue/jq", "job-queue/ghost"),
                real.replace(account, "222222222222"),  # another account's queue
                real.replace("us-east-1", "eu-west-1"),  # this account's queue in another region
                real.replace("job-queue/jq", "compute-environment/jq"),
                real.replace("job-queue/jq", "job/0c6a1b6e-2b1d-4a4e-8e8e-1f2f3f4f5f6f"),
                real.replace("job-queue/jq", "job-definition/nope:1"),
                "jq",
                "arn:aws:s3:::bucket/key"):
        for call, extra in ((batch.list_tags_for_resource, {}), (batch.tag_resource, {"tags": {"a": "b"}}),
                            (batch.untag_resource, {"tagKeys": ["a"]})):
            code, message = client_error(call, resourceArn=arn, **extra)
            assert code == "ClientException" and f"Resource {arn} does not exist" in message
    assert tags_of(batch, real) == {"made": "jq"}


def test_child_job_arns_are_not_taggable(batch):
    make_resources(batch)
    for child in ("job/0c6a1b6e-2b1d-4a4e-8e8e-1f2f3f4f5f6f:3", "job/0c6a1b6e-2b1d-4a4e-8e8e-1f2f3f4f5f6f#1"):
        message = client_error(batch.tag_resource, resourceArn=make_arn(batch, child), tags={"a": "b"})[1]
        assert "child jobs of array and multi-node parallel (MNP) jobs aren't supported" in message


def test_deleted_resources_have_no_tags(batch):
    arns_ = make_resources(batch)
    batch.update_job_queue(jobQueue="jq", state="DISABLED")
    batch.delete_job_queue(jobQueue="jq")
    batch.delete_scheduling_policy(arn=arns_["sp"])
    for arn in (arns_["jq"], arns_["sp"]):
        assert "does not exist" in client_error(batch.list_tags_for_resource, resourceArn=arn)[1]


def test_job_definition_revisions_are_tagged_one_by_one(batch):
    container = {"image": "busybox", "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                              {"type": "MEMORY", "value": "512"}]}
    first = batch.register_job_definition(jobDefinitionName="jd", type="container", tags={"rev": "1"},
                                          containerProperties=container)["jobDefinitionArn"]
    second = batch.register_job_definition(jobDefinitionName="jd", type="container",
                                           containerProperties=container)["jobDefinitionArn"]
    assert first.endswith(":job-definition/jd:1") and second.endswith(":job-definition/jd:2")
    batch.tag_resource(resourceArn=second, tags={"extra": "x"})
    assert tags_of(batch, second) == {"extra": "x"}
    assert tags_of(batch, first) == {"rev": "1"}
    described = batch.describe_job_definitions(jobDefinitionName="jd")["jobDefinitions"]
    # saved back under the revision's own key: still two revisions, each with its own tags
    assert sorted((d["revision"], d.get("tags")) for d in described) == [(1, {"rev": "1"}), (2, {"extra": "x"})]
    # the IAM-only ARN without a revision names no single revision (ref §2.1)
    base = first.rsplit(":", 1)[0]
    assert f"Resource {base} does not exist" in client_error(batch.list_tags_for_resource, resourceArn=base)[1]


def test_raw_slashes_and_percent_encoding_both_reach_the_resource(server):
    """botocore percent-encodes ':' and '/' in the ARN; other SDKs send them raw (ref §1.2)."""
    account = "444444444444"
    batch = server.client(access_key=account)
    batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
    arn = batch.create_job_queue(jobQueueName="q1", priority=1,
                                 computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])["jobQueueArn"]
    assert arn == f"arn:aws:batch:us-east-1:{account}:job-queue/q1"
    headers = {"Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20240101/us-east-1/batch/aws4_request, "
                                "SignedHeaders=host, Signature=0",
               "Content-Type": "application/json"}
    raw = f"{server.url}/v1/tags/{arn}"
    r = requests.post(raw, data=json.dumps({"tags": {"raw": "yes"}}), headers=headers)
    assert r.request.path_url == f"/v1/tags/{arn}"  # sent unencoded, slash included
    assert r.status_code == 200, r.text
    r = requests.get(raw, headers=headers)
    assert r.status_code == 200 and r.json() == {"tags": {"raw": "yes"}}
    sent = []
    batch.meta.events.register("before-send.batch.ListTagsForResource", lambda request, **_: sent.append(request.url))
    assert tags_of(batch, arn) == {"raw": "yes"}
    assert sent and sent[0].endswith(f"/v1/tags/arn%3Aaws%3Abatch%3Aus-east-1%3A{account}%3Ajob-queue%2Fq1")
    batch.tag_resource(resourceArn=arn, tags={"boto": "yes"})
    r = requests.delete(raw, params={"tagKeys": ["raw", "other"]}, headers=headers)
    assert r.status_code == 200, r.text
    assert requests.get(raw, headers=headers).json() == {"tags": {"boto": "yes"}}
    r = requests.get(f"{server.url}/v1/tags/{arn.replace('q1', 'ghost')}", headers=headers)
    assert r.status_code == 400 and r.headers["x-amzn-ErrorType"] == "ClientException"
    assert "does not exist" in r.json()["message"]
