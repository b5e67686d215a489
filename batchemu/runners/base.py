"""The runner protocol: what the engine hands a runner (LaunchSpec), what a runner reports
back (RunnerEvent), and the calls the engine makes (start / stop / reattach).

Everything is asynchronous: `start` and `stop` return at once and the outcome arrives later
as events through the listener the engine installs. No thread per job.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable, Protocol

log = logging.getLogger("batchemu.runners")

RUNNING = "running"      # the container/process is running (startedAt)
EXITED = "exited"        # it ended: exit_code (None if it never started), reason, oom
LOG = "log"              # output lines: lines = [(epoch_ms, "text"), ...]


@dataclasses.dataclass(frozen=True)
class Mount:
    source: str            # host path
    target: str            # container path
    read_only: bool = False
    owned: bool = False    # a directory batchemu made for the attempt (SageMaker /opt/ml), not a user's path


@dataclasses.dataclass(frozen=True)
class ClusterPlace:
    """Where a cluster runner puts an attempt: the compute environment's eksConfiguration (the
    EKS cluster's ARN and the Kubernetes namespace; or a pod's own metadata.namespace). Runners
    with one engine (Docker, process) have nowhere else to put it and ignore it."""
    cluster_arn: str       # "": the runner's own cluster
    namespace: str


@dataclasses.dataclass(frozen=True)
class Room:
    """What a cluster runner's nodes can allocate (Kubernetes: the allocatable of its Ready,
    schedulable nodes): in all, and on the largest node. The engine starts no more than this
    at once, and blocks a job no node could ever hold, as AWS does with no instance to fit."""
    vcpus: float
    memory_mib: float
    node_vcpus: float
    node_memory_mib: float


@dataclasses.dataclass(frozen=True)
class LaunchSpec:
    """Everything needed to run one attempt; computed by the engine from the job."""
    job_id: str
    attempt: int
    name: str                         # a readable container name
    image: str
    command: list                     # [] means the image's default command
    environment: dict                 # final env (job definition + overrides + AWS_BATCH_*)
    vcpus: float = 0.0
    memory_mib: int = 0
    gpus: int = 0
    user: str | None = None
    privileged: bool = False
    readonly_root: bool = False
    ulimits: tuple = ()               # ({"name","softLimit","hardLimit"}, ...)
    shared_memory_mib: int | None = None
    tmpfs: tuple = ()                 # ({"containerPath","size","mountOptions"}, ...)
    devices: tuple = ()               # ({"hostPath","containerPath","permissions"}, ...)
    init_process: bool = False
    mounts: tuple = ()                # (Mount, ...)
    network: str | None = None        # None: the runner's configured default
    pull_policy: str | None = None    # None: the runner's configured default
    # A network of the attempt's own that the runner creates if missing and removes once its
    # last container is gone, on which the container gets an address of its own (the nodes of
    # a multi-node job: engine.multinode); reported as RunnerEvent.address when RUNNING.
    group_network: str | None = None
    labels: dict = dataclasses.field(default_factory=dict)
    place: ClusterPlace | None = None  # None: the runner's default (its own options)

    def host_resources(self) -> list[str]:
        """What would give this container the host: a privileged container, devices, host
        paths the job named. Runners refuse these under --deny-host-access."""
        found = ["privileged"] if self.privileged else []
        found += [f"device {d.get('hostPath')}" for d in self.devices]
        return found + [f"host volume {m.source}" for m in self.mounts if not m.owned]


@dataclasses.dataclass(frozen=True)
class RunnerEvent:
    kind: str                         # RUNNING | EXITED | LOG
    job_id: str
    attempt: int
    at_ms: int
    exit_code: int | None = None
    reason: str | None = None         # container.reason, e.g. "CannotPullContainerError: ..."
    status_reason: str | None = None  # attempt statusReason when the runner knows better
    oom: bool = False
    lines: tuple = ()
    container: str | None = None      # LOG of one container of a task (runners.task_spec)
    containers: tuple = ()            # EXITED of a task: (task_spec.MemberResult, ...)
    address: str | None = None        # RUNNING: the container's IPv4 address on its group_network
    node: str | None = None           # EXITED of a task on Kubernetes: the node its pod ran on


@dataclasses.dataclass(frozen=True)
class Survivor:
    """An attempt found alive (or finished while we were away) after a restart, or, with lost,
    one that had started and can't be followed any more (its outcome is unknown). An attempt a
    runner reports nothing about left no trace: it never started."""
    job_id: str
    attempt: int
    running: bool
    exit_code: int | None = None
    oom: bool = False
    lost: bool = False
    started_ms: int | None = None   # when it started, if the runner knows (its startedAt)


@dataclasses.dataclass(frozen=True)
class OutputMark:
    """Where the store's copy of an attempt's output ends, handed to reattach so a runner that
    can re-read output (Docker) resumes after it: the newest stored timestamp and the texts
    stored at it, in order."""
    ts_ms: int
    texts: tuple = ()
    # A multi-container attempt: container name -> OutputMark of that container's own stream.
    containers: dict = dataclasses.field(default_factory=dict)


Listener = Callable[[RunnerEvent], None]


def deliver(listener: Listener | None, event: RunnerEvent, runner_name: str) -> None:
    """Hand an event to the engine. A missing listener or a listener's error is logged, never
    raised into the runner's own thread (which must keep serving every other job)."""
    if listener is None:
        log.warning("%s runner: no listener; dropped %s", runner_name, event)
        return
    try:
        listener(event)
    except Exception:
        log.exception("runner listener failed on %s", event.kind)


