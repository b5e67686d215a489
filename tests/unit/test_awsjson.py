"""The json-1.1 wire layer against botocore's own json serializer (requests in) and parser
(responses and errors out), for CloudWatch Logs operations. No server, no network."""

from __future__ import annotations

import json

import pytest
from botocore import xform_name
from botocore.model import ShapeResolver
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from werkzeug.test import EnvironBuilder

from batchemu.config import Config
from batchemu.logs import LogsProvider, errors, service
from batchemu.logs.errors import ResourceNotFound
from batchemu.wire import awsjson
from batchemu.wire import spec as wire_spec
from batchemu.wire.endpoint import AWS_JSON_1_1, Endpoint
from batchemu.wire.errors import NotImplementedOperation
from batchemu.wire.validate import Validator

SPEC = wire_spec.load("logs")
SIGNED = ("AWS4-HMAC-SHA256 Credential=210987654321/20260101/eu-west-1/logs/aws4_request, "
          "SignedHeaders=host, Signature=0")


class Recorder:
    """A handler that records what it was given and answers what the test says."""

    def __init__(self, answer=None):
        self.calls = []
        self.answer = answer

    def __call__(self, ctx, operation, params):
        self.calls.append((ctx, operation, params))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def endpoint(handler) -> Endpoint:
    return Endpoint(SPEC, AWS_JSON_1_1, handler, Validator("InvalidParameterException", patterns=True), Config(),
                    lambda: 1_700_000_000_000, server_error_code="ServiceUnavailableException")


def botocore_request(operation: str, params: dict):
    """The Flask request botocore would send for `params`."""
    wire = create_serializer("json").serialize_to_request(params, SPEC.operation(operation))
    headers = dict(wire["headers"], Authorization=SIGNED)
    return EnvironBuilder(method="POST", path="/", headers=headers, data=wire["body"]).get_request()


def call(handler, operation: str, params: dict):
    request = botocore_request(operation, params)
    ep = endpoint(handler)
    name = ep.match(request)
    assert name == operation
    return ep(request, name)


def botocore_parse(operation: str, response) -> dict:
    return create_parser("json").parse(
        {"status_code": response.status_code, "headers": dict(response.headers), "body": response.get_data()},
        SPEC.operation(operation).output_shape)


def test_request_params_roundtrip_through_botocore_serializer():
    params = {"logGroupName": "/aws/batch/job", "logStreamName": "jd/default/abc",
              "logEvents": [{"timestamp": 1_700_000_000_000, "message": "héllo"},
                            {"timestamp": 1_700_000_000_001, "message": "two"}],
              "sequenceToken": "49"}
    handler = Recorder({"nextSequenceToken": "1"})
    response = call(handler, "PutLogEvents", params)
    assert response.status_code == 200
    ((ctx, operation, got),) = handler.calls
    assert operation == "PutLogEvents" and got == params
    assert (ctx.account, ctx.region, ctx.now_ms) == ("210987654321", "eu-west-1", 1_700_000_000_000)
    tags = {"logGroupName": "g", "tags": {"team": "a", "cost": "b"}, "logGroupClass": "STANDARD"}
    handler = Recorder({})
    call(handler, "CreateLogGroup", tags)
    assert handler.calls[0][2] == tags


def test_response_is_filtered_to_the_output_shape_and_parsed_by_botocore():
    result = {"events": [{"timestamp": 5, "message": "m", "ingestionTime": 6, "internal": "dropped"}],
              "nextForwardToken": "f/1/s", "nextBackwardToken": "b/1/s", "_private": 1, "extra": None}
    response = call(Recorder(result), "GetLogEvents", {"logGroupName": "g", "logStreamName": "s"})
    assert response.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert response.headers["x-amzn-RequestId"]
    assert json.loads(response.get_data()) == {"events": [{"timestamp": 5, "message": "m", "ingestionTime": 6}],
                                               "nextForwardToken": "f/1/s", "nextBackwardToken": "b/1/s"}
    parsed = botocore_parse("GetLogEvents", response)
    assert parsed["events"] == [{"timestamp": 5, "message": "m", "ingestionTime": 6}]
    assert parsed["nextForwardToken"] == "f/1/s"


def test_service_errors_parse_as_botocore_errors():
    response = call(Recorder(ResourceNotFound("The specified log group does not exist.")), "DescribeLogStreams",
                    {"logGroupName": "g"})
    assert response.status_code == 400 and response.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    parsed = botocore_parse("DescribeLogStreams", response)
    assert parsed["Error"] == {"Code": "ResourceNotFoundException",
                               "Message": "The specified log group does not exist."}


