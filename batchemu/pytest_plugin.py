"""batchemu's pytest plugin, installed with the package (entry point `pytest11`: batchemu), so
a project that `pip install batchemu` gets these fixtures with no conftest.py:

    batchemu          (session) the server: `.url`, `.client(service, account=None, region=...)`
                      (a boto3 client for any service on that endpoint, dummy credentials),
                      `.env(account)` (AWS_* variables pointing there), `.reset()`
    batch             a boto3 Batch client in a fresh account of its own for each test: tests
                      never see each other's resources, with no reset between them
    batchemu_account  that test's account id (the 12-digit access key batchemu takes as the
                      account), for other clients in the same account
    batchemu_env      the test's environment pointed at the server in that account
                      (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...), for code that builds its own
                      clients; undone after the test

Options (command line, or the ini key in parentheses; the command line wins):
    --batchemu-endpoint URL   use a running batchemu (the container image, a CI service)
                              instead of starting one (batchemu_endpoint; env BATCHEMU_ENDPOINT)
    --batchemu-runner R       how the in-process server runs jobs: auto (Docker when an engine
                              answers, else host processes), docker, process or none
                              (batchemu_runner; default auto)

Costs nothing in a session that uses none of these fixtures: the server starts on the first
request for `batchemu`, and boto3 and the server's modules are imported only then. A
conftest.py fixture of the same name (batchemu's own test suite has a `batch`) overrides these,
as pytest always lets a nearer fixture do.
"""

from __future__ import annotations

import os
import secrets

import pytest

RUNNERS = ("auto", "docker", "process", "none")
REGION = "us-east-1"
SECRET = "batchemu"                 # any secret works unless the server verifies signatures
DEFAULT_ACCOUNT = "123456789012"    # the server's account for a non-numeric access key


def pytest_addoption(parser):
    group = parser.getgroup("batchemu", "batchemu (a local AWS Batch)")
    group.addoption("--batchemu-endpoint", default=None, metavar="URL",
                    help="use the batchemu at URL instead of starting one (ini batchemu_endpoint; "
                         "env BATCHEMU_ENDPOINT)")
    group.addoption("--batchemu-runner", default=None, choices=RUNNERS,
                    help="how the started batchemu runs jobs (ini batchemu_runner; default auto: "
                         "Docker when an engine answers, else host processes)")
    parser.addini("batchemu_endpoint", "URL of a running batchemu to use instead of starting one")
    parser.addini("batchemu_runner", "how the started batchemu runs jobs: auto, docker, process or none")


def new_account() -> str:
    """A random 12-digit account id: a fresh account even on a long-lived external server."""
    while True:
        account = str(secrets.randbelow(10**12)).zfill(12)
        if account != DEFAULT_ACCOUNT:
            return account


class Batchemu:
    """The server the fixtures talk to: started here (`emulator` is its composition root) or
    running elsewhere (`emulator` is None)."""

    def __init__(self, url: str, emulator=None):
        self.url = url.rstrip("/")
        self.emulator = emulator

    def client(self, service: str = "batch", account: str | None = None, region: str = REGION, **kwargs):
        """A boto3 client for `service` on this endpoint, in `account` (default: the server's
        default account), with dummy credentials."""
        import boto3  # lazy for start-up time: a session that never asks for a client never imports boto3

        return boto3.client(service, endpoint_url=self.url, region_name=region,
                            aws_access_key_id=account or "batchemu-test", aws_secret_access_key=SECRET,
                            **kwargs)

    def env(self, account: str | None = None, region: str = REGION) -> dict:
        """The AWS_* variables an SDK or the aws CLI reads to call this server in `account`."""
        return {"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": account or "batchemu-test",
                "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}

    def reset(self) -> None:
        """Empty the server (POST /batchemu/reset): every account's Batch state, its jobs'
        containers and moto's services. A started server always allows it; an external one
        only when it is ephemeral or runs with --allow-reset."""
        if self.emulator is not None:
            self.emulator.reset()
            return
        import urllib.request  # lazy for start-up time (http.client, ssl): only an external server's reset

        request = urllib.request.Request(self.url + "/batchemu/reset", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()


def _setting(config, name: str):
    value = config.getoption(f"--batchemu-{name}")
    if value is None:
        value = config.getini(f"batchemu_{name}") or None
    return value


@pytest.fixture(scope="session")
def batchemu(pytestconfig):
    """The batchemu server of this test session (see the module docstring)."""
    endpoint = _setting(pytestconfig, "endpoint") or os.environ.get("BATCHEMU_ENDPOINT", "").strip() or None
    if endpoint:
        yield Batchemu(endpoint)
        return
    runner = _setting(pytestconfig, "runner") or "auto"
    if runner not in RUNNERS:
        raise pytest.UsageError(f"batchemu_runner must be one of {', '.join(RUNNERS)}, not {runner!r}")
    # lazy for start-up time: the server's modules (Flask, botocore) load only when a test needs them
    from batchemu.config import Config
    from batchemu.testing import running_server

    # BATCHEMU_* variables (job network, settle time, ...) apply as they do to the command;
    # the state is in memory and the port a free one, whatever they say.
    config = Config.from_env(ephemeral=True, port=0, host="127.0.0.1", runner=runner)
    with running_server(config) as server:
        yield Batchemu(server.url, server.emulator)


@pytest.fixture()
def batchemu_account() -> str:
    """This test's own account id."""
    return new_account()


@pytest.fixture()
def batch(batchemu, batchemu_account):
    """A boto3 Batch client in this test's own account."""
    return batchemu.client("batch", account=batchemu_account)


@pytest.fixture()
def batchemu_env(batchemu, batchemu_account, monkeypatch) -> dict:
    """The test's environment pointed at batchemu in this test's account; returns the variables."""
    variables = batchemu.env(batchemu_account)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    # A profile or a session token from the developer's own setup would win over the keys.
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return variables
