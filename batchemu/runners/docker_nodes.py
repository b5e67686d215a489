"""Group networks for the Docker runner: a bridge network of an attempt's own
(LaunchSpec.group_network; the nodes of a multi-node job), created when its first container is,
removed once its last one is gone, on which each container gets an address of its own.

A container on a group network reaches the host as `host.docker.internal` (the network's
gateway) when the runner's own network is the host's or none; on a user-defined network (or
Docker's default bridge) it is connected to that one too, so it reaches what it reached before
(job_endpoint.JobEndpoint picks AWS_ENDPOINT_URL accordingly). A server that listens on the
loopback only (the default) can't be reached at the gateway: `LoopbackForward` then listens on
the gateway's address at the server's port and forwards each connection to the loopback, for as
long as the network lives. Owns the networks and those forwarders only: it starts no container
and reports nothing.
"""

from __future__ import annotations

import logging
import socket
import threading
from urllib.parse import urlsplit

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


def remove_if_unused(client, name: str | None) -> bool:
    """Remove network `name` if no container uses it; True when it is gone."""
    if not name:
        return False
    try:
        if not client.api.inspect_network(name).get("Containers"):
            client.api.remove_network(name)
            return True
    except docker.errors.NotFound:
        return True
    except docker.errors.APIError:  # a container joined it meanwhile
        pass
    return False


class GroupNetworks:
    """The group networks of one runner and their loopback forwarders (thread-safe)."""

    def __init__(self, client, server_id: str):
        self.client = client
        self.server_id = server_id
        self._lock = threading.Lock()
        self._forwards: dict[str, LoopbackForward | None] = {}

    def prepare(self, spec, kwargs: dict) -> str | None:
        """Have spec.group_network, put the container's create arguments on it and forward its
        gateway to a loopback server; returns the runner's own network to connect it to too."""
        gateway = ensure(self.client, spec.group_network, self.server_id)
        also_on = place_on(kwargs, spec.group_network, gateway)
        self._forward(spec.group_network, gateway, loopback_port(spec.environment))
        return also_on

    def readopt(self, name: str | None, env: list | None) -> None:
        """After a restart: a re-attached container of network `name` gets its network's
        forwarder back, at the port its AWS_ENDPOINT_URL names (`env`: Docker's NAME=value
        list), so its calls reach the server again once it is back on that port."""
        if not name:
            return
        environment = dict(item.split("=", 1) for item in env or () if "=" in item)
        try:
            gateway = ensure(self.client, name, self.server_id)
        except docker.errors.APIError as exc:
            log.debug("no forward for %s after the restart: %s", name, exc)
            return
        self._forward(name, gateway, loopback_port(environment))

    def _forward(self, name: str, gateway: str | None, port: int | None) -> None:
        """Forward `gateway`:`port` of network `name` to the loopback, once per network."""
        with self._lock:
            if port and gateway and name not in self._forwards:
                try:
                    self._forwards[name] = LoopbackForward(gateway, port)
                except OSError as exc:  # the server listens on the gateway already (0.0.0.0)
                    log.debug("no forward on %s:%s: %s", gateway, port, exc)
                    self._forwards[name] = None

    def release(self, name: str | None) -> None:
        """A container of network `name` is gone: remove the network (and its forwarder) if it
        was the last."""
        if remove_if_unused(self.client, name):
            with self._lock:
                forward = self._forwards.pop(name, None)
            if forward is not None:
                forward.close()

    def sweep(self) -> None:
        """Remove this server's networks that no container uses any more (and their forwarders)."""
        try:
            networks = self.client.api.networks(filters={"label": f"{LABEL_SERVER}={self.server_id}"})
        except docker.errors.APIError:
            return
        for network in networks:
            self.release(network.get("Name"))

    def close(self) -> None:
        with self._lock:
            forwards, self._forwards = list(self._forwards.values()), {}
        for forward in forwards:
            if forward is not None:
                forward.close()


def loopback_port(environment: dict) -> int | None:
    """The server port a container calls as host.docker.internal (its AWS_ENDPOINT_URL), if any."""
    try:
        url = urlsplit(environment.get("AWS_ENDPOINT_URL") or "")
        return url.port if url.hostname == "host.docker.internal" else None
    except ValueError:
        return None


class LoopbackForward:
    """gateway:port -> 127.0.0.1:port, one thread per direction of each connection: the few SDK
    calls of a job's nodes. Only containers on the group network reach the gateway's address."""

    def __init__(self, gateway: str, port: int):
        self.port = port
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._sock.bind((gateway, port))  # EADDRINUSE: the server listens there already
            self._sock.listen(64)
        except OSError:
            self._sock.close()
            raise
        threading.Thread(target=self._accept, name=f"batchemu-forward-{gateway}", daemon=True).start()

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            closer = _Closer(client, upstream)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, target, closer), daemon=True).start()


class _Closer:
    """Closes a connection's two sockets once both directions are done."""

    def __init__(self, *sockets):
        self.sockets, self.left, self.lock = sockets, 2, threading.Lock()

    def one_done(self) -> None:
        with self.lock:
            self.left -= 1
            last = self.left == 0
        if last:
            for sock in self.sockets:
                sock.close()


def _pump(source, target, closer: _Closer) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        try:
            target.shutdown(socket.SHUT_WR)  # the other direction may still have bytes to send
        except OSError:
            pass
        closer.one_done()
