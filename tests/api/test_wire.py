"""The wire protocol through real HTTP on a loopback server (ref §1): JSON errors for every
failure, request ids, which account and region a request is in, and HTTP/1.1 keep-alive."""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import uuid

import pytest
from botocore import xform_name
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from batchemu.testing import running_server
from batchemu.wire import spec as wire_spec
from tests.helpers import AUTH, AUTH_LINE, sigv4_headers

SPEC = wire_spec.load("batch")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NO_RETRIES = BotoConfig(retries={"max_attempts": 1, "mode": "standard"})


def call(server, method, path, body=None, headers=None, sign=True):
    """One raw HTTP request, SigV4-signed as SDKs sign unless `sign` is false or the path
    carries presigned credentials: (status, headers, parsed JSON body or the raw bytes)."""
    headers = dict(headers or {})
    if sign and "X-Amz-Credential" not in path:
        data = body.encode() if isinstance(body, str) else body
        headers = sigv4_headers(method, server.url + path, data, headers)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = raw
        return resp.status, resp.headers, doc
    finally:
        conn.close()


def assert_json_error(status, headers, doc, expected_status, code):
    assert status == expected_status
    assert headers["Content-Type"] == "application/json"
    assert headers["x-amzn-ErrorType"] == code
    assert isinstance(doc, dict) and doc["__type"] == code and doc["message"]
    assert UUID.fullmatch(headers["x-amzn-RequestId"])


# -- malformed input ------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"{not json", b'{"computeEnvironmentName": "x"', b"\xff\xfe{}",
                                  b"[]", b'["computeEnvironmentName"]', b'"a string"', b"42", b"null"])
def test_malformed_body_is_a_client_exception(server, body):
    status, headers, doc = call(server, "POST", "/v1/createcomputeenvironment", body,
                                {"Content-Type": "application/json"})
    assert_json_error(status, headers, doc, 400, "ClientException")


def test_malformed_json_says_so(server):
    _, _, doc = call(server, "POST", "/v1/describecomputeenvironments", b"{oops")
    assert "not valid JSON" in doc["message"]
    _, _, doc = call(server, "POST", "/v1/describecomputeenvironments", b"[1, 2]")
    assert "JSON object" in doc["message"]


def test_empty_body_missing_required_member(server):
    status, headers, doc = call(server, "POST", "/v1/createcomputeenvironment", b"")
    assert_json_error(status, headers, doc, 400, "ClientException")
    assert "computeEnvironmentName" in doc["message"]


def test_null_members_count_as_absent(server):
    """A client that writes `null` for unset members (Smithy: servers drop null structure
    members) is not told that null has the wrong type."""
    body = {"computeEnvironmentName": f"nulls-{uuid.uuid4().hex[:8]}", "type": "UNMANAGED",
            "unmanagedvCpus": None, "tags": None, "state": None, "eksConfiguration": None}
    status, _, doc = call(server, "POST", "/v1/createcomputeenvironment", json.dumps(body),
                          {"Content-Type": "application/json"})
    assert status == 200, doc
    status, _, doc = call(server, "POST", "/v1/describecomputeenvironments",
                          json.dumps({"computeEnvironments": [body["computeEnvironmentName"]],
                                      "maxResults": None, "nextToken": None}))
    assert status == 200, doc
    (ce,) = doc["computeEnvironments"]
    assert ce["state"] == "ENABLED" and ce.get("tags", {}) == {}


def test_null_for_a_required_member_is_missing(server):
    status, headers, doc = call(server, "POST", "/v1/createcomputeenvironment",
                                json.dumps({"computeEnvironmentName": None, "type": "UNMANAGED"}))
    assert_json_error(status, headers, doc, 400, "ClientException")
    assert doc["message"] == 'Missing required parameter in input: "computeEnvironmentName"'


# -- unknown paths and methods ---------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [("POST", "/v1/nosuchoperation"), ("GET", "/"),
                                          ("GET", "/favicon.ico"), ("POST", "/v2/createjobqueue"),
                                          ("DELETE", "/v1/tags/")])
def test_unknown_path_is_a_json_404(server, method, path):
    status, headers, doc = call(server, method, path, b"{}")
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert doc["__type"] and path in doc["message"]
    assert UUID.fullmatch(headers["x-amzn-RequestId"])


@pytest.mark.parametrize("method, path, allowed", [
    ("GET", "/v1/createcomputeenvironment", "POST"),
    ("PUT", "/v1/describejobs", "POST"),
    ("OPTIONS", "/v1/canceljob", "POST"),
    ("PATCH", "/v1/tags/arn:aws:batch:us-east-1:123456789012:job-queue/q", "DELETE, GET, POST"),
])
def test_wrong_method_is_a_json_405(server, method, path, allowed):
    status, headers, doc = call(server, method, path)
    assert_json_error(status, headers, doc, 405, "ClientException")
    assert headers["Allow"] == allowed
    assert method in doc["message"]


# -- not implemented ---------------------------------------------------------------------------------

