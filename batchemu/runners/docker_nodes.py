"""Group networks for the Docker runner: a bridge network of an attempt's own
(LaunchSpec.group_network; the nodes of a multi-node job), created when its first container is,
removed once its last one is gone, on which each container gets an address of its own.

A container on a group network reaches the host as `host.docker.internal` (the network's
gateway) when the runner's own network is the host's or none; on a user-defined network (or
Docker's default bridge) it is connected to that one too, so it reaches what it reached before
(job_endpoint.JobEndpoint picks AWS_ENDPOINT_URL accordingly). Owns the networks only: it starts
and reports nothing.
"""

from __future__ import annotations

import logging

import docker.errors

from batchemu.runners.docker_create import LABEL_SERVER

log = logging.getLogger(__name__)

LABEL_NETWORK = "batchemu.group-network"   # on a container: the group network it was created on
_HOST_STACKS = ("host", "none")


def ensure(client, name: str, server_id: str) -> str | None:
    """Have the bridge network `name` (labelled as this server's); its gateway address."""
    try:
        attrs = client.api.inspect_network(name)
    except docker.errors.NotFound:
        try:
            client.api.create_network(name, driver="bridge", labels={LABEL_SERVER: server_id},
                                      check_duplicate=True)
        except docker.errors.APIError as exc:
            if getattr(exc, "status_code", None) != 409:  # 409: another node created it first
                raise
        attrs = client.api.inspect_network(name)
    for pool in (attrs.get("IPAM") or {}).get("Config") or []:
        if pool.get("Gateway"):
            return pool["Gateway"].split("/")[0]
    return None


def place_on(kwargs: dict, name: str, gateway: str | None) -> str | None:
    """Edit docker_create's create arguments so the container is created on group network
    `name`; returns the runner's own network when the container must be connected to it too."""
    own = kwargs.pop("network_mode", None) or kwargs.pop("network", None)
    kwargs["network"] = name
    kwargs["labels"] = dict(kwargs.get("labels") or {}, **{LABEL_NETWORK: name})
    if own in _HOST_STACKS or (own or "").startswith("container:"):
        if gateway:  # the host as seen from the group network
            kwargs["extra_hosts"] = {"host.docker.internal": gateway}
        return None
    return "bridge" if own == "default" else own


def address(attrs: dict, name: str) -> str | None:
    """A container's IPv4 address on network `name`, from its inspect attributes."""
    network = ((attrs.get("NetworkSettings") or {}).get("Networks") or {}).get(name) or {}
    return network.get("IPAddress") or None


def remove_if_unused(client, name: str | None) -> None:
    if not name:
        return
    try:
        if not client.api.inspect_network(name).get("Containers"):
            client.api.remove_network(name)
    except docker.errors.APIError:  # gone already, or a container joined it meanwhile
        pass


def sweep(client, server_id: str) -> None:
    """Remove this server's group networks that no container uses any more."""
    try:
        networks = client.api.networks(filters={"label": f"{LABEL_SERVER}={server_id}"})
    except docker.errors.APIError:
        return
    for network in networks:
        remove_if_unused(client, network.get("Name"))
