"""Every operation of botocore's `batch` model, serialized by botocore exactly as boto3 sends
it, goes through the Flask app: it reaches the right operation with the params it was sent,
and the answer parses with botocore's own rest-json parser (ref §1).

Also routing straight on the spec (wire/spec.py): all 48 http traits, and the tag endpoints
with a percent-encoded ARN, a raw-slash ARN and repeated `tagKeys` query parameters (ref §1.2).
"""

from __future__ import annotations

import copy
import json
from urllib.parse import quote, urlsplit

import botocore.awsrequest
import botocore.parsers
import botocore.serialize
import pytest

from batchemu.emulator import Emulator
from batchemu.batch.provider import BatchProvider
from batchemu.config import Config
from batchemu.wire import spec as wire_spec
from tests.helpers import AUTH

SPEC = wire_spec.load("batch")
OPERATIONS = list(SPEC.operation_names)
JD_ARN = "arn:aws:batch:us-east-1:123456789012:job-definition/sleep30:1"
ENCODED_JD_ARN = "arn%3Aaws%3Abatch%3Aus-east-1%3A123456789012%3Ajob-definition%2Fsleep30%3A1"


# -- a request generator driven by the model ------------------------------------------------

def value_for(shape, name: str = "", depth: int = 0):
    """A type-correct value for `shape`: required members always, a few optional ones near the
    top, strings/lists/maps within the model's min/max, enums from the enum."""
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        out = {}
        optional_budget = 3 if depth == 0 else (1 if depth == 1 else 0)
        for member_name, member in shape.members.items():
            required = member_name in shape.required_members or member.metadata.get("idempotencyToken")
            optional = optional_budget and (depth == 0 or member.type_name != "structure")
            if required or optional:
                out[member_name] = value_for(member, member_name, depth + 1)
                optional_budget -= 0 if required else 1
        return out
    if kind == "list":
        count = max(meta.get("min", 1), 1)
        if "max" in meta:
            count = min(count, meta["max"])
        return [value_for(shape.member, name, depth + 1) for _ in range(count)]
    if kind == "map":
        count = max(meta.get("min", 1), 1)
        return {f"key{i}": value_for(shape.value, name, depth + 1) for i in range(count)}
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        if name == "resourceArn":
            return JD_ARN
        text = f"{name or 'value'}-1"
        lo, hi = meta.get("min", 1), meta.get("max")
        if len(text) < lo:
            text = text + "x" * (lo - len(text))
        if hi is not None:
            text = text[:hi]
        return text
    if kind in ("integer", "long"):
        lo, hi = meta.get("min"), meta.get("max")
        value = 1 if lo is None else lo
        return value if hi is None else min(value, hi)
    if kind in ("float", "double"):
        return 1.5
    if kind == "boolean":
        return True
    raise AssertionError(f"the generator does not know shape type {kind} ({shape.name})")


def botocore_request(op_name: str, params: dict):
    """What boto3 puts on the wire for this call: method, path?query, headers, body."""
    op = SPEC.operation(op_name)
    serializer = botocore.serialize.create_serializer("rest-json", include_validation=True)
    request_dict = serializer.serialize_to_request(params, op)
    botocore.awsrequest.prepare_request_dict(request_dict, endpoint_url="http://localhost")
    prepared = botocore.awsrequest.create_request_object(request_dict).prepare()
    url = urlsplit(prepared.url)
    target = url.path + (f"?{url.query}" if url.query else "")
    return prepared.method, target, dict(prepared.headers), prepared.body or b""


def parse_response(op_name: str, response):
    parser = botocore.parsers.create_parser("rest-json")
    return parser.parse({"status_code": response.status_code,
                         "headers": botocore.awsrequest.HeadersDict(response.headers),
                         "body": response.get_data()}, SPEC.operation(op_name).output_shape)


