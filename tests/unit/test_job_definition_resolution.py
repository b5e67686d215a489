"""resolve_for_submit (ref §5.2 "Resolution in SubmitJob") and the node-range parser (ref §12),
called directly on an in-memory store: no server, no threads."""

import pytest

from batchemu.batch import job_definition_rules as rules
from batchemu.batch import job_definitions as jd
from batchemu.batch.backend import Backend
from batchemu.batch.errors import ClientException
from batchemu.config import Config
from batchemu.context import RequestContext
from batchemu.store import Store

ACCOUNT, REGION = "123456789012", "us-east-1"
ARN = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/"
CONTAINER = {"image": "busybox", "resourceRequirements": [{"type": "VCPU", "value": "1"}]}


@pytest.fixture()
def env():
    b = Backend(store=Store(":memory:"), config=Config(ephemeral=True))
    ctx = RequestContext(account=ACCOUNT, region=REGION, request_id="req-1")
    yield b, ctx
    b.store.close()


def register(env, name, command="true"):
    b, ctx = env
    props = {**CONTAINER, "command": [command]}
    return jd.register_job_definition(b, ctx, {"jobDefinitionName": name, "type": "container",
                                               "containerProperties": props})


def deregister(env, ident):
    b, ctx = env
    jd.deregister_job_definition(b, ctx, {"jobDefinition": ident})


def resolve(env, ident):
    b, ctx = env
    return jd.resolve_for_submit(b, ctx, ident)


def error(env, ident) -> str:
    with pytest.raises(ClientException) as exc:
        resolve(env, ident)
    return exc.value.message


def test_bare_name_is_the_latest_active_revision(env):
    for command in ("one", "two", "three"):
        register(env, "job", command)
    assert resolve(env, "job")["revision"] == 3
    deregister(env, "job:3")
    doc = resolve(env, "job")
    assert doc["revision"] == 2 and doc["containerProperties"]["command"] == ["two"]
    assert doc["jobDefinitionArn"] == ARN + "job:2"


def test_name_revision_and_arn_with_revision_pick_that_revision(env):
    register(env, "job")
    register(env, "job")
    assert resolve(env, "job:1")["revision"] == 1
    assert resolve(env, ARN + "job:1")["revision"] == 1


def test_arn_without_revision_is_the_latest_active(env):
    register(env, "job")
    register(env, "job")
    deregister(env, "job:2")
    assert resolve(env, ARN + "job")["revision"] == 1


@pytest.mark.parametrize("ident", ["missing", "job:2", "job:9", "job:latest", "job:"])
def test_failures_by_name_use_the_observed_text(env, ident):
    register(env, "job")
    register(env, "job")
    deregister(env, "job:2")  # an explicit INACTIVE revision is rejected too
    assert error(env, ident) == f"JobDefinition name {ident} does not exist or is not in ACTIVE status"


def test_name_with_only_inactive_revisions_is_rejected(env):
    register(env, "gone")
    deregister(env, "gone")
    assert error(env, "gone") == "JobDefinition name gone does not exist or is not in ACTIVE status"


@pytest.mark.parametrize("ident", [
    ARN + "missing",
    ARN + "job:2",  # INACTIVE
    ARN + "job:9",
    f"arn:aws:batch:{REGION}:000000000000:job-definition/job:1",  # another account
    f"arn:aws:batch:eu-west-1:{ACCOUNT}:job-definition/job:1",  # another region
    f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/job",  # another kind
])
def test_failures_by_arn_use_the_observed_text(env, ident):
    register(env, "job")
    register(env, "job")
    deregister(env, "job:2")
    assert error(env, ident) == f"JobDefinition {ident} not found."


def test_accounts_do_not_see_each_other(env):
    b, _ctx = env
    register(env, "mine")
    other = RequestContext(account="000000000000", region=REGION, request_id="req-2")
    with pytest.raises(ClientException):
        jd.resolve_for_submit(b, other, "mine")


@pytest.mark.parametrize("text, num_nodes, expected", [
    ("0:3", 4, (0, 3)), (":2", 4, (0, 2)), ("1:", 4, (1, 3)), (":", 4, (0, 3)), ("2", 4, (2, 2)),
    ("0:0", 1, (0, 0)),
])
def test_parse_target_nodes(text, num_nodes, expected):
    assert rules.parse_target_nodes(text, num_nodes) == expected


@pytest.mark.parametrize("text", ["", "a:b", "1:2:3", "3:1", "0:4", "4:", "-1:2", " 0:1"])
def test_parse_target_nodes_rejects(text):
    with pytest.raises(ClientException):
        rules.parse_target_nodes(text, 4)
