"""A thin client: the HTTP requests boto3 sends, replayed with http.client over a kept-alive
connection, answers checked by counting bytes instead of parsing them.

The boto3 figures include boto3's own cost (signing, urllib3, parsing thousands of shapes),
which for DescribeJobs and ListJobs is most of the time even against a server that answers
instantly (bench/README.md, "client floor"). The same requests from this client show what the
servers themselves take, the wire included. Measures nothing itself; bench/api.py times it.
Neither server checks signatures, so a request signed once is sent with any body.
"""

from __future__ import annotations

import functools
import http.client
import json
import re
import urllib.parse

import boto3
import botocore.awsrequest

from bench import servers as srv

_NEXT_TOKEN = re.compile(rb'"nextToken"\s*:\s*"([^"]*)"')
_JOB_ARN = re.compile(rb'"jobArn"\s*:')


class _NoBody:
    def stream(self):
        yield b"{}"


def boto3_request(operation: str, **params) -> tuple[str, dict]:
    """(path, headers) of the request boto3 sends for `operation`: its signature, user agent and
    content type. Taken before sending (nothing goes over the network)."""
    client = boto3.session.Session().client("batch", endpoint_url="http://127.0.0.1:9", region_name=srv.REGION,
                                            aws_access_key_id="test", aws_secret_access_key="test",
                                            config=srv.CLIENT_CONFIG)
    seen = {}

    def before_send(request, **_):
        seen["path"] = urllib.parse.urlsplit(request.url).path
        seen["headers"] = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()
                           if k.lower() not in ("content-length", "host")}
        return botocore.awsrequest.AWSResponse(request.url, 200, {}, _NoBody())

    client.meta.events.register("before-send.batch.*", before_send)
    getattr(client, botocore.xform_name(operation))(**params)
    return seen["path"], seen["headers"]


class ThinClient:
    """POSTs JSON to one server over a kept-alive connection; reconnects when the server closes
    it (moto's server answers every request with `Connection: close`, as its boto3 clients see)."""

    def __init__(self, url: str):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self._conn = None

    def post(self, request: tuple[str, dict], body: dict) -> bytes:
        path, headers = request
        data = json.dumps(body).encode()
        for attempt in (1, 2):  # a kept connection the server closed in between fails once
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            try:
                self._conn.request("POST", path, body=data, headers={**headers, "Content-Length": str(len(data))})
                answer = self._conn.getresponse()
                text = answer.read()
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt == 2:
                    raise
                continue
            if (answer.getheader("Connection") or "").lower() == "close":
                self.close()
            if answer.status != 200:
                raise RuntimeError(f"HTTP {answer.status} from {path}: {text[:300]!r}")
            return text
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class ThinBatch:
    """The three Batch calls the API figures time, over a ThinClient."""

    def __init__(self, server):
        self.http = ThinClient(server.url)
        self._submit, self._describe, self._list = _requests()

    def submit_job(self, **params) -> dict:
        return json.loads(self.http.post(self._submit, params))

    def describe_count(self, job_ids: list) -> int:
        """How many jobs DescribeJobs answered for `job_ids`."""
        return job_arns(self.http.post(self._describe, {"jobs": job_ids}))

    def list_all(self, queue: str, status: str) -> tuple[int, int]:
        """(jobs, pages) of one full ListJobs walk, following nextToken as boto3's paginator does."""
        count = pages = 0
        body = {"jobQueue": queue, "jobStatus": status}
        while True:
            text = self.http.post(self._list, body)
            count += job_arns(text)
            pages += 1
            token = next_token(text)
            if not token:
                return count, pages
            body = dict(body, nextToken=token)


@functools.cache
def _requests() -> tuple:
    return (boto3_request("SubmitJob", jobName="j", jobQueue="q", jobDefinition="d"),
            boto3_request("DescribeJobs", jobs=["j"]), boto3_request("ListJobs", jobQueue="q"))


def job_arns(text: bytes) -> int:
    """How many jobs a DescribeJobs/ListJobs answer holds (one jobArn member per job)."""
    return len(_JOB_ARN.findall(text))


def next_token(text: bytes) -> str | None:
    """The answer's nextToken: neither JobSummary nor JobDetail has a member of that name."""
    found = _NEXT_TOKEN.search(text)
    return found.group(1).decode() if found else None
