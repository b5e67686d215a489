"""The real `aws` CLI (v1) against a live server, the way the AWS docs use it: shorthand
syntax, --cli-input-json, tags on a job-definition ARN, auto-pagination, exit codes.

Each test runs in an account of its own (a 12-digit access key is the account), HOME points at
an empty directory so no user configuration leaks in.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from tests.e2e.support import new_account

pytestmark = pytest.mark.skipif(shutil.which("aws") is None, reason="the aws CLI is not installed")

EC2_SHORTHAND = ("type=EC2,minvCpus=0,maxvCpus=16,instanceTypes=optimal,subnets=subnet-1,"
                 "securityGroupIds=sg-1,instanceRole=ecsInstanceRole")


class Aws:
    def __init__(self, url: str, home, account: str):
        self.url = url
        self.env = {"PATH": os.environ["PATH"], "HOME": str(home), "AWS_ACCESS_KEY_ID": account,
                    "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                    "AWS_CONFIG_FILE": str(home / "no-config"),
                    "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
                    "AWS_PAGER": ""}
        self.account = account

    def run(self, *args, check=True):
        result = subprocess.run(["aws", "--endpoint-url", self.url, "--output", "json", *args],
                                env=self.env, capture_output=True, text=True, timeout=120)
        if result.returncode != 0 and "(NotImplemented)" in result.stderr:
            # The operation is still being written (it answers 501); remove once it exists.
            pytest.xfail(f"{args[1]} is not implemented yet: {result.stderr.strip()}")
        if check:
            assert result.returncode == 0, result.stderr
            return json.loads(result.stdout) if result.stdout.strip() else {}
        return result

    def __call__(self, *args):
        return self.run("batch", *args)


@pytest.fixture()
def aws(server, tmp_path):
    account = new_account()
    return Aws(server.url, tmp_path, account)


def create_ce(aws, name="ce1"):
    return aws("create-compute-environment", "--compute-environment-name", name,
               "--type", "MANAGED", "--compute-resources", EC2_SHORTHAND)


def test_create_compute_environment_with_shorthand(aws):
    out = create_ce(aws)
    assert out == {"computeEnvironmentName": "ce1",
                   "computeEnvironmentArn": f"arn:aws:batch:us-east-1:{aws.account}:compute-environment/ce1"}
    (ce,) = aws("describe-compute-environments")["computeEnvironments"]
    assert ce["computeEnvironmentName"] == "ce1"
    assert ce["type"] == "MANAGED" and ce["state"] == "ENABLED" and ce["status"] == "VALID"
    resources = ce["computeResources"]
    assert resources["type"] == "EC2"
    assert (resources["minvCpus"], resources["maxvCpus"]) == (0, 16)
    assert resources["instanceTypes"] == ["optimal"]  # a single value is a one-item list
    assert resources["subnets"] == ["subnet-1"] and resources["securityGroupIds"] == ["sg-1"]
    assert resources["instanceRole"] == "ecsInstanceRole"


def test_shorthand_lists_with_brackets(aws):
    aws("create-compute-environment", "--compute-environment-name", "multi", "--type", "MANAGED",
        "--compute-resources", "type=EC2,maxvCpus=8,instanceTypes=[optimal,c5.large],"
        "subnets=[subnet-1,subnet-2],securityGroupIds=sg-1,instanceRole=ecsInstanceRole")
    (ce,) = aws("describe-compute-environments", "--compute-environments", "multi")["computeEnvironments"]
    assert ce["computeResources"]["instanceTypes"] == ["optimal", "c5.large"]
    assert ce["computeResources"]["subnets"] == ["subnet-1", "subnet-2"]


def test_describe_by_arn_and_unknown_name(aws):
    arn = create_ce(aws, "byarn")["computeEnvironmentArn"]
    out = aws("describe-compute-environments", "--compute-environments", arn, "nope")
    assert [c["computeEnvironmentArn"] for c in out["computeEnvironments"]] == [arn]


def write_json(tmp_path, name, doc):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return f"file://{path}"


def test_create_job_queue_from_cli_input_json(aws, tmp_path):
    ce_arn = create_ce(aws)["computeEnvironmentArn"]
    spec = write_json(tmp_path, "queue.json", {
        "jobQueueName": "q1", "state": "ENABLED", "priority": 10,
        "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "ce1"}],
        "tags": {"team": "genomics"}})
    out = aws("create-job-queue", "--cli-input-json", spec)
    assert out == {"jobQueueName": "q1",
                   "jobQueueArn": f"arn:aws:batch:us-east-1:{aws.account}:job-queue/q1"}
    (queue,) = aws("describe-job-queues", "--job-queues", "q1")["jobQueues"]
    assert queue["priority"] == 10 and queue["state"] == "ENABLED" and queue["status"] == "VALID"
    assert queue["computeEnvironmentOrder"] == [{"order": 1, "computeEnvironment": ce_arn}]  # ref §4.2
    assert queue["tags"] == {"team": "genomics"}


JOB_DEFINITION = {
    "jobDefinitionName": "sleep30", "type": "container",
    "containerProperties": {"image": "busybox", "command": ["sleep", "30"],
                            "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                     {"type": "MEMORY", "value": "128"}]},
    "retryStrategy": {"attempts": 2},
}


def register(aws, tmp_path):
    return aws("register-job-definition", "--cli-input-json",
               write_json(tmp_path, "jd.json", JOB_DEFINITION))


def test_register_job_definition_from_cli_input_json(aws, tmp_path):
    first, second = register(aws, tmp_path), register(aws, tmp_path)
    arn = f"arn:aws:batch:us-east-1:{aws.account}:job-definition/sleep30"
    assert first == {"jobDefinitionName": "sleep30", "jobDefinitionArn": f"{arn}:1", "revision": 1}
    assert second["revision"] == 2 and second["jobDefinitionArn"] == f"{arn}:2"  # ref §5.2
    (jd,) = aws("describe-job-definitions", "--job-definitions", "sleep30:1")["jobDefinitions"]
    assert jd["status"] == "ACTIVE" and jd["type"] == "container"
    assert jd["containerProperties"]["image"] == "busybox"
    assert jd["containerProperties"]["command"] == ["sleep", "30"]
    assert jd["retryStrategy"]["attempts"] == 2
    revisions = aws("describe-job-definitions", "--job-definition-name", "sleep30")["jobDefinitions"]
    assert sorted(d["revision"] for d in revisions) == [1, 2]


def test_tags_on_a_job_definition_arn(aws, tmp_path):
    arn = register(aws, tmp_path)["jobDefinitionArn"]
    assert aws("tag-resource", "--resource-arn", arn, "--tags", "team=genomics,stage=dev") == {}
    assert aws("list-tags-for-resource", "--resource-arn", arn) == {
        "tags": {"team": "genomics", "stage": "dev"}}
    assert aws("untag-resource", "--resource-arn", arn, "--tag-keys", "stage", "nope") == {}
    assert aws("list-tags-for-resource", "--resource-arn", arn) == {"tags": {"team": "genomics"}}


def test_pagination_page_size_and_max_items(aws):
    names = [f"pg{i}" for i in range(5)]
    for name in names:
        aws("create-compute-environment", "--compute-environment-name", name, "--type", "UNMANAGED")

    # --page-size: smaller requests, the CLI still returns everything.
    everything = aws("describe-compute-environments", "--page-size", "2")
    assert [c["computeEnvironmentName"] for c in everything["computeEnvironments"]] == names
    assert "NextToken" not in everything

    # --max-items: at most that many, and a token to go on from.
    first = aws("describe-compute-environments", "--max-items", "3", "--page-size", "2")
    assert [c["computeEnvironmentName"] for c in first["computeEnvironments"]] == names[:3]
    rest = aws("describe-compute-environments", "--max-items", "3", "--page-size", "2",
               "--starting-token", first["NextToken"])
    assert [c["computeEnvironmentName"] for c in rest["computeEnvironments"]] == names[3:]
    assert "NextToken" not in rest

    # --no-paginate: one request, the server's own nextToken.
    one = aws("describe-compute-environments", "--no-paginate", "--max-results", "2")
    assert [c["computeEnvironmentName"] for c in one["computeEnvironments"]] == names[:2]
    assert one["nextToken"]


@pytest.mark.parametrize("args, needle", [
    (["create-compute-environment", "--compute-environment-name", "bad", "--type", "MANAGED"],
     "computeResources"),
    (["create-compute-environment", "--compute-environment-name", "bad", "--type", "BOGUS"],
     "MANAGED, UNMANAGED"),
    (["update-compute-environment", "--compute-environment", "missing", "--state", "DISABLED"],
     "does not exist"),
])
def test_bad_input_is_a_client_exception(aws, args, needle):
    result = aws.run("batch", *args, check=False)
    assert result.returncode in (254, 255)
    assert "(ClientException)" in result.stderr and needle in result.stderr
    assert result.stdout == ""
