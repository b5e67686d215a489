"""Pure helpers of the Kubernetes runner (runners.kubernetes): the Pod manifest of one attempt
(shaped as AWS Batch on EKS shapes its pods), what a Pod's status says about the attempt
(running, exited with which code and reason, failed to start), and reading `kubectl logs
--timestamps` output after a mark. Pods are plain JSON dicts (the API's camelCase form).

No I/O and no threads here; must not know the engine or the store.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
import uuid

from batchemu.runners.base import LaunchSpec, Room

# Labels batchemu finds its pods by; the job id and attempt are also annotations, exact (a label
# value can't hold an array child's "parent:index" id).
LABEL_SERVER = "batchemu.server"
LABEL_ATTEMPT = "batch.amazonaws.com/job-attempt"
LABEL_JOB = "batch.amazonaws.com/job-id"            # Batch on EKS sets these (ref: eks-jobs)
LABEL_NODE_UID = "batch.amazonaws.com/node-uid"
LABEL_PARENT = "batchemu.multinode-job"             # the nodes of one multi-node job (anti-affinity)
ANNOTATION_JOB = "batchemu/job-id"
ANNOTATION_ATTEMPT = "batchemu/attempt"
CONTAINER = "main"   # the one container of a container job's pod

PULL_POLICY = {"missing": "IfNotPresent", "always": "Always", "never": "Never"}

OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"  # §6.5, as the Docker runner
# engine.faults' wording for a lost EC2 host (ref §6.5): a lost Kubernetes node is the same event.
HOST_TERMINATED = "Host EC2 (instance {}) terminated."
PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName")
START_FAILURES = ("CreateContainerConfigError", "CreateContainerError", "RunContainerError")

_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]")


def label_value(text: str) -> str:
    """A label value (<= 63 characters of [A-Za-z0-9_.-], alphanumeric at both ends)."""
    value = _LABEL_VALUE.sub("-", text)[:63]
    return value.strip("-_.") or "x"


def pod_manifest(spec: LaunchSpec, server_id: str, pull_policy: str = "missing",
                 host_network: bool = True, grace_seconds: float = 30.0,
                 node: dict | None = None) -> dict:
    """The Pod of one attempt: `aws-batch.<uuid>`, restartPolicy Never, Batch's labels and env
    (AWS_BATCH_JOB_KUBERNETES_NODE_UID), the job's vCPUs and memory as requests = limits.
    hostNetwork defaults to true as on Batch on EKS. `node` is for multi-node jobs (one pod per
    node): extra labels/env it adds, e.g. {"labels": {...}, "env": {"AWS_BATCH_JOB_NODE_INDEX": "0"}}."""
    node = node or {}
    node_uid = str(uuid.uuid4())
    env = dict(spec.environment)
    env["AWS_BATCH_JOB_KUBERNETES_NODE_UID"] = node_uid
    env.update(node.get("env") or {})
    resources = {}
    if spec.vcpus:
        resources["cpu"] = _cpu(spec.vcpus)
    if spec.memory_mib:
        resources["memory"] = f"{int(spec.memory_mib)}Mi"
    if spec.gpus:
        resources["nvidia.com/gpu"] = str(int(spec.gpus))
    container = {
        "name": CONTAINER,
        "image": spec.image,
        "imagePullPolicy": PULL_POLICY[spec.pull_policy or pull_policy],
        "env": [{"name": k, "value": str(v)} for k, v in env.items()],
    }
    if spec.command:
        # The job's command replaces the image's CMD, not its ENTRYPOINT (as with Docker/ECS).
        container["args"] = list(spec.command)
    if resources:
        container["resources"] = {"requests": dict(resources), "limits": dict(resources)}
    security = {}
    if spec.privileged:
        security["privileged"] = True
    if spec.readonly_root:
        security["readOnlyRootFilesystem"] = True
    user = (spec.user or "").split(":")
    if user[0].isdigit():
        security["runAsUser"] = int(user[0])
        if len(user) > 1 and user[1].isdigit():
            security["runAsGroup"] = int(user[1])
    if security:
        container["securityContext"] = security
    volumes, mounts = _volumes(spec)
    if mounts:
        container["volumeMounts"] = mounts
    labels = {LABEL_SERVER: server_id, LABEL_JOB: label_value(spec.job_id),
              LABEL_ATTEMPT: str(spec.attempt), LABEL_NODE_UID: node_uid}
    labels.update(node.get("labels") or {})
    pod_spec = {
        "restartPolicy": "Never",
        "hostNetwork": bool(host_network),
        # Batch's pairing: ClusterFirstWithHostNet on the host network (ref: EksPodProperties).
        "dnsPolicy": "ClusterFirstWithHostNet" if host_network else "ClusterFirst",
        "terminationGracePeriodSeconds": max(0, math.ceil(grace_seconds)),
        "automountServiceAccountToken": False,
        "containers": [container],
    }
    if volumes:
        pod_spec["volumes"] = volumes
    if "#" in spec.job_id:
        # The nodes of one multi-node job spread over the cluster's nodes where they can, as
        # Batch places them on separate instances (ref §12); on one node they would share its
        # ports (host network).
        labels[LABEL_PARENT] = label_value(spec.job_id.partition("#")[0])
        pod_spec["affinity"] = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100, "podAffinityTerm": {
                "labelSelector": {"matchLabels": {LABEL_PARENT: labels[LABEL_PARENT]}},
                "topologyKey": "kubernetes.io/hostname"}}]}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"aws-batch.{uuid.uuid4()}",
            "labels": labels,
            "annotations": {ANNOTATION_JOB: spec.job_id, ANNOTATION_ATTEMPT: str(spec.attempt),
                            "batchemu/job-name": spec.labels.get("batchemu.job-name", spec.name)},
        },
        "spec": pod_spec,
    }


def _cpu(vcpus: float) -> str:
    """Batch's vCPUs (whole or steps of 0.25) as a Kubernetes quantity: "1", "0.25"."""
    return str(int(vcpus)) if float(vcpus).is_integer() else f"{int(round(vcpus * 1000))}m"


