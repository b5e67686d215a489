"""What the engine hands a runner to run one attempt of several containers (an ECS task of an
`ecsProperties` job, a pod of an `eksProperties` job) and what the runner reports back about
each container.

A TaskSpec is a list of members, each an ordinary LaunchSpec plus its place in the task: its
name, whether it is essential, the members it waits for (ECS `dependsOn` conditions START,
COMPLETE, SUCCESS) and its stage (Kubernetes init containers run one after another before the
main ones). The members share one network namespace (they talk over localhost) and the task's
volumes. Pure data: no Docker, no store, no Batch rules. `to_json`/`from_json` write and read a
TaskSpec whole, so a runner can keep it with the task it runs and rebuild the task after a
restart (runners.docker_task_reattach).
"""

from __future__ import annotations

import dataclasses
import json

from batchemu.runners.base import ClusterPlace, LaunchSpec, Mount

START, COMPLETE, SUCCESS = "START", "COMPLETE", "SUCCESS"   # TaskContainerDependency.condition
INIT, MAIN = "init", "main"                                 # a member's stage

# How a task ends (TaskSpec.result): ECS stops the task when an essential container exits and
# the job follows that container; a pod succeeds only when every container exited 0.
FIRST_ESSENTIAL, ALL_ZERO = "first-essential", "all-zero"


@dataclasses.dataclass(frozen=True)
class TaskVolume:
    """A volume the members share: a Docker volume made for the attempt and removed after it
    (`kind` "scratch"; in memory when `memory`). Host paths are not task volumes: they are the
    members' LaunchSpec.mounts, where the runner's host-access check sees them."""
    name: str
    kind: str = "scratch"
    memory: bool = False
    size_mib: int | None = None


@dataclasses.dataclass(frozen=True)
class VolumeMount:
    volume: str            # TaskVolume.name
    target: str            # path in the container
    read_only: bool = False


@dataclasses.dataclass(frozen=True)
class TaskMember:
    name: str
    spec: LaunchSpec                   # image, command, environment, limits, labels
    essential: bool = True
    depends_on: tuple = ()             # ((member name, START|COMPLETE|SUCCESS), ...)
    stage: str = MAIN
    volume_mounts: tuple = ()          # (VolumeMount, ...)
    stop_timeout: float | None = None  # seconds between SIGTERM and SIGKILL when the task stops
    entrypoint: tuple | None = None    # replaces the image's (a Kubernetes container's `command`)


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    job_id: str
    attempt: int
    name: str                          # a readable prefix for the containers' names
    members: tuple                     # (TaskMember, ...) in definition order, init containers first
    volumes: tuple = ()                # (TaskVolume, ...)
    result: str = FIRST_ESSENTIAL
    labels: dict = dataclasses.field(default_factory=dict)
    network: str | None = None         # the network of the task's namespace; None: the runner's
    group_network: str | None = None   # a multi-node job's own network: the namespace joins it too
                                       # and RUNNING reports its address there (engine.task_nodes)
    # Kubernetes only (an eksProperties pod): the pod's name as the job shows it, its service
    # account, and its secret volumes ((volume name, secretName, optional), ...); an optional
    # one is also a scratch volume (empty) for runners without secrets.
    pod_name: str | None = None
    service_account: str | None = None
    secrets: tuple = ()
    place: ClusterPlace | None = None  # where a cluster runner puts it (LaunchSpec.place)


@dataclasses.dataclass(frozen=True)
class MemberResult:
    """One container of an ended task, as the EXITED RunnerEvent carries it (`containers`)."""
    name: str
    exit_code: int | None              # None: it never ran (or its exit is unknown)
    reason: str | None = None
    container_id: str | None = None
    oom: bool = False


# -- a TaskSpec as JSON ------------------------------------------------------------------------

def to_json(spec: TaskSpec) -> str:
    """The whole spec as compact JSON (tuples become lists; from_json makes them tuples again)."""
    return json.dumps(dataclasses.asdict(spec), separators=(",", ":"), sort_keys=True)


def from_json(text: str) -> TaskSpec:
    """The TaskSpec to_json wrote. Fields this version does not know are ignored and missing
    ones take their defaults; raises ValueError (or TypeError, KeyError) on anything else."""
    data = json.loads(text)
    return _build(TaskSpec, data, members=lambda v: tuple(_member(m) for m in v),
                  volumes=lambda v: tuple(_build(TaskVolume, t) for t in v),
                  secrets=lambda v: tuple(tuple(s) for s in v), place=_place)


def _member(data: dict) -> TaskMember:
    return _build(TaskMember, data, spec=_launch, depends_on=lambda v: tuple(tuple(d) for d in v),
                  volume_mounts=lambda v: tuple(_build(VolumeMount, m) for m in v),
                  entrypoint=lambda v: None if v is None else tuple(v))


def _launch(data: dict) -> LaunchSpec:
    dicts = lambda v: tuple(dict(d) for d in v)   # noqa: E731
    return _build(LaunchSpec, data, command=list, ulimits=dicts, tmpfs=dicts, devices=dicts,
                  mounts=lambda v: tuple(_build(Mount, m) for m in v), place=_place)


def _place(data):
    return None if data is None else _build(ClusterPlace, data)


def _build(cls, data: dict, **convert):
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}: not an object")
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: convert[k](v) if k in convert else v for k, v in data.items() if k in known})
