"""What an --ephemeral server left in Docker when it died without stopping (kill -9, a crash):
found and removed by the next server that starts on the same machine.

An ephemeral server's containers carry `batchemu.ephemeral-owner=<boot id>/<pid namespace>/
<pid>/<process start time>`: which process, in which PID namespace, on which boot of which
kernel runs the server. Nothing could ever re-attach them (an ephemeral server keeps no state,
and a new one has a new id), so once that process is gone they are orphans. A later server
that shares the boot and the PID namespace can tell (`/proc/<pid>/stat`'s start time: a reused
pid starts later) and removes everything labelled with the dead server's id. A label naming
another boot or PID namespace (another machine or container on the same engine) is never
touched: that server may well be alive. Nor is anything of a server with a data dir (no such
label: its next start re-attaches its containers).

Owns the label, the liveness test and the removal of a dead server's containers, task volumes
and networks; the runner (docker.py) labels and calls it once at start, on its ops pool.
"""

from __future__ import annotations

import logging
import os

import docker.errors

from batchemu.runners.docker_create import LABEL_SERVER

log = logging.getLogger(__name__)

LABEL_OWNER = "batchemu.ephemeral-owner"


def this_process() -> str | None:
    """This process's owner label value; None where /proc cannot tell (not Linux)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        namespace = os.readlink("/proc/self/ns/pid")
        pid = os.getpid()
        return f"{boot}/{namespace}/{pid}/{_start_time(pid)}"
    except (OSError, IndexError):
        return None


def _start_time(pid: int) -> str:
    """Field 22 of /proc/<pid>/stat (after the command name, which may hold spaces)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[19]


def is_dead(owner: str, me: str) -> bool:
    """True only when `owner` is a process of this boot and PID namespace that is gone."""
    try:
        boot, namespace, pid, started = owner.rsplit("/", 3)
        my_boot, my_namespace, _, _ = me.rsplit("/", 3)
    except ValueError:
        return False
    if (boot, namespace) != (my_boot, my_namespace):
        return False
    try:
        with open(f"/proc/{int(pid)}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return True
    except (OSError, ValueError, IndexError):
        return False
    return fields[19] != started or fields[0] == "Z"   # a reused pid, or exited (a zombie)


def dead_servers(client, me: str | None) -> set:
    """The ids of ephemeral servers whose containers are still there but whose process is gone."""
    if me is None:
        return set()
    try:
        containers = client.api.containers(all=True, filters={"label": LABEL_OWNER})
    except docker.errors.APIError:
        return set()
    dead = set()
    for container in containers:
        labels = container.get("Labels") or {}
        server_id = labels.get(LABEL_SERVER)
        if server_id and is_dead(labels.get(LABEL_OWNER, ""), me):
            dead.add(server_id)
    return dead


def remove_server(client, server_id: str) -> None:
    """Force-remove every container of `server_id`, then its volumes and networks (once the
    containers that used them are gone). What cannot be removed is logged and left."""
    own = {"label": f"{LABEL_SERVER}={server_id}"}
    try:
        containers = client.api.containers(all=True, filters=own)
        for container in containers:
            _quietly(client.api.remove_container, container["Id"], force=True)
        for volume in client.api.volumes(filters=own).get("Volumes") or []:
            _quietly(client.api.remove_volume, volume["Name"], force=True)
        for network in client.api.networks(filters=own):
            _quietly(client.api.remove_network, network["Id"])
    except docker.errors.APIError as exc:
        log.warning("removing what server %s left: %s", server_id, exc)


def _quietly(remove, name: str, **kwargs) -> None:
    try:
        remove(name, **kwargs)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:   # e.g. another new server removing it too
        log.warning("could not remove %s: %s", name[:12], exc)
