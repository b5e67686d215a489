"""The failure-injection routes without containers (README "Failure injection"): the guard and
the credentials every batchemu route needs, JSON bodies checked member by member, answers
scoped to the signer's account, and faults that name nothing refused with a 400 that says what."""

from __future__ import annotations

import http.client

import pytest

from batchemu.testing import running_server
from tests.e2e.support import new_account
from tests.raw_client import RawClient

LOCAL = {"Host": "localhost"}


@pytest.fixture(scope="module")
def server():
    with running_server() as server:
        yield server


@pytest.fixture()
def raw(server):
    return RawClient(server.port, access_key=new_account())


def plain(server, method, path, body=b"{}", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def test_unsigned_requests_are_refused(server):
    status, body = plain(server, "POST", "/batchemu/faults/reclaim-spot", headers=LOCAL)
    assert status == 403 and b"carries no AWS credentials" in body


def test_a_foreign_host_is_refused(server, raw):
    status, _, answer = raw.request("POST", "/batchemu/faults/fail-pulls", {"image": "x"},
                                    headers={"Host": "attacker.example"})
    assert status == 403


def test_a_web_page_is_refused(server, raw):
    status, _, _ = raw.request("POST", "/batchemu/faults/fail-pulls", {"image": "x"},
                               headers={**LOCAL, "Origin": "https://evil.example"})
    assert status == 403


@pytest.mark.parametrize("path, body, words", [
    ("fail-pulls", {}, "image is required"),
    ("fail-pulls", {"image": 3}, "image must be a non-empty string"),
    ("fail-pulls", {"image": "x", "tag": "y"}, "unknown member 'tag'; this fault takes image"),
    ("reclaim-spot", {"computeEnvironment": "a", "jobId": "b"}, "at most one of computeEnvironment and jobId"),
    ("reclaim-spot", {"computeEnvironment": "nope"}, "computeEnvironment nope does not exist"),
    ("reclaim-spot", {"jobId": "nope"}, "jobId nope does not exist"),
    ("lose-instance", {}, "lose-instance needs computeEnvironment, instanceId or jobId"),
    ("lose-instance", {"instanceId": "i-0123"}, "instanceId i-0123 is not an instance running a job"),
    ("reclaim-spot", "[1]", "the request body must be a JSON object"),
    ("reclaim-spot", "{", "the request body must be a JSON object"),
])
def test_bad_faults_are_client_errors(raw, path, body, words):
    status, headers, answer = raw.request("POST", f"/batchemu/faults/{path}", body, headers=LOCAL)
    assert status == 400, answer
    assert answer["__type"] == "ClientException" and words in answer["message"]


def test_unknown_fault_and_wrong_method(raw):
    status, _, answer = raw.request("POST", "/batchemu/faults/meteor", {}, headers=LOCAL)
    assert status == 404 and "reclaim-spot" in answer["message"]
    status, headers, _ = raw.request("GET", "/batchemu/faults/reclaim-spot", None, headers=LOCAL)
    assert status == 405 and headers["Allow"] == "POST"
    status, headers, _ = raw.request("DELETE", "/batchemu/faults", None, headers=LOCAL)
    assert status == 405 and headers["Allow"] == "GET"


def test_reclaim_with_nothing_running_ends_nothing(raw):
    status, _, answer = raw.request("POST", "/batchemu/faults/reclaim-spot", {}, headers=LOCAL)
    assert status == 200 and answer == {"jobs": []}


def test_failing_pulls_are_listed_per_account(server, raw):
    status, _, answer = raw.request("POST", "/batchemu/faults/fail-pulls", {"image": "busybox"}, headers=LOCAL)
    assert status == 200 and answer["image"] == "busybox"
    assert answer["reason"].startswith("CannotPullContainerError: Error response from daemon: pull access denied "
                                       "for busybox, repository does not exist")
    status, _, listed = raw.request("GET", "/batchemu/faults", None, headers=LOCAL)
    assert listed == {"failingPulls": [{"image": "busybox:latest", "reason": answer["reason"]}]}
    other = RawClient(server.port, access_key=new_account())
    assert other.request("GET", "/batchemu/faults", None, headers=LOCAL)[2] == {"failingPulls": []}
    # busybox and busybox:latest are one image
    status, _, cleared = raw.request("POST", "/batchemu/faults/clear-pulls", {"image": "busybox:latest"},
                                     headers=LOCAL)
    assert cleared == {"cleared": ["busybox:latest"]}