@pytest.fixture()
def unimplemented(server):
    """An operation the model has and the provider cannot answer. Every operation is built
    today, so one takes no required input loses its handler for this test: the 501 path is what
    a newer botocore's new operations take until they are built."""
    handlers = server.emulator.provider.handlers
    name = next(n for n in SPEC.operation_names
                if n in handlers and not (SPEC.operation(n).input_shape
                                          and SPEC.operation(n).input_shape.required_members))
    removed = handlers.pop(name)
    yield name
    handlers[name] = removed


def test_unimplemented_operation_is_a_json_501(server, unimplemented):
    name = unimplemented
    path = SPEC.operation(name).http["requestUri"]
    status, headers, doc = call(server, "POST", path, b"{}")
    assert_json_error(status, headers, doc, 501, "NotImplemented")
    assert name in doc["message"]


@pytest.mark.parametrize("mode", ["legacy", "standard", "adaptive"])
def test_botocore_does_not_retry_a_501(server, mode, unimplemented):
    name = unimplemented
    client = server.client(config=BotoConfig(retries={"mode": mode, "max_attempts": 5}))
    with pytest.raises(ClientError) as exc:
        getattr(client, xform_name(name))()
    response = exc.value.response
    assert response["Error"]["Code"] == "NotImplemented"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert response["ResponseMetadata"]["RetryAttempts"] == 0


# -- request ids ---------------------------------------------------------------------------------------

