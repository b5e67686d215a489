"""Stopping a container as `docker stop` does, without holding a worker for the grace period:
the image's stop signal now, SIGKILL from the Timers thread once the grace is over (ref §10).
Shared by the single-container runner (docker.py) and the task runner (docker_task.py). Reports
nothing: the container's die event does.
"""

from __future__ import annotations

import docker


def stop(client, timers, submit, container_id: str, grace: float) -> None:
    """The stop signal now (SIGKILL at once when `grace` <= 0); `submit(fn, *args)` runs the
    later SIGKILL on the caller's pool."""
    try:
        signal = client.api.inspect_container(container_id)["Config"].get("StopSignal") or "SIGTERM"
        client.api.kill(container_id, signal="SIGKILL" if grace <= 0 else signal)
    except docker.errors.APIError:
        return  # gone or not running any more: the die path reports it
    if grace > 0:
        timers.call_later(grace, lambda: submit(kill, client, container_id))


def kill(client, container_id: str) -> None:
    try:
        client.api.kill(container_id, signal="SIGKILL")
    except docker.errors.APIError:
        pass  # exited within the grace period
