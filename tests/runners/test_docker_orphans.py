"""runners/docker_orphans' liveness rule, on real processes of this machine: only a process of
this boot and PID namespace that is gone (or whose pid now belongs to a later process) makes
its ephemeral server's containers orphans; anything else is left alone."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from batchemu.runners import docker_orphans

pytestmark = pytest.mark.skipif(docker_orphans.this_process() is None, reason="needs Linux /proc")


def owner_of(pid: int, started: str) -> str:
    me = docker_orphans.this_process()
    boot, namespace, _, _ = me.rsplit("/", 3)
    return f"{boot}/{namespace}/{pid}/{started}"


def test_this_process_is_alive():
    me = docker_orphans.this_process()
    assert not docker_orphans.is_dead(me, me)


def test_a_process_that_exited_is_dead_and_a_reused_pid_is_not_its_process():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner = owner_of(child.pid, docker_orphans._start_time(child.pid))
        assert not docker_orphans.is_dead(owner, docker_orphans.this_process())
    finally:
        child.kill()
        child.wait()
    assert docker_orphans.is_dead(owner, docker_orphans.this_process())
    # This process's pid with another start time: the pid was reused by a later process.
    me = docker_orphans.this_process()
    assert docker_orphans.is_dead(owner_of(int(me.rsplit("/", 2)[1]), "1"), me)


def test_a_zombie_is_dead():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = docker_orphans._start_time(child.pid)   # not reaped before wait(): still readable
    deadline = time.monotonic() + 10
    while open(f"/proc/{child.pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    try:
        assert docker_orphans.is_dead(owner_of(child.pid, started), docker_orphans.this_process())
    finally:
        child.wait()


@pytest.mark.parametrize("other", ["boot", "namespace"])
def test_a_process_of_another_boot_or_pid_namespace_is_never_taken_for_dead(other):
    me = docker_orphans.this_process()
    boot, namespace, _, _ = me.rsplit("/", 3)
    gone = f"{'0' * 8}-other-boot/{namespace}" if other == "boot" else f"{boot}/pid:[1]"
    assert not docker_orphans.is_dead(f"{gone}/999999999/1", me)


def test_a_malformed_label_is_never_taken_for_dead():
    me = docker_orphans.this_process()
    for label in ("", "x", "a/b/c", me.rsplit("/", 2)[0] + "/notapid/1"):
        assert not docker_orphans.is_dead(label, me)
