"""JobEndpoint: the environment that points a job container back at this server: AWS_ENDPOINT_URL
as seen from the job's network, the job's region, and credentials whose access key is the job's
account (with --verify-signatures, a secret derived per account from a key in the store).

Built by the composition root (emulator.py), told the bound port once the server listens; the
engine calls it for each launch, the SigV4 verifier asks it for the secrets it handed out.
Must not answer requests or know the engine.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading

log = logging.getLogger("batchemu.job_endpoint")

_LOOPBACK_HOSTS = ("", "0.0.0.0", "::", "127.0.0.1", "localhost", "::1")
_SECRET = "batchemu"  # the jobs' secret while signatures are not verified


class JobEndpoint:
    """job -> extra environment for its container: AWS_ENDPOINT_URL back at this server (as
    seen from the job's network), the job's region, and test credentials whose access key is
    the job's account, so SDK calls from a job land in that job's account.

    The port is the bound one: `bound(port)` is called once the server listens (a server
    started on port 0 only knows its port then).

    With a `signing_key` (signatures verified), each account's secret is derived from it, so
    only this server's job containers hold a secret the server accepts for their account."""

    def __init__(self, config, signing_key: bytes | None = None):
        self.config = config
        self.signing_key = signing_key
        self.port = config.port or None
        self._url = None
        self._url_lock = threading.Lock()

    def bound(self, port: int) -> None:
        with self._url_lock:
            self.port = port
            self._url = None

    def url(self) -> str | None:
        with self._url_lock:
            if self._url is None:
                self._url = self._resolve()
            return self._url

    def _resolve(self) -> str | None:
        config = self.config
        if config.advertise_url:
            return config.advertise_url.rstrip("/")
        if not self.port:
            return None
        network = config.job_network
        if config.runner == "kubernetes":
            # Pods run on the cluster's nodes: only a routable address of this host reaches it.
            if config.host in _LOOPBACK_HOSTS:
                log.warning("pods cannot reach a server listening on %s; set --advertise-url to an "
                            "address of this host the cluster's nodes can reach", config.host or "*")
                host = "127.0.0.1"
            else:
                host = config.host
        elif config.runner == "process" or network in ("host", "none") or network.startswith("container:"):
            # On the host's network stack (or none at all: an unreachable loopback URL still
            # keeps SDKs away from real AWS).
            host = "127.0.0.1" if config.host in _LOOPBACK_HOSTS else config.host
        else:
            if config.host in ("127.0.0.1", "localhost", "::1"):
                log.warning("jobs on Docker network %r cannot reach a server listening on %s; "
                            "listen with --host 0.0.0.0 or set --advertise-url", network, config.host)
            if network in ("bridge", "default"):
                # The Docker runner maps host.docker.internal to the host gateway there.
                host = "host.docker.internal"
            else:
                host = network_gateway(network) or "host.docker.internal"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def secret_for(self, account: str) -> str:
        if self.signing_key is None:
            return _SECRET
        return hmac.new(self.signing_key, account.encode(), hashlib.sha256).hexdigest()[:40]

    def __call__(self, job: dict) -> dict:
        env = {"AWS_REGION": job["_region"], "AWS_DEFAULT_REGION": job["_region"],
               "AWS_ACCESS_KEY_ID": job["_account"],
               "AWS_SECRET_ACCESS_KEY": self.secret_for(job["_account"])}
        url = self.url()
        if url:
            env["AWS_ENDPOINT_URL"] = url
        return env


def network_gateway(name: str) -> str | None:
    """The host's address on a user-defined Docker network (its IPAM gateway), or None."""
    try:
        # lazy for start-up time: the Docker SDK costs ~100 ms; only a user-defined network asks
        import docker

        client = docker.from_env(timeout=5)
        try:
            for pool in client.networks.get(name).attrs.get("IPAM", {}).get("Config") or []:
                if pool.get("Gateway"):
                    return pool["Gateway"].split("/")[0]
        finally:
            client.close()
    except Exception as exc:  # no engine, no such network: jobs get the fallback name
        log.warning("cannot find the gateway of Docker network %s: %s", name, exc)
    return None
