"""GET /batchemu/health: the liveness answer the container image's HEALTHCHECK asks for."""

import http.client
import json

import pytest

from batchemu import __version__
from batchemu.testing import running_server


@pytest.fixture(scope="module")
def server():
    with running_server(runner="none") as s:
        yield s


def get(server, path, method="GET", host="localhost"):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read()
    finally:
        conn.close()


def test_health_answers_without_credentials(server):
    status, ctype, body = get(server, "/batchemu/health")
    assert status == 200
    assert ctype.startswith("application/json")
    assert json.loads(body) == {"status": "ok", "version": __version__}


def test_health_head(server):
    status, _, body = get(server, "/batchemu/health", method="HEAD")
    assert status == 200 and body == b""


def test_health_is_behind_the_host_guard(server):
    # A DNS-rebinding page must not learn even that much: a foreign Host is refused here too.
    status, _, _ = get(server, "/batchemu/health", host="attacker.example")
    assert status == 403


def test_health_is_read_only(server):
    # Only GET/HEAD are the health route; a POST falls through to the router's JSON 404.
    status, ctype, _ = get(server, "/batchemu/health", method="POST")
    assert status == 404 and ctype.startswith("application/json")


def test_health_needs_no_signature_where_signatures_are_verified():
    # With --verify-signatures the image's HEALTHCHECK (no AWS key) must still see the server
    # up, while every API call stays refused without a valid signature.
    with running_server(runner="none", verify_signatures=True, credentials="AKIDHEALTH:secret") as s:
        status, _, body = get(s, "/batchemu/health")
        assert status == 200 and json.loads(body)["status"] == "ok"
        status, _, body = get(s, "/v1/describejobqueues", method="POST")
        assert status == 403 and json.loads(body)["__type"] == "MissingAuthenticationTokenException"
        status, _, _ = get(s, "/batchemu/health", host="attacker.example")
        assert status == 403
