"""What every conformance test talks through: the endpoint under test, boto3 clients that
record the operations they call, raw signed HTTP requests that bypass client-side validation,
polling waits with a timeout, and the "this operation answers 501" signal.

Black-box only: nothing here imports batchemu, so the suite runs against any deployment.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import boto3
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotoConfig
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

REGION = "us-east-1"
SECRET = "test"
# Image for jobs that really run. The process runner ignores it; a Docker deployment needs it
# to exist locally (no registry is reachable from the test machines).
JOB_IMAGE = "batchemu-test/busybox:latest"
# Polls are cheap HTTP calls against a local server; the deadline is what matters.
POLL_SECONDS = 0.05
NO_RETRIES = BotoConfig(retries={"max_attempts": 1, "mode": "standard"})

MODEL = botocore.session.get_session().get_service_model("batch")
OPERATIONS = tuple(MODEL.operation_names)


class NotImplementedYet(Exception):
    """The server answered 501 for `operation` (how batchemu marks an operation not built yet)."""

    def __init__(self, operation: str, detail: str = ""):
        super().__init__(f"{operation} answered 501 (not implemented): {detail}".strip())
        self.operation = operation


def not_implemented_operation(exc: BaseException) -> str | None:
    """The operation a 501 was for, if `exc` is one (from boto3, the CLI or the JS SDK)."""
    if isinstance(exc, NotImplementedYet):
        return exc.operation
    if isinstance(exc, ClientError):
        meta = exc.response.get("ResponseMetadata", {})
        if exc.response.get("Error", {}).get("Code") == "NotImplemented" or meta.get("HTTPStatusCode") == 501:
            return exc.operation_name
    return None


def new_account() -> str:
    """A fresh 12-digit account: batchemu takes a 12-digit access key as the account id, so
    every test sees only its own resources."""
    return str(uuid.uuid4().int % 10**12).zfill(12)


def unique(prefix: str) -> str:
    """A resource name that matches Batch's name rules (letters, digits, -, _; alnum first)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Endpoint:
    url: str
    # "none": jobs never run; "process"/"docker": they do; "external": whatever it is.
    runner: str

    def client(self, account: str, calls: set | None = None, **kwargs):
        client = boto3.client("batch", endpoint_url=self.url, region_name=REGION,
                              aws_access_key_id=account, aws_secret_access_key=SECRET,
                              config=kwargs.pop("config", NO_RETRIES), **kwargs)
        if calls is not None:
            record_calls(client, calls)
        return client


def record_calls(client, calls: set) -> None:
    """Add the name of every operation the client sends to `calls`."""
    def before_call(model, **_):
        calls.add(model.name)
    client.meta.events.register("before-call.batch", before_call)


def capture_raw_bodies(client) -> dict:
    """{operation name: the last raw HTTP response body} for the client, before botocore
    parses (and silently forgives) it."""
    bodies = {}

    def before_parse(operation_model, response_dict, **_):
        bodies[operation_model.name] = response_dict["body"]
    client.meta.events.register("before-parse.batch", before_parse)
    return bodies


# -- raw HTTP ---------------------------------------------------------------------------------

@dataclass
class RawResponse:
    status: int
    headers: dict
    body: object  # parsed JSON, or the raw bytes when it is not JSON

    @property
    def error_code(self):
        return self.headers.get("x-amzn-errortype")


def raw_request(endpoint_url: str, account: str, operation: str, params: dict) -> RawResponse:
    """Send `params` for `operation` exactly as given (no client-side validation), laid out on
    the wire as the model's http trait says (URI labels, query string, JSON body), SigV4-signed
    so the server puts it in `account`."""
    op = MODEL.operation_model(operation)
    uri, _, fixed_query = op.http["requestUri"].partition("?")
    query, body = [], {}
    for name, value in params.items():
        member = op.input_shape.members.get(name)
        location = member.serialization.get("location") if member is not None else None
        wire_name = member.serialization.get("name", name) if member is not None else name
        if location == "uri":
            uri = re.sub(r"\{" + wire_name + r"\+?\}", quote(str(value), safe=""), uri)
        elif location == "querystring":
            for item in value if isinstance(value, list) else [value]:
                query.append((wire_name, item))
        else:
            body[wire_name] = value
    url = endpoint_url.rstrip("/") + uri
    if fixed_query or query:
        url += "?" + "&".join(filter(None, [fixed_query, urlencode(query)]))
    request = AWSRequest(method=op.http["method"], url=url,
                         data=json.dumps(body).encode() if op.http["method"] != "GET" else b"",
                         headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(account, SECRET), "batch", REGION).add_auth(request)
    prepared = request.prepare()
    req = urllib.request.Request(prepared.url, data=prepared.body or None, method=prepared.method,
                                 headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, headers, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        status, headers, raw = err.code, err.headers, err.read()
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = raw
    return RawResponse(status, {k.lower(): v for k, v in headers.items()}, parsed)


# -- waiting ----------------------------------------------------------------------------------

def wait_for(probe, done, timeout: float = 20.0, what: str = "condition"):
    """Call probe() until done(result) holds; return that result. Fails with the last result
    after `timeout` seconds. AWS Batch has no push channel: clients poll, and so do we."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last saw {result!r}")
        time.sleep(POLL_SECONDS)


def wait_job(client, job_id: str, statuses, timeout: float = 30.0) -> dict:
    """The job's detail once its status is one of `statuses`."""
    statuses = {statuses} if isinstance(statuses, str) else set(statuses)

    def probe():
        jobs = client.describe_jobs(jobs=[job_id])["jobs"]
        return jobs[0] if jobs else None
    return wait_for(probe, lambda j: j is not None and j["status"] in statuses, timeout,
                    f"job {job_id} to reach {sorted(statuses)}")


def wait_settled(describe, timeout: float = 20.0, what: str = "resource"):
    """The resource (describe() -> detail or None) once it is neither CREATING nor UPDATING
    (ref §1.7: CEs, queues and service environments settle asynchronously)."""
    return wait_for(describe, lambda d: d is not None and d.get("status") not in ("CREATING", "UPDATING"),
                    timeout, f"{what} to settle")


def wait_gone(describe, timeout: float = 20.0, what: str = "resource"):
    """Wait until a deleted resource is gone or shows DELETED (ref §1.5)."""
    return wait_for(describe, lambda d: d is None or d.get("status") == "DELETED", timeout,
                    f"{what} to be deleted")


def client_error(call, *args, **kwargs) -> ClientError:
    """The ClientError that call(...) raises; fails if it succeeds. A 501 passes through."""
    try:
        call(*args, **kwargs)
    except ClientError as err:
        if not_implemented_operation(err):
            raise
        return err
    raise AssertionError(f"{getattr(call, '__name__', call)} succeeded; expected a ClientException")
