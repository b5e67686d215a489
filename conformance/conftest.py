"""Fixtures and policy of the conformance suite.

The server: by default batchemu started in this process (`batchemu.testing.running_server`),
one with runner "none" (jobs wait in RUNNABLE) and one with runner "process" (jobs run on this
host); with BATCHEMU_ENDPOINT=http://host:port every test goes to that deployment instead.
Each test gets an account of its own (a fresh 12-digit access key).

Policy, applied to every test here: a 501 from an operation listed in
coverage.NOT_IMPLEMENTED makes the test xfail (so checks turn green by themselves when the
operation lands); a 501 from any other operation is a failure; a passing test that never sent
an operation its @covers claims is a failure.
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict

import pytest

from conformance import coverage
from conformance.harness import Endpoint, new_account, not_implemented_operation

EXTERNAL = os.environ.get("BATCHEMU_ENDPOINT", "").strip()
CALLS = pytest.StashKey[dict]()


@contextlib.contextmanager
def _endpoint(runner: str):
    if EXTERNAL:
        yield Endpoint(EXTERNAL, "external")
        return
    from batchemu.testing import running_server  # only the in-process mode needs batchemu
    with running_server(runner=runner) as server:
        yield Endpoint(server.url, runner)


@pytest.fixture(scope="session")
def endpoint():
    """A server whose jobs never run (they wait in RUNNABLE): for API behaviour."""
    with _endpoint("none") as e:
        yield e


@pytest.fixture(scope="session")
def job_endpoint():
    """A server that runs jobs: the process runner (the command runs on this host)."""
    with _endpoint("process") as e:
        yield e


@pytest.fixture()
def calls(request) -> dict:
    """{channel: operations sent in this test} ("boto3", "cli", "js", "raw")."""
    return request.node.stash.setdefault(CALLS, defaultdict(set))


@pytest.fixture()
def account() -> str:
    return new_account()


@pytest.fixture()
def batch(endpoint, account, calls):
    """boto3 Batch client on `endpoint`, in this test's own account."""
    return endpoint.client(account, calls["boto3"])


@pytest.fixture()
def job_batch(job_endpoint, account, calls):
    """boto3 Batch client on the server that runs jobs."""
    return job_endpoint.client(account, calls["boto3"])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    try:
        result = yield
    except BaseException as exc:
        operation = not_implemented_operation(exc)
        if operation is None:
            raise
        if operation in coverage.NOT_IMPLEMENTED:
            pytest.xfail(f"{operation} is not implemented yet (HTTP 501)")
        raise AssertionError(f"{operation} answered 501, but conformance/coverage.py's "
                             "NOT_IMPLEMENTED does not list it") from exc
    sent = item.stash.get(CALLS, {})
    for mark in item.iter_markers("covers"):
        channel = mark.kwargs["channel"]
        missing = set(mark.args) - sent.get(channel, set())
        if missing:
            raise AssertionError(f"the test claims (@covers) {sorted(missing)} through {channel} "
                                 "but never sent it")
    return result


def pytest_configure(config):
    config.addinivalue_line("markers", "covers(*operations, suite, channel): operations a "
                            "conformance test exercises (see conformance/registry.py)")
