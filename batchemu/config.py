"""One frozen Config, built from command-line flags and BATCHEMU_* environment variables.

Owns defaults and their documentation. Must not read the environment anywhere else.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path


def default_data_dir() -> Path:
    """Per-user data location: $XDG_DATA_HOME/batchemu, else ~/.local/share/batchemu."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "batchemu"


@dataclasses.dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8000
    # Open HTTP connections served at once; further clients wait until one closes.
    max_connections: int = 256
    data_dir: Path = dataclasses.field(default_factory=default_data_dir)
    # Keep every resource in memory only: nothing is written to disk.
    ephemeral: bool = False
    default_account: str = "123456789012"
    default_region: str = "us-east-1"
    # How long CREATING/UPDATING/DELETING last before VALID/DELETED (ref §1.7, §3.3).
    # 0 settles at once, which every known client accepts because they poll for VALID.
    settle_seconds: float = 0.0
    # "auto" (docker when an engine answers, else process), "docker", "process", "kubernetes"
    # (one pod per attempt in a cluster: README "Kubernetes") or "none".
    runner: str = "auto"
    # --runner kubernetes: the kubeconfig file ("" = $KUBECONFIG, ~/.kube/config, or in-cluster),
    # its context ("" = the current one) and the namespace of the pods ("" = the context's, else
    # "default"); pods on the node's network (Batch on EKS's default; needed where there is no CNI).
    kubeconfig: str = ""
    kube_context: str = ""
    kube_namespace: str = ""
    kube_host_network: bool = True
    # Docker network for job containers ("host", "none", "bridge" or a user-defined name).
    job_network: str = "host"
    # Image pull policy: "missing" (pull when not present), "always" or "never".
    pull_policy: str = "missing"
    # The image of the container that holds a multi-container job's network namespace (ECS task,
    # EKS pod), like ECS's and Kubernetes' pause containers; it must have `sleep`.
    task_holder_image: str = "busybox:latest"
    # Seconds between SIGTERM and SIGKILL when a job is terminated or times out (ECS: 30).
    stop_grace_seconds: float = 30.0
    log_level: str = "INFO"
    # The URL job containers use to reach this server (AWS_ENDPOINT_URL); "" derives it from
    # the job network and the bound port.
    advertise_url: str = ""
    # Refuse what gives a job the host (host volumes, devices, privileged, host namespaces) at
    # RegisterJobDefinition and SubmitJob, and in the Docker runner; never the process runner.
    deny_host_access: bool = False
    # Who may call (README "Security"). Host names besides the loopback ones and the bound
    # address, comma-separated ("*.example" for subdomains, "*" for any).
    allowed_hosts: str = ""
    # Origins of web pages allowed to call (e.g. "http://localhost:5173"), comma-separated.
    allowed_origins: str = ""
    # Require every request to be SigV4-signed by one of the accepted keys.
    verify_signatures: bool = False
    # Accepted keys: "KEY:SECRET" pairs, comma-separated, and/or a file of them.
    credentials: str = ""
    credentials_file: str = ""
    # GET /batchemu/events without ?account= streams every account (an operator's view).
    events_all_accounts: bool = False
    # Divide the waits batchemu imposes by this (attempt timeouts, jobStateTimeLimitActions,
    # settle times, the stop grace, EventBridge schedules); timestamps stay real clock time
    # (README "Time scale").
    time_scale: float = 1.0
    # POST /moto-api/reset and /batchemu/reset may wipe a durable --data-dir (an ephemeral
    # server always allows them: it has nothing to lose).
    allow_reset: bool = False

    @property
    def db_path(self) -> str:
        return ":memory:" if self.ephemeral else str(Path(self.data_dir) / "batchemu.sqlite3")

    @classmethod
    def from_env(cls, environ=None, **overrides) -> "Config":
        """Environment first (BATCHEMU_PORT, ...), then explicit overrides (flags) win."""
        environ = os.environ if environ is None else environ
        values = {}
        for field in dataclasses.fields(cls):
            raw = environ.get("BATCHEMU_" + field.name.upper())
            if raw is not None and raw != "":
                values[field.name] = _convert(field.name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"]).expanduser()
        return cls(**values)


def _convert(name: str, raw: str):
    kind = {f.name: f.default for f in dataclasses.fields(Config)}.get(name)
    if isinstance(kind, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(kind, int):
        return int(raw)
    if isinstance(kind, float):
        return float(raw)
    return raw