def guarded(who: str, fn, *args) -> None:
    """A pool or thread body of a runner: `fn(*args)`, its exception logged (never lost in a
    Future, never ending the thread)."""
    try:
        fn(*args)
    except Exception:
        log.exception("%s: %s failed", who, getattr(fn, "__name__", fn))


def submit_guarded(pool, who: str, fn, *args) -> None:
    """`fn(*args)` on `pool`, guarded; nothing once the pool is closing (it takes no more work)."""
    try:
        pool.submit(guarded, who, fn, *args)
    except RuntimeError:
        pass


class Runner(Protocol):
    """Output goes out as LOG events while an attempt runs, so the store always has what an
    attempt wrote so far (give or take a moment): readers of job output never ask a runner."""
    name: str

    def set_listener(self, listener: Listener) -> None: ...

    def start(self, spec: LaunchSpec) -> None: ...

    def stop(self, job_id: str, attempt: int, grace_seconds: float = 30.0) -> None: ...

    def reattach(self, wanted: dict, stored_output: dict | None = None) -> list[Survivor]:
        """`wanted` maps job_id -> attempt for jobs the store says are STARTING/RUNNING;
        `stored_output` job_id -> OutputMark for those with output stored already (the lines a
        runner reports for them start after it).
        Returns what is still there (or lost, see Survivor); removes every own container/process
        not wanted. A wanted attempt left out of the answer left no trace (it never started, so
        the engine starts it again): a runner must report every attempt it may have started."""
        ...

    def reset(self) -> None:
        """Kill and remove every container/process this runner runs or left for this server,
        now, and forget every attempt (a reset: the store forgets the jobs next). Returns when
        they are gone; whatever it reports about them afterwards is dropped by the engine."""
        ...

    def gpus(self) -> int:
        """How many GPUs jobs can be given on this host."""
        ...

    # Optional, for runners whose nodes bound what runs at once (Kubernetes):
    # def room(self) -> Room | None
    #     What the nodes can allocate now (None: unknown, no bound).
    # Optional, for runners with more than one place (Kubernetes):
    # def follow(self, places: list[ClusterPlace]) -> None
    #     The places this server's attempts may be in besides the runner's default (every
    #     compute environment's eksConfiguration), told before reattach and reset so pods
    #     left in those namespaces by an earlier run are found.

    def close(self) -> None: ...