def conforms(value, shape, path="output"):
    """Problems with a raw JSON value against an output shape: unknown keys, wrong types,
    values outside an enum. Empty list when it conforms."""
    if shape is None:
        return [] if value in ({}, None) else [f"{path}: the operation has no output, got {value!r}"]
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {value!r}"]
        members = {m.serialization.get("name", n): m for n, m in shape.members.items()}
        problems = []
        for key, item in value.items():
            if key not in members:
                problems.append(f"{path}.{key}: not a member of {shape.name}")
            else:
                problems += conforms(item, members[key], f"{path}.{key}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {value!r}"]
        return [p for i, v in enumerate(value) for p in conforms(v, shape.member, f"{path}[{i}]")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {value!r}"]
        return [p for k, v in value.items() for p in conforms(v, shape.value, f"{path}.{k}")]
    expected = {"string": str, "integer": int, "long": int, "boolean": bool,
                "float": (int, float), "double": (int, float)}[kind]
    if not isinstance(value, expected) or (kind in ("integer", "long") and isinstance(value, bool)):
        return [f"{path}: expected {kind}, got {value!r}"]
    if kind == "string" and shape.enum and value not in shape.enum:
        return [f"{path}: {value!r} is not one of {shape.enum}"]
    return []


# -- fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def emulator():
    emulator = Emulator(Config(ephemeral=True, runner="none"))
    emulator.engine.start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def app(emulator):
    return emulator.app


@pytest.fixture()
def client(app):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = AUTH["Authorization"]  # as every SDK's request
    return client


@pytest.fixture()
def calls(monkeypatch):
    """Record what reaches the provider (operation name and parsed params)."""
    seen = []
    original = BatchProvider.__call__

    def recording(self, ctx, operation, params):
        seen.append((operation, copy.deepcopy(params)))  # before a handler can change it
        return original(self, ctx, operation, params)

    monkeypatch.setattr(BatchProvider, "__call__", recording)
    return seen


# -- every operation end to end through the app -----------------------------------------------

def test_the_model_has_48_operations():
    # Every botocore batchemu accepts (>= 1.43.93, pyproject.toml) has these 48. A release that
    # adds one fails here on purpose: implement it (or list it in conformance.coverage's
    # NOT_IMPLEMENTED, which answers 501) and move this number.
    assert len(OPERATIONS) == 48


@pytest.mark.parametrize("op_name", OPERATIONS)
def test_every_operation_round_trips(op_name, emulator, client, calls):
    op = SPEC.operation(op_name)
    params = value_for(op.input_shape) if op.input_shape else {}
    method, target, headers, body = botocore_request(op_name, params)

    response = client.open(target, method=method, headers=headers, data=body)

    assert response.status_code in (200, 400, 501), response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers.get("x-amzn-RequestId")
    # Routed to the right operation, with exactly the params boto3 sent (URI label decoded,
    # repeated query parameters as a list, body members by name).
    assert calls == [(op_name, params)]

    parsed = parse_response(op_name, response)
    assert parsed["ResponseMetadata"]["RequestId"] == response.headers["x-amzn-RequestId"]
    implemented = op_name in emulator.provider.implemented
    if response.status_code == 200:
        assert implemented
        assert "Error" not in parsed
        problems = conforms(json.loads(response.get_data() or b"{}"), op.output_shape)
        assert problems == []
    else:
        error = parsed["Error"]
        assert error["Message"]
        if response.status_code == 501:
            assert not implemented
            assert error["Code"] == "NotImplemented"
        else:
            assert implemented
            assert error["Code"] == "ClientException"


JD_CONTAINER = {"image": "busybox", "command": ["echo", "hi"],
                "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                         {"type": "MEMORY", "value": "64"}]}
SCENARIO = [
    ("CreateComputeEnvironment", {"computeEnvironmentName": "rt-ec2", "type": "MANAGED",
                                  "tags": {"a": "b"},
                                  "computeResources": {"type": "EC2", "maxvCpus": 8, "subnets": ["s"],
                                                       "instanceRole": "r", "instanceTypes": ["optimal"],
                                                       "securityGroupIds": ["sg"]}}),
    ("CreateComputeEnvironment", {"computeEnvironmentName": "rt-un", "type": "UNMANAGED",
                                  "unmanagedvCpus": 2}),
    ("DescribeComputeEnvironments", {}),
    ("DescribeComputeEnvironments", {"maxResults": 1}),
    ("UpdateComputeEnvironment", {"computeEnvironment": "rt-un", "state": "DISABLED"}),
    ("DeleteComputeEnvironment", {"computeEnvironment": "rt-un"}),
    ("CreateSchedulingPolicy", {"name": "rt-fair", "fairsharePolicy": {
        "shareDecaySeconds": 60, "shareDistribution": [{"shareIdentifier": "a", "weightFactor": 1.0}]}}),
    ("ListSchedulingPolicies", {}),
    ("CreateJobQueue", {"jobQueueName": "rt-q", "priority": 1,
                        "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "rt-ec2"}]}),
    ("DescribeJobQueues", {}),
    ("UpdateJobQueue", {"jobQueue": "rt-q", "priority": 2}),
    ("RegisterJobDefinition", {"jobDefinitionName": "rt-jd", "type": "container",
                               "containerProperties": JD_CONTAINER, "retryStrategy": {"attempts": 2},
                               "parameters": {"p": "v"}, "timeout": {"attemptDurationSeconds": 60}}),
    ("DescribeJobDefinitions", {}),
    ("TagResource", {"resourceArn": "arn:aws:batch:us-east-1:123456789012:job-definition/rt-jd:1",
                     "tags": {"t": "1"}}),
    ("ListTagsForResource", {"resourceArn": "arn:aws:batch:us-east-1:123456789012:job-definition/rt-jd:1"}),
    ("UntagResource", {"resourceArn": "arn:aws:batch:us-east-1:123456789012:job-definition/rt-jd:1",
                       "tagKeys": ["t"]}),
    ("DeregisterJobDefinition", {"jobDefinition": "rt-jd:1"}),
]


def test_successful_outputs_conform_to_their_shape(client):
    """A realistic sequence through every built resource operation: each answers 200 (or 501
    while it is not built) and its raw JSON has only output-shape members of the right types."""
    answered = []
    for op_name, params in SCENARIO:
        method, target, headers, body = botocore_request(op_name, params)
        response = client.open(target, method=method, headers=headers, data=body)
        if response.status_code == 501:
            continue
        assert response.status_code == 200, (op_name, response.get_data(as_text=True))
        document = json.loads(response.get_data())
        assert conforms(document, SPEC.operation(op_name).output_shape) == [], op_name
        answered.append(op_name)
        if op_name == "DescribeComputeEnvironments" and "maxResults" not in params:
            assert {c["computeEnvironmentName"] for c in document["computeEnvironments"]} >= {
                "rt-ec2", "rt-un"}
        if op_name == "ListTagsForResource":
            assert document == {"tags": {"t": "1"}}
    assert "DescribeComputeEnvironments" in answered


def test_conforms_catches_what_it_should():
    """The checker itself can fail: unknown keys, wrong types, values outside an enum."""
    shape = SPEC.operation("DescribeComputeEnvironments").output_shape
    assert conforms({"computeEnvironments": [{"computeEnvironmentName": "a"}]}, shape) == []
    assert conforms({"bogus": 1}, shape)
    assert conforms({"computeEnvironments": [{"computeEnvironmentName": 5}]}, shape)
    assert conforms({"computeEnvironments": [{"state": "ON"}]}, shape)
    assert conforms({"computeEnvironments": [{"unmanagedvCpus": True}]}, shape)


# -- tag endpoints through the app --------------------------------------------------------------

@pytest.mark.parametrize("path", [f"/v1/tags/{ENCODED_JD_ARN}", f"/v1/tags/{JD_ARN}",
                                  "/v1/tags/" + quote(JD_ARN, safe="/"),
                                  "/v1/tags/" + quote(ENCODED_JD_ARN, safe="")])
def test_tag_paths_decode_to_the_arn(client, calls, path):
    """Encoded (botocore), raw (other SDKs), `:`-only encoded, and encoded twice."""
    client.get(path)
    assert calls == [("ListTagsForResource", {"resourceArn": JD_ARN})]


def test_untag_repeated_tag_keys(client, calls):
    client.delete(f"/v1/tags/{ENCODED_JD_ARN}?tagKeys=a&tagKeys=b%20c&tagKeys=d%2Fe")
    assert calls == [("UntagResource", {"resourceArn": JD_ARN, "tagKeys": ["a", "b c", "d/e"]})]


def test_tag_resource_body(client, calls):
    client.post(f"/v1/tags/{JD_ARN}", json={"tags": {"k": "v"}})
    assert calls == [("TagResource", {"resourceArn": JD_ARN, "tags": {"k": "v"}})]


# -- routing on the spec alone ------------------------------------------------------------------

def sample_path(op):
    uri = op.http["requestUri"].split("?", 1)[0]
    return uri.replace("{resourceArn}", JD_ARN)


@pytest.mark.parametrize("op_name", OPERATIONS)
def test_every_http_trait_routes_to_its_operation(op_name):
    op = SPEC.operation(op_name)
    matched = SPEC.match(op.http["method"], sample_path(op))
    assert matched is not None
    assert matched[0].name == op_name
    expected = {"resourceArn": JD_ARN} if "{resourceArn}" in op.http["requestUri"] else {}
    assert matched[1] == expected


def test_routes_are_unique_per_method_and_path():
    keys = [(SPEC.operation(n).http["method"], SPEC.operation(n).http["requestUri"]) for n in OPERATIONS]
    assert len(set(keys)) == len(OPERATIONS)


@pytest.mark.parametrize("method, op_name", [("GET", "ListTagsForResource"),
                                             ("POST", "TagResource"),
                                             ("DELETE", "UntagResource")])
@pytest.mark.parametrize("arn", [ENCODED_JD_ARN, JD_ARN,
                                 "arn:aws:batch:us-east-1:123456789012:job-queue/q",
                                 "arn:aws:batch:us-east-1:123456789012:job/6a1b-2c"])
def test_tag_routes(method, op_name, arn):
    op, params = SPEC.match(method, f"/v1/tags/{arn}")
    assert op.name == op_name
    assert params == {"resourceArn": arn}


@pytest.mark.parametrize("method, path", [
    ("GET", "/v1/canceljob"),           # known path, wrong method
    ("PUT", "/v1/tags/" + JD_ARN),
    ("POST", "/v1/CancelJob"),           # paths are case-sensitive
    ("POST", "/v1/canceljob/"),
    ("POST", "/v1/canceljobss"),
    ("POST", "/canceljob"),
    ("GET", "/v1/tags/"),               # no ARN at all
    ("POST", "/"),
])
def test_no_route(method, path):
    assert SPEC.match(method, path) is None


def test_methods_for_a_known_path():
    assert SPEC.methods_for("/v1/canceljob") == ["POST"]
    assert SPEC.methods_for(f"/v1/tags/{JD_ARN}") == ["DELETE", "GET", "POST"]
    assert SPEC.methods_for("/v1/nothing") == []
