"""From a LaunchSpec to a created container: the image by pull policy, the container's name
and labels, and the docker SDK `containers.create` arguments (limits, mounts, network).

Owns the translation only: it starts, stops and watches nothing (the runner in docker.py
does), reports no RunnerEvents and knows no Batch rules. `daemon_message` and `pull_message`
word Docker's errors as the reasons a failed start carries.
"""

from __future__ import annotations

import re
import secrets

import docker.errors
from docker.types import DeviceRequest, LogConfig, Ulimit
from docker.utils import parse_repository_tag

from batchemu.runners.base import LaunchSpec

# Every container a server makes carries these, so it only ever touches its own containers.
LABEL_SERVER = "batchemu.server"
LABEL_JOB = "batchemu.job-id"
LABEL_ATTEMPT = "batchemu.attempt"

PULL_POLICIES = ("missing", "always", "never")
_BUILTIN_NETWORK_MODES = ("host", "none", "bridge", "default")


def container_name(spec: LaunchSpec) -> str:
    """Docker allows [a-zA-Z0-9][a-zA-Z0-9_.-]*; the random suffix keeps retries and
    re-submitted jobs with the same name from colliding with a container not yet removed."""
    base = re.sub(r"[^a-zA-Z0-9_.-]+", "-", spec.name).strip("-_.")[:100] or "job"
    return f"{base}-{spec.attempt}-{secrets.token_hex(3)}"


def create_kwargs(spec: LaunchSpec, server_id: str, default_network: str) -> dict:
    """LaunchSpec -> docker SDK `containers.create` keyword arguments."""
    kw = {
        "image": spec.image,
        "command": list(spec.command) or None,          # None: the image's CMD
        "name": container_name(spec),
        "labels": {**spec.labels, LABEL_SERVER: server_id, LABEL_JOB: spec.job_id,
                   LABEL_ATTEMPT: str(spec.attempt)},
        "environment": dict(spec.environment),
        # json-file whatever the daemon default is: the runner reads exit logs back from Docker.
        "log_config": LogConfig(type="json-file"),
        "privileged": bool(spec.privileged),
        "read_only": bool(spec.readonly_root),
    }
    if spec.vcpus:
        kw["nano_cpus"] = int(spec.vcpus * 1e9)
    if spec.memory_mib:
        # Swap limit equal to the memory limit: no swap, so exceeding memory is a real OOM kill.
        kw["mem_limit"] = kw["memswap_limit"] = f"{int(spec.memory_mib)}m"
    if spec.gpus:
        kw["device_requests"] = [DeviceRequest(count=int(spec.gpus), capabilities=[["gpu"]])]
    if spec.user:
        kw["user"] = spec.user
    if spec.ulimits:
        kw["ulimits"] = [Ulimit(name=u["name"], soft=int(u["softLimit"]), hard=int(u["hardLimit"]))
                         for u in spec.ulimits]
    if spec.shared_memory_mib:
        kw["shm_size"] = f"{int(spec.shared_memory_mib)}m"
    if spec.tmpfs:
        kw["tmpfs"] = {t["containerPath"]: _tmpfs_options(t) for t in spec.tmpfs}
    if spec.devices:
        kw["devices"] = [_device(d) for d in spec.devices]
    if spec.init_process:
        kw["init"] = True
    if spec.mounts:
        # Binds (not Mounts): like ECS host volumes, Docker creates a missing source directory.
        kw["volumes"] = {m.source: {"bind": m.target, "mode": "ro" if m.read_only else "rw"}
                         for m in spec.mounts}
    network = spec.network or default_network
    if network in _BUILTIN_NETWORK_MODES or network.startswith("container:"):
        kw["network_mode"] = network
    else:
        kw["network"] = network                      # a user-defined network, by name
    if network in ("bridge", "default"):
        # Jobs reach the server as host.docker.internal there (job_endpoint.JobEndpoint), as on
        # Docker Desktop; on Linux engines that name needs this mapping (Docker >= 20.10).
        kw["extra_hosts"] = {"host.docker.internal": "host-gateway"}
    return kw


def _tmpfs_options(t: dict) -> str:
    options = [f"size={int(t['size'])}m"] if t.get("size") else []
    return ",".join(options + list(t.get("mountOptions") or []))


def _device(d: dict) -> str:
    perms = {"READ": "r", "WRITE": "w", "MKNOD": "m"}
    mode = "".join(perms[p] for p in d.get("permissions") or () if p in perms) or "rwm"
    return f"{d['hostPath']}:{d.get('containerPath') or d['hostPath']}:{mode}"


def daemon_message(exc: Exception) -> str:
    """The daemon's own words, as `docker` prints them (and as ECS shows them in reasons)."""
    explanation = getattr(exc, "explanation", None)
    if explanation:
        return f"Error response from daemon: {explanation}"
    return str(exc) or type(exc).__name__


class PullNever(Exception):
    """The image is missing and the pull policy forbids pulling it."""


class PullError(Exception):
    """An error reported inside Docker's pull progress stream."""


def ensure_image(client, image: str, policy: str) -> None:
    """Have `image` locally as the pull policy says: "missing" pulls only when it is absent,
    "always" pulls every time, "never" raises PullNever when it is absent."""
    if policy != "always":
        try:
            client.images.get(image)
            return
        except docker.errors.ImageNotFound as exc:
            if policy == "never":
                raise PullNever(f"No such image: {image} (pull policy is never)") from exc
    repository, tag = parse_repository_tag(image)
    # Errors during a pull arrive inside the progress stream, not as an HTTP status.
    for message in client.api.pull(repository, tag=tag or "latest", stream=True, decode=True):
        if isinstance(message, dict) and message.get("error"):
            raise PullError(message["error"])


def pull_message(exc: Exception) -> str:
    if isinstance(exc, (PullNever, PullError)):
        return f"Error response from daemon: {exc}"
    return daemon_message(exc)