@pytest.mark.parametrize("operation, params, text", [
    ("GetLogEvents", {"logGroupName": "g"}, 'Missing required parameter in input: "logStreamName"'),
    ("GetLogEvents", {"logGroupName": "g", "logStreamName": "s", "limit": 0}, "between 1 and 10000"),
    ("CreateLogGroup", {"logGroupName": "has space"}, "regular expression pattern"),
    ("CreateLogStream", {"logGroupName": "g", "logStreamName": "a*b"}, "at 'logStreamName'"),
    ("DescribeLogStreams", {"logGroupName": "g", "orderBy": "Newest"}, "enum value set"),
    ("PutLogEvents", {"logGroupName": "g", "logStreamName": "s", "logEvents": []}, "logEvents"),
])
def test_bad_input_is_invalid_parameter_and_never_reaches_the_handler(operation, params, text):
    wire = json.dumps(params).encode()  # raw: botocore's client would refuse some of these
    request = EnvironBuilder(method="POST", path="/", data=wire, headers={
        "X-Amz-Target": f"Logs_20140328.{operation}", "Content-Type": awsjson.CONTENT_TYPE}).get_request()
    handler = Recorder({})
    response = endpoint(handler)(request, operation)
    assert response.status_code == 400 and handler.calls == []
    body = json.loads(response.get_data())
    assert body["__type"] == "InvalidParameterException" and text in body["message"]


def test_nulls_unknown_members_and_malformed_bodies():
    ep = endpoint(Recorder({}))
    request = EnvironBuilder(method="POST", data=b'{"logGroupName":"g","kmsKeyId":null,"future":1}', headers={
        "X-Amz-Target": "Logs_20140328.CreateLogGroup"}).get_request()
    handler = Recorder({})
    endpoint(handler)(request, "CreateLogGroup")
    assert handler.calls[0][2] == {"logGroupName": "g"}
    for body in (b"not json", b"[1]"):
        request = EnvironBuilder(method="POST", data=body, headers={
            "X-Amz-Target": "Logs_20140328.CreateLogGroup"}).get_request()
        response = ep(request, "CreateLogGroup")
        assert response.status_code == 400
        assert json.loads(response.get_data())["__type"] == "InvalidParameterException"


def test_matching_unknown_unimplemented_and_internal_errors():
    ep = endpoint(Recorder({}))
    other = EnvironBuilder(method="POST", headers={"X-Amz-Target": "AmazonSQS.SendMessage"}).get_request()
    get = EnvironBuilder(method="GET", headers={"X-Amz-Target": "Logs_20140328.GetLogEvents"}).get_request()
    assert ep.match(other) is None and ep.match(get) is None
    unknown = ep(EnvironBuilder(method="POST", data=b"{}").get_request(), "NoSuchOperation")
    assert unknown.status_code == 400
    assert json.loads(unknown.get_data())["__type"] == "UnknownOperationException"
    todo = call(Recorder(NotImplementedOperation("not yet")), "DescribeDestinations", {})
    assert todo.status_code == 501 and botocore_parse("DescribeDestinations", todo)["Error"]["Code"] == "NotImplemented"
    bug = call(Recorder(KeyError("oops")), "DescribeLogGroups", {})
    assert bug.status_code == 500 and bug.headers["Content-Type"] == awsjson.CONTENT_TYPE
    assert json.loads(bug.get_data())["__type"] == "ServiceUnavailableException"


def test_blobs_and_timestamps_follow_the_json_protocol():
    shapes = ShapeResolver({"S": {"type": "structure", "members": {"b": {"shape": "B"}, "t": {"shape": "T"}}},
                            "B": {"type": "blob"}, "T": {"type": "timestamp"}})
    shape = shapes.get_shape_by_name("S")
    parsed = awsjson._read({"b": "aGk=", "t": 1.5}, shape, "X", "")
    assert parsed["b"] == b"hi" and parsed["t"].timestamp() == 1.5
    assert awsjson._write(parsed, shape) == {"b": "aGk=", "t": 1.5}


def test_error_codes_used_by_the_logs_service_are_in_the_model():
    declared = {e.name for op in SPEC.operation_names for e in SPEC.operation(op).error_shapes}
    used = {cls.code for cls in vars(errors).values()
            if isinstance(cls, type) and issubclass(cls, errors.LogsError) and cls is not errors.LogsError}
    assert used <= declared and "ServiceUnavailableException" in declared


def test_every_logs_function_names_a_model_operation():
    provider = LogsProvider(None, SPEC)
    public = {name for name, fn in vars(service).items()
              if callable(fn) and not name.startswith("_") and getattr(fn, "__module__", "") == service.__name__}
    assert {xform_name(op) for op in provider.implemented} == public