def _volumes(spec: LaunchSpec) -> tuple[list, list]:
    """Host paths (on the node, as Batch's host volumes are on the instance), tmpfs mounts and
    /dev/shm as memory-backed emptyDirs."""
    volumes, mounts = [], []
    for i, m in enumerate(spec.mounts):
        volumes.append({"name": f"host-{i}", "hostPath": {"path": m.source}})
        mounts.append({"name": f"host-{i}", "mountPath": m.target, "readOnly": bool(m.read_only)})
    for i, t in enumerate(spec.tmpfs):
        volumes.append({"name": f"tmpfs-{i}", "emptyDir": {"medium": "Memory",
                                                           "sizeLimit": f"{int(t.get('size') or 64)}Mi"}})
        mounts.append({"name": f"tmpfs-{i}", "mountPath": t["containerPath"]})
    if spec.shared_memory_mib:
        volumes.append({"name": "shm", "emptyDir": {"medium": "Memory",
                                                    "sizeLimit": f"{int(spec.shared_memory_mib)}Mi"}})
        mounts.append({"name": "shm", "mountPath": "/dev/shm"})
    return volumes, mounts


# ---- reading a pod ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class PodState:
    """What a pod says about its attempt. kind: "pending" (not running yet), "running",
    "exited" (exit_code/reason/oom/finished_ms), "failed_to_start" (reason; nothing ran)."""
    kind: str
    started_ms: int | None = None
    finished_ms: int | None = None
    exit_code: int | None = None
    reason: str | None = None
    oom: bool = False
    deadline: bool = False     # ended by activeDeadlineSeconds (a stop or a timeout)


