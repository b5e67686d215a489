"""DockerRunner with LaunchSpec.group_network (multi-node jobs' nodes) against the real engine:
the network is created with the first container and removed with the last, each container
reports its own address on it when RUNNING, and containers reach each other by it. (A container
that exits within milliseconds may be gone before its address is read: Docker forgets it.)"""

from __future__ import annotations

import secrets

import pytest

from batchemu.runners.base import RUNNING
from batchemu.runners.docker import DockerRunner
from tests.e2e.support import wait_until
from tests.runners.events import EventLog
from tests import docker_support
from tests.runners.test_docker_runner import job_id, spec

pytestmark = pytest.mark.docker


def network_exists(client, name: str) -> bool:
    return bool(client.networks.list(names=[name]))


def test_a_group_network_lives_as_long_as_its_containers_and_gives_each_its_address():
    client = docker_support.docker_client()
    runner = DockerRunner("test-" + secrets.token_hex(4))
    runner.events = EventLog()
    runner.set_listener(runner.events)
    network = f"batchemu-test-{secrets.token_hex(4)}"
    try:
        listener, talker = job_id(), job_id()
        runner.start(spec(listener, ["sh", "-c", "nc -l -p 7000"], group_network=network))
        address = runner.events.wait_kind(RUNNING, listener).address
        assert address and network_exists(client, network)
        runner.start(spec(talker, ["sh", "-c", f"echo hi > /tmp/m; until nc {address} 7000 < /tmp/m; do sleep 0.1; done"],
                          group_network=network))
        assert runner.events.exited(talker).exit_code == 0
        assert runner.events.exited(listener).exit_code == 0
        assert runner.events.lines(listener) == ["hi"]
        # removed with its last container (the removal runs on the runner's own threads)
        wait_until(lambda: not network_exists(client, network), 10, "the network's removal")
    finally:
        runner.close()
        client.close()