def test_every_answer_has_a_fresh_request_id(server):
    answers = [call(server, "POST", "/v1/describecomputeenvironments", b"{}"),      # 200
               call(server, "POST", "/v1/describecomputeenvironments", b"{x"),      # 400
               call(server, "POST", "/v1/nothing"),                                  # 404
               call(server, "GET", "/v1/describecomputeenvironments")]              # 405
    ids = [headers["x-amzn-RequestId"] for _, headers, _ in answers]
    assert [status for status, _, _ in answers] == [200, 400, 404, 405]
    assert all(UUID.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_boto3_request_id_is_the_header(batch):
    out = batch.describe_compute_environments()
    meta = out["ResponseMetadata"]
    assert UUID.fullmatch(meta["RequestId"])
    assert meta["RequestId"] == meta["HTTPHeaders"]["x-amzn-requestid"]
    with pytest.raises(ClientError) as exc:
        batch.update_compute_environment(computeEnvironment="missing", state="DISABLED")
    meta = exc.value.response["ResponseMetadata"]
    assert meta["RequestId"] == meta["HTTPHeaders"]["x-amzn-requestid"]
    assert meta["RequestId"] != out["ResponseMetadata"]["RequestId"]


# -- our own bugs ---------------------------------------------------------------------------------------

def test_unexpected_exception_is_a_json_500_with_the_traceback_logged(server, monkeypatch, caplog):
    handlers = server.emulator.provider.handlers

    def broken(backend, ctx, params):
        raise RuntimeError("deliberately broken for the test")

    monkeypatch.setitem(handlers, "DescribeComputeEnvironments", broken)
    with caplog.at_level(logging.ERROR, logger="batchemu"):
        status, headers, doc = call(server, "POST", "/v1/describecomputeenvironments", b"{}")
    assert_json_error(status, headers, doc, 500, "ServerException")
    request_id = headers["x-amzn-RequestId"]
    assert request_id in doc["message"]
    assert "deliberately broken" not in doc["message"]  # internals stay in the log
    logged = [r for r in caplog.records if r.exc_info and request_id in r.getMessage()]
    assert logged, [r.getMessage() for r in caplog.records]
    assert isinstance(logged[0].exc_info[1], RuntimeError)
    assert "DescribeComputeEnvironments" in logged[0].getMessage()

    client = server.client(config=NO_RETRIES)
    with pytest.raises(ClientError) as exc:
        client.describe_compute_environments()
    assert exc.value.response["Error"]["Code"] == "ServerException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


# -- account and region ------------------------------------------------------------------------------

def created_arn(client, name):
    return client.create_compute_environment(computeEnvironmentName=name,
                                             type="UNMANAGED")["computeEnvironmentArn"]


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_account_from_a_12_digit_access_key(server):
    name = unique("acct")
    arn = created_arn(server.client(access_key="210987654321"), name)
    assert arn == f"arn:aws:batch:us-east-1:210987654321:compute-environment/{name}"


@pytest.mark.parametrize("access_key", ["AKIAIOSFODNN7EXAMPLE", "test", "12345678901", "1234567890123"])
def test_other_access_keys_use_the_default_account(server, access_key):
    name = unique("dflt")
    arn = created_arn(server.client(access_key=access_key), name)
    assert arn == f"arn:aws:batch:us-east-1:123456789012:compute-environment/{name}"


@pytest.mark.parametrize("region, partition", [("eu-west-1", "aws"), ("ap-southeast-2", "aws"),
                                               ("cn-north-1", "aws-cn"),
                                               ("us-gov-west-1", "aws-us-gov")])
def test_region_from_the_signature_scope(server, region, partition):
    name = unique("rgn")
    arn = created_arn(server.client(region=region, access_key="111122223333"), name)
    assert arn == f"arn:{partition}:batch:{region}:111122223333:compute-environment/{name}"


def test_unsigned_request_from_the_servers_own_page_uses_default_account_and_region(server):
    """Only a page of this server may call unsigned (tests/api/test_security.py: the others
    are refused); it works in the default account and region."""
    name = unique("unsigned")
    own_page = {"Origin": f"http://127.0.0.1:{server.port}", "Content-Type": "application/json"}
    status, _, doc = call(server, "POST", "/v1/createcomputeenvironment",
                          json.dumps({"computeEnvironmentName": name, "type": "UNMANAGED"}),
                          own_page, sign=False)
    assert status == 200, doc
    arn = doc["computeEnvironmentArn"]
    assert arn == f"arn:aws:batch:us-east-1:123456789012:compute-environment/{name}"
    status, _, doc = call(server, "POST", "/v1/describecomputeenvironments",
                          json.dumps({"computeEnvironments": [name]}))  # any non-account key
    assert [c["computeEnvironmentArn"] for c in doc["computeEnvironments"]] == [arn]


def test_presigned_credential_scope(server):
    name = unique("presigned")
    query = "X-Amz-Credential=444455556666%2F20250101%2Fsa-east-1%2Fbatch%2Faws4_request"
    status, _, doc = call(server, "POST", f"/v1/createcomputeenvironment?{query}",
                          json.dumps({"computeEnvironmentName": name, "type": "UNMANAGED"}))
    assert status == 200, doc
    assert doc["computeEnvironmentArn"] == \
        f"arn:aws:batch:sa-east-1:444455556666:compute-environment/{name}"


# -- HTTP/1.1 keep-alive -----------------------------------------------------------------------------

def test_one_connection_serves_many_requests(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        statuses = []
        first_socket = None
        for method, path, body in [("POST", "/v1/nothing", b"x" * 100_000),   # body never read
                                   ("POST", "/v1/describecomputeenvironments", b"{}"),
                                   ("GET", "/v1/describecomputeenvironments", b'{"a": 1}'),
                                   ("POST", "/v1/describecomputeenvironments", b"{bad"),
                                   ("POST", "/v1/describecomputeenvironments", b"{}")]:
            conn.request(method, path, body=body, headers=AUTH)
            resp = conn.getresponse()
            json.loads(resp.read())
            assert resp.version == 11
            assert (resp.getheader("Connection") or "").lower() != "close"
            statuses.append(resp.status)
            first_socket = first_socket or conn.sock
            assert conn.sock is first_socket  # http.client reconnects if the server closed
    finally:
        conn.close()
    assert statuses == [404, 200, 405, 400, 200]


def test_pipelined_requests_are_all_answered(server):
    request = (b"POST /v1/describecomputeenvironments HTTP/1.1\r\nHost: localhost\r\n" + AUTH_LINE +
               b"Content-Length: 2\r\n\r\n{}")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request * 3 + b"GET /nothing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):  # the server closes after the last one
            data += chunk
    assert data.count(b"HTTP/1.1 200") == 3
    assert data.count(b"HTTP/1.1 404") == 1


def test_client_asking_to_close_is_honoured(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/describecomputeenvironments HTTP/1.1\r\nHost: localhost\r\n" + AUTH_LINE +
                     b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and b"Connection: close" in data


def test_a_chunked_request_is_answered_in_one_piece_and_its_connection_stays_open(server):
    """The server reads a chunked body whole before the app runs, so the socket is at a request
    boundary after the response: status line, headers and body arrive in one piece, and the
    same connection serves the next request."""
    request = (b"POST /v1/describecomputeenvironments HTTP/1.1\r\nHost: localhost\r\n" + AUTH_LINE +
               b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        first = sock.recv(65536)
        sock.sendall(request.replace(b"Host: localhost", b"Host: localhost\r\nConnection: close"))
        data = b""
        while chunk := sock.recv(65536):  # ends because the second request asked to close
            data += chunk
    head, _, body = first.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Connection: close" not in head
    assert "computeEnvironments" in json.loads(body)
    assert data.startswith(b"HTTP/1.1 200") and b"computeEnvironments" in data


def test_stopping_the_server_ends_idle_connections():
    with running_server() as s:
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        conn.request("POST", "/v1/describecomputeenvironments", body=b"{}", headers=AUTH)
        response = conn.getresponse()
        assert response.status == 200 and response.read()
        sock = conn.sock  # still open: keep-alive
    try:
        assert sock.recv(1) == b""  # closed by the server, not left waiting
    finally:
        conn.close()


def test_boto3_many_calls_over_keep_alive(batch):
    for i in range(5):
        batch.create_compute_environment(computeEnvironmentName=f"ka{i}", type="UNMANAGED")
    names = [c["computeEnvironmentName"] for c in batch.describe_compute_environments()["computeEnvironments"]]
    assert names == [f"ka{i}" for i in range(5)]