def pod_key(pod: dict) -> tuple[str, int] | None:
    """(job id, attempt) of one of our pods, or None."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    try:
        return annotations[ANNOTATION_JOB], int(annotations[ANNOTATION_ATTEMPT])
    except (KeyError, TypeError, ValueError):
        return None


def _main_status(pod: dict) -> dict:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for status in statuses:
        if status.get("name") == CONTAINER:
            return status
    return statuses[0] if statuses else {}


def pod_state(pod: dict) -> PodState:
    status = pod.get("status") or {}
    phase = status.get("phase")
    main = _main_status(pod)
    state = main.get("state") or {}
    terminated = state.get("terminated") or (main.get("lastState") or {}).get("terminated")
    deadline = status.get("reason") == "DeadlineExceeded"
    if phase in ("Succeeded", "Failed") or (terminated and phase != "Pending"):
        if terminated:
            started = parse_time(terminated.get("startedAt"))
            finished = parse_time(terminated.get("finishedAt"))
            oom = terminated.get("reason") == "OOMKilled"
            return PodState("exited", started, max(finished or 0, started or 0) or None,
                            terminated.get("exitCode"), OOM_REASON if oom else None, oom, deadline)
        if state.get("running"):
            # Failed (a deadline, an eviction) while its container ran: the kubelet stops it, and
            # a 1.20 kubelet never updates the container's state of a finished pod, so the
            # exit code is unknown (newer kubelets report the pod finished only once it stopped).
            return PodState("exited", started_ms=parse_time(state["running"].get("startedAt")),
                            exit_code=None, deadline=deadline)
        if deadline or status.get("reason") == "Evicted":
            # Killed before its container ever ran (e.g. stopped while still being created).
            return PodState("failed_to_start", reason=f"CannotStartContainerError: {status.get('reason')}: "
                                                      f"{status.get('message') or ''}".rstrip(": "),
                            deadline=deadline)
        return PodState("exited", exit_code=None, reason=status.get("reason"))
    waiting = state.get("waiting") or {}
    if waiting.get("reason") in PULL_FAILURES:
        # Batch fails the attempt at the first failed pull (ref §6.5); Kubernetes would retry.
        message = waiting.get("message") or waiting["reason"]
        return PodState("failed_to_start", reason=f"CannotPullContainerError: {message}")
    if waiting.get("reason") in START_FAILURES:
        message = waiting.get("message") or waiting["reason"]
        return PodState("failed_to_start", reason=f"CannotStartContainerError: {message}")
    if state.get("running"):
        return PodState("running", started_ms=parse_time(state["running"].get("startedAt")))
    return PodState("pending")


def node_name(pod: dict) -> str | None:
    return (pod.get("spec") or {}).get("nodeName")


def pod_address(pod: dict) -> str | None:
    """The pod's IP (on the host network: its node's), which a multi-node job's main node
    reports so the other nodes can reach it (ref §6.9)."""
    return (pod.get("status") or {}).get("podIP")


def parse_time(text) -> int | None:
    """RFC 3339 (with or without fractions) -> epoch ms."""
    if not text:
        return None
    if isinstance(text, datetime.datetime):
        moment = text
    else:
        match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", str(text))
        if not match:
            return None
        moment = datetime.datetime.fromisoformat(match.group(1) + ((match.group(3) or "Z").replace("Z", "+00:00")))
        if match.group(2):
            moment += datetime.timedelta(microseconds=int((match.group(2)[1:] + "000000")[:6]))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp() * 1000)


# ---- logs ---------------------------------------------------------------------------------

@dataclasses.dataclass
class LogMark:
    """Where the reported output of an attempt ends: the newest timestamp (ms) and the texts
    reported at it (a re-read from a whole second earlier shows them again)."""
    ts_ms: int = 0
    texts: list = dataclasses.field(default_factory=list)


def new_lines(raw: str, mark: LogMark) -> list:
    """Lines of `kubectl logs --timestamps` output not reported yet, as [(epoch_ms, text)];
    advances `mark`. Lines at the mark's timestamp are new unless their text was reported."""
    out = []
    seen = list(mark.texts)
    for line in (raw or "").splitlines():
        stamp, _, text = line.partition(" ")
        ts = parse_time(stamp)
        if ts is None:
            continue
        if ts < mark.ts_ms:
            continue
        if ts == mark.ts_ms and text in seen:
            seen.remove(text)
            continue
        out.append((ts, text))
        if ts > mark.ts_ms:
            mark.ts_ms, mark.texts, seen = ts, [], []
        mark.texts.append(text)
    return out


# Kubernetes quantities (resource.Quantity) as node allocatable reports them.
_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIX = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2 ** 10, "Mi": 2 ** 20,
           "Gi": 2 ** 30, "Ti": 2 ** 40}


def quantity(text) -> float:
    """A quantity's value ("1500m" -> 1.5, "16Gi" -> 17179869184); 0 when unreadable."""
    found = _QUANTITY.match(str(text or "").strip())
    if not found or found.group(2) not in _SUFFIX:
        return 0.0
    return float(found.group(1)) * _SUFFIX[found.group(2)]


def room(nodes: list) -> Room | None:
    """The Room of a node list (list_node's items): Ready nodes that take pods (not cordoned,
    no NoSchedule/NoExecute taint). None when there is none."""
    usable = []
    for node in nodes:
        spec, status = node.get("spec") or {}, node.get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        tainted = any(t.get("effect") in ("NoSchedule", "NoExecute") for t in spec.get("taints") or [])
        if ready and not spec.get("unschedulable") and not tainted:
            allocatable = status.get("allocatable") or {}
            usable.append((quantity(allocatable.get("cpu")), quantity(allocatable.get("memory")) / 2 ** 20))
    if not usable:
        return None
    return Room(sum(c for c, _ in usable), sum(m for _, m in usable), max(c for c, _ in usable),
                max(m for _, m in usable))
