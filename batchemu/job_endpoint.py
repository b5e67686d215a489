"""JobEndpoint: the environment that points a job container back at this server: AWS_ENDPOINT_URL
as seen from the job's network, the job's region, and credentials whose access key is the job's
account (with --verify-signatures, a secret derived per account from a key in the store); for
container jobs also what the ECS agent sets in every task's containers: AWS_EXECUTION_ENV and the
task metadata endpoint URIs (v4 and v3), which point at this server's
/batchemu/ecs-metadata/<version>/<token> (served by task_metadata.py; the token names the job and
attempt and carries an HMAC, so a container can read only its own task's metadata).

Built by the composition root (emulator.py), told the bound port once the server listens; the
engine calls it for each launch, the SigV4 verifier asks it for the secrets it handed out.
Must not answer requests or know the engine.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
from urllib.parse import urlsplit

log = logging.getLogger("batchemu.job_endpoint")

_LOOPBACK_HOSTS = ("", "0.0.0.0", "::", "127.0.0.1", "localhost", "::1")
_SECRET = "batchemu"  # the jobs' secret while signatures are not verified
METADATA_PATH = "/batchemu/ecs-metadata"
# <job id>.<attempt>.<32 hex HMAC>[.<container name>]; a job id is a UUID, an array child's
# "<uuid>:<index>", a multi-node job's node "<uuid>#<index>" ("#" sent as %23 in the URL); a
# container of a multi-container ECS task adds its name (ECS names have no "."; engine.launch
# appends it, each container reading its own container document).
TOKEN = re.compile(r"(?P<job>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?:[:#][0-9]{1,5})?)"
                   r"\.(?P<attempt>[1-9][0-9]{0,3})\.(?P<mac>[0-9a-f]{32})(?:\.(?P<container>[A-Za-z0-9_-]{1,255}))?")
# Docker bind-mounts /etc/hostname, /etc/hosts and /etc/resolv.conf into every container from
# /var/lib/docker/containers/<id>/: the one trace of its own id a process sees on both cgroup
# versions (the hostname is only the id's prefix, and users may change it).
_CONTAINER_ID = re.compile(r"/containers/([0-9a-f]{64})/(?:hostname|hosts|resolv\.conf)\s")


class JobEndpoint:
    """job -> extra environment for its container: AWS_ENDPOINT_URL back at this server (as
    seen from the job's network), the job's region, and test credentials whose access key is
    the job's account, so SDK calls from a job land in that job's account.

    The port is the bound one: `bound(port)` is called once the server listens (a server
    started on port 0 only knows its port then).

    With a `signing_key` (signatures verified), each account's secret is derived from it, so
    only this server's job containers hold a secret the server accepts for their account."""

    def __init__(self, config, signing_key: bytes | None = None, metadata_key: bytes = b"",
                 runner_name: str | None = None):
        self.config = config
        self.runner_name = runner_name or config.runner  # the runner "auto" chose, when known
        self.signing_key = signing_key
        # Keys the task metadata tokens (kept in the store: a re-attached job's URI keeps working).
        self.metadata_key = metadata_key
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
                # A server that itself runs in a container on that network (the image under
                # docker compose, say) is reached by its container name through Docker's DNS;
                # a server on the host through the network's gateway.
                host = own_container_name(network) or network_gateway(network) or "host.docker.internal"
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
        if url and job.get("_groupNetwork") and self._host_stack():
            # A multi-node job's node sits on a bridge network of its job's own, where the Docker
            # runner maps host.docker.internal to that network's gateway (runners.docker_nodes):
            # the server must listen where that gateway reaches it (--host 0.0.0.0).
            url = f"http://host.docker.internal:{self.port}"
        if url:
            env["AWS_ENDPOINT_URL"] = url
        if "_tasks" in job and ("container" in job or is_ecs_task_job(job)):  # an ECS task on AWS
            env.update(self.ecs_agent_env(job, url))
        return env

    def ecs_agent_env(self, job: dict, url: str | None) -> dict:
        """What the ECS agent gives every container of a task (AWS_EXECUTION_ENV; the task
        metadata endpoint v4 and v3 URIs), for the job's current attempt."""
        fargate = "FARGATE" in (job.get("platformCapabilities") or [])
        env = {"AWS_EXECUTION_ENV": "AWS_ECS_FARGATE" if fargate else "AWS_ECS_EC2"}
        if url:
            token = self.metadata_token(job, job["_attempt"]).replace("#", "%23")  # a node's id
            env["ECS_CONTAINER_METADATA_URI_V4"] = f"{url}{METADATA_PATH}/v4/{token}"
            env["ECS_CONTAINER_METADATA_URI"] = f"{url}{METADATA_PATH}/v3/{token}"
        return env

    def metadata_token(self, job: dict, attempt: int) -> str:
        return f"{job['jobId']}.{attempt}.{self._metadata_mac(job, attempt)}"

    def metadata_token_matches(self, job: dict, attempt: int, mac: str) -> bool:
        return hmac.compare_digest(self._metadata_mac(job, attempt), mac)

    def _metadata_mac(self, job: dict, attempt: int) -> str:
        scope = f"{job['_account']}/{job['_region']}/{job['jobId']}/{attempt}".encode()
        return hmac.new(self.metadata_key, scope, hashlib.sha256).hexdigest()[:32]

    def hosts(self) -> list:
        """The host names job containers call this server by (the guard allows them): the
        AWS_ENDPOINT_URL host, and host.docker.internal for multi-node nodes on the host stack."""
        names = [urlsplit(self.url() or "").hostname]
        if self.url() and self._host_stack():
            names.append("host.docker.internal")
        return [n for n in names if n]

    def _host_stack(self) -> bool:
        """Do Docker job containers use the host's network stack (or none), with no URL set?"""
        config = self.config
        return (not config.advertise_url and self.runner_name not in ("process", "kubernetes")
                and config.job_network in ("host", "none"))


def is_ecs_task_job(job: dict) -> bool:
    """A multi-container ECS task job (ecsProperties; the `_task` kind engine.task_jobs writes).
    EKS pods are not: no ECS agent runs them."""
    return (job.get("_task") or {}).get("kind") == "ecs"


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


def own_container_id(mountinfo: str = "/proc/self/mountinfo") -> str | None:
    """The id of the Docker container this process runs in, or None (on a host, or not Docker)."""
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as f:
            found = _CONTAINER_ID.search(f.read())
    except OSError:
        return None
    return found.group(1) if found else None


def own_container_name(network: str) -> str | None:
    """This server's container name when it runs in a Docker container attached to `network`
    (by name or id), so jobs on that network reach it by name; None otherwise."""
    container_id = own_container_id()
    if container_id is None:
        return None
    try:
        # lazy for start-up time: the Docker SDK costs ~100 ms; only a user-defined network asks
        import docker

        client = docker.from_env(timeout=5)
        try:
            attrs = client.containers.get(container_id).attrs
        finally:
            client.close()
    except Exception as exc:  # no socket mounted, no permission: the gateway is the fallback
        log.warning("cannot inspect this server's own container %s: %s", container_id[:12], exc)
        return None
    networks = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    if not any(network == name or (net or {}).get("NetworkID", "").startswith(network)
               for name, net in networks.items()):
        log.warning("this server's container is not on the job network %r; jobs there reach it "
                    "only through a published port (or set --advertise-url)", network)
        return None
    return attrs.get("Name", "").lstrip("/") or None
