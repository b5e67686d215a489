"""Pure helpers of the Kubernetes runner for multi-container attempts (runners.task_spec): the
ONE Pod of a TaskSpec and what its status says about each container.

An eksProperties pod maps one to one (initContainers, containers, emptyDir/hostPath volumes,
security context, serviceAccountName). An ECS task has no pod equivalent for `dependsOn` and
`essential`, so (README "Kubernetes"):
- a container others wait for with COMPLETE or SUCCESS runs as an init container (init
  containers run one after another, before the others, and must exit 0: a COMPLETE dependency
  that fails ends the task there, where ECS would start its dependants); it must not be
  essential and may itself wait only for other such containers;
- the other containers are the pod's containers, ordered so a START dependency is started first
  (the kubelet starts them in order, without waiting);
- essential: the runner stops the pod when an essential container ended (runners.kubernetes).
Shapes this cannot express raise ValueError with what is not supported (the attempt fails with
CannotStartContainerError). The pod's layout (names, stages, essential) goes in an annotation,
so a restarted server reads the pod alone. No I/O, no threads, no engine or store.
"""

from __future__ import annotations

import dataclasses
import json
import math

from batchemu.runners import kube_pods as pods
from batchemu.runners.task_spec import ALL_ZERO, COMPLETE, INIT, MAIN, START, SUCCESS, TaskSpec

ANNOTATION_LAYOUT = "batchemu/task-layout"
WAITING, RUNNING, EXITED, SKIPPED = "waiting", "running", "exited", "skipped"
CANNOT_START = "CannotStartContainerError"   # ref §6.5
STOP_TIMEOUT = 30.0                          # ECS stopTimeout default (ref §5.4)


@dataclasses.dataclass(frozen=True)
class Layout:
    """What the runner needs to read a task pod: its members in pod order, init ones first."""
    result: str                                   # task_spec.FIRST_ESSENTIAL | ALL_ZERO
    members: tuple                                # ((name, stage, essential), ...)

    def names(self, stage: str | None = None) -> list:
        return [m[0] for m in self.members if stage in (None, m[1])]

    def to_json(self) -> str:
        return json.dumps({"result": self.result, "members": [list(m) for m in self.members]})


@dataclasses.dataclass
class MemberState:
    """One container of the pod as last seen (never goes back from exited)."""
    status: str = WAITING
    exit_code: int | None = None
    reason: str | None = None
    oom: bool = False
    container_id: str | None = None
    started_ms: int | None = None
    finished_ms: int | None = None


def layout_of(spec: TaskSpec) -> Layout:
    """The pod order of a TaskSpec's members; ValueError for what a pod cannot express."""
    by_name = {m.name: m for m in spec.members}
    if spec.result == ALL_ZERO:   # a pod already
        return Layout(spec.result, tuple((m.name, m.stage, True) for m in spec.members))
    waited = set()
    for m in spec.members:
        for name, condition in m.depends_on:
            if name not in by_name:
                raise ValueError(f"container {m.name} depends on {name}, which is not in the task")
            if condition not in (START, COMPLETE, SUCCESS):
                raise ValueError(f"dependsOn condition {condition} of container {m.name} is not supported "
                                 "on Kubernetes (START, COMPLETE and SUCCESS are)")
            if condition in (COMPLETE, SUCCESS):
                waited.add(name)
    for name in waited:
        member = by_name[name]
        if member.essential:
            raise ValueError(f"container {name} is essential and others wait for it to "
                             "COMPLETE/SUCCEED: on Kubernetes such a container runs as an init container, "
                             "which is not supported for an essential container")
        for dep, _ in member.depends_on:
            if dep not in waited:
                raise ValueError(f"container {name} runs as an init container on Kubernetes (others wait "
                                 f"for it to COMPLETE/SUCCEED) but depends on {dep}, which does not: not "
                                 "supported on Kubernetes")
    if not [m for m in spec.members if m.name not in waited]:
        raise ValueError("every container waits for another to COMPLETE/SUCCEED: nothing left to run as "
                         "the pod's containers on Kubernetes")
    inits = _ordered([m for m in spec.members if m.name in waited])
    mains = _ordered([m for m in spec.members if m.name not in waited], waited)
    return Layout(spec.result, tuple((m.name, INIT, False) for m in inits)
                  + tuple((m.name, MAIN, m.essential) for m in mains))


def _ordered(members: list, done: set = frozenset()) -> list:
    """Definition order, each member after the members it depends on (within the list)."""
    placed, out, left = set(done), [], list(members)
    while left:
        ready = next((m for m in left if all(d in placed for d, _ in m.depends_on)), None)
        if ready is None:
            raise ValueError("the containers' dependsOn form a cycle: "
                             + ", ".join(m.name for m in left))
        out.append(ready)
        placed.add(ready.name)
        left.remove(ready)
    return out


def layout_from_pod(pod: dict) -> Layout | None:
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_LAYOUT)
    if not text:
        return None
    data = json.loads(text)
    return Layout(data["result"], tuple(tuple(m) for m in data["members"]))


def task_pod_manifest(spec: TaskSpec, layout: Layout, server_id: str, pull_policy: str = "missing",
                      host_network: bool = True, grace_seconds: float = 30.0) -> dict:
    """The attempt's one Pod: each member a container built as a container job's is
    (kube_pods.pod_manifest: env, args, resources requests = limits, securityContext, host
    paths), plus its entrypoint as `command` and its task volume mounts."""
    by_name = {m.name: m for m in spec.members}
    first = spec.members[0].spec
    base = pods.pod_manifest(first, server_id, pull_policy, host_network, grace_seconds)
    node_uid = base["metadata"]["labels"][pods.LABEL_NODE_UID]
    groups = {INIT: [], MAIN: []}
    volumes = {}
    for name, stage, _ in layout.members:
        member = by_name[name]
        one = pods.pod_manifest(member.spec, server_id, pull_policy, host_network, grace_seconds)
        container = one["spec"]["containers"][0]
        container["name"] = name
        for env in container["env"]:   # one pod: one node uid for every container
            if env["name"] == "AWS_BATCH_JOB_KUBERNETES_NODE_UID":
                env["value"] = member.spec.environment.get(env["name"], node_uid)
        if member.entrypoint is not None:
            container["command"] = list(member.entrypoint)
        mounts = []
        for volume in one["spec"].get("volumes") or []:   # the member's own (host paths, tmpfs, shm)
            own = f"{_dns(name)}-{volume['name']}"[:63]
            volumes[own] = dict(volume, name=own)
        for mount in container.get("volumeMounts") or []:
            mounts.append(dict(mount, name=f"{_dns(name)}-{mount['name']}"[:63]))
        for mount in member.volume_mounts:
            mounts.append({"name": _volume_name(mount.volume), "mountPath": mount.target,
                           "readOnly": bool(mount.read_only)})
        if mounts:
            container["volumeMounts"] = mounts
        groups[stage].append(container)
    for volume in spec.volumes:
        empty = {"medium": "Memory"} if volume.memory else {}
        if volume.size_mib:
            empty["sizeLimit"] = f"{int(volume.size_mib)}Mi"
        volumes[_volume_name(volume.name)] = {"name": _volume_name(volume.name), "emptyDir": empty}
    for volume in getattr(spec, "secrets", ()) or ():
        volumes[_volume_name(volume[0])] = {"name": _volume_name(volume[0]),
                                            "secret": {"secretName": volume[1], "optional": bool(volume[2])}}
        for container in groups[INIT] + groups[MAIN]:
            for mount in container.get("volumeMounts") or []:
                if mount["name"] == _volume_name(volume[0]):
                    mount["readOnly"] = True
    pod_spec = base["spec"]
    pod_spec["containers"] = groups[MAIN]
    if groups[INIT]:
        pod_spec["initContainers"] = groups[INIT]
    if volumes:
        pod_spec["volumes"] = list(volumes.values())
    else:
        pod_spec.pop("volumes", None)
    # The pod's grace: the longest stopTimeout of its members, else the runner's.
    timeouts = [m.stop_timeout for m in spec.members if m.stop_timeout]
    pod_spec["terminationGracePeriodSeconds"] = max(0, math.ceil(max(timeouts) if timeouts else grace_seconds))
    if spec.service_account:
        pod_spec["serviceAccountName"] = spec.service_account
        pod_spec["automountServiceAccountToken"] = True
    metadata = base["metadata"]
    metadata["annotations"].update({pods.ANNOTATION_JOB: spec.job_id, pods.ANNOTATION_ATTEMPT: str(spec.attempt),
                                    "batchemu/job-name": spec.labels.get("batchemu.job-name", spec.name),
                                    ANNOTATION_LAYOUT: layout.to_json()})
    if spec.pod_name:
        metadata["name"] = spec.pod_name
    return base


def _volume_name(name: str) -> str:
    return f"v-{_dns(name)}"[:63]


def _dns(text: str) -> str:
    """A DNS label made of `text` (volume names in a pod)."""
    out = "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
    return out[:50] or "x"


# ---- reading a task pod -----------------------------------------------------------------------

def read_members(pod: dict, layout: Layout, seen: dict) -> dict:
    """name -> MemberState from the pod's init and container statuses, merged with `seen` (a
    1.20 kubelet stops updating a finished pod's containers, so what was seen before stays)."""
    status = pod.get("status") or {}
    statuses = {s.get("name"): s for s in (status.get("initContainerStatuses") or [])
                + (status.get("containerStatuses") or [])}
    out = {}
    for name in layout.names():
        before = seen.get(name) or MemberState()
        now = _member_state(statuses.get(name) or {})
        if before.status == EXITED or (now.status == WAITING and before.status == RUNNING):
            out[name] = before
        else:
            now.started_ms = now.started_ms or before.started_ms
            now.container_id = now.container_id or before.container_id
            out[name] = now
    return out


def _member_state(status: dict) -> MemberState:
    state = status.get("state") or {}
    cid = status.get("containerID") or None
    terminated = state.get("terminated") or (status.get("lastState") or {}).get("terminated")
    if terminated:
        oom = terminated.get("reason") == "OOMKilled"
        return MemberState(EXITED, terminated.get("exitCode"), pods.OOM_REASON if oom else None, oom,
                           terminated.get("containerID") or cid, pods.parse_time(terminated.get("startedAt")),
                           pods.parse_time(terminated.get("finishedAt")))
    if state.get("running"):
        return MemberState(RUNNING, container_id=cid, started_ms=pods.parse_time(state["running"].get("startedAt")))
    waiting = state.get("waiting") or {}
    if waiting.get("reason") in pods.PULL_FAILURES:
        return MemberState(SKIPPED, reason=f"CannotPullContainerError: {waiting.get('message') or waiting['reason']}")
    if waiting.get("reason") in pods.START_FAILURES:
        return MemberState(SKIPPED, reason=f"{CANNOT_START}: {waiting.get('message') or waiting['reason']}")
    return MemberState(WAITING)


def main_started(layout: Layout, members: dict) -> bool:
    return any(members[n].status in (RUNNING, EXITED) for n in layout.names(MAIN))


def pod_over(pod: dict, layout: Layout, members: dict) -> bool:
    """The pod ended (or one of its containers can never start: Batch fails the attempt at the
    first failed pull, ref §6.5, where Kubernetes would retry)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed") or any(m.status == SKIPPED for m in members.values())


def essential_ended(layout: Layout, members: dict) -> bool:
    """ECS: an essential container ended, so the task stops (the runner stops the pod)."""
    return layout.result != ALL_ZERO and any(
        essential and stage == MAIN and members[name].status == EXITED for name, stage, essential in layout.members)


def results(pod: dict, layout: Layout, members: dict):
    """The ended pod as (decider name, {name: MemberState}): each container's end, those that
    never started with why, and the container whose exit is the attempt's (task_rules.decider:
    ECS the first essential one to end, a pod the first that failed, else the last to end)."""
    status = pod.get("status") or {}
    out = {}
    failed_init = next((n for n in layout.names(INIT)
                        if members[n].status == EXITED and members[n].exit_code != 0), None)
    for name, stage, _ in layout.members:
        m = dataclasses.replace(members[name])
        if m.status == RUNNING:
            # Stopped with the pod (a deadline): a 1.20 kubelet never reports the exit.
            m.status = EXITED
        elif m.status == WAITING:
            m.status = SKIPPED
            if failed_init and stage == MAIN:
                m.reason = (f"{CANNOT_START}: init container {failed_init} exited with code "
                            f"{members[failed_init].exit_code}; on Kubernetes a container others wait for "
                            "runs as an init container and must exit 0" if layout.result != ALL_ZERO
                            else f"{CANNOT_START}: init container {failed_init} did not succeed")
            elif status.get("reason") in ("DeadlineExceeded", "Evicted") or status.get("phase") in ("Succeeded", "Failed"):
                m.reason = f"{CANNOT_START}: the task stopped before this container started"
            else:
                m.reason = f"{CANNOT_START}: another container of the task could not start"
        out[name] = m
    order = sorted(layout.names(), key=lambda n: (out[n].status != EXITED, out[n].finished_ms is None,
                                                  out[n].finished_ms or 0, layout.names().index(n)))
    if layout.result == ALL_ZERO:
        # Init containers first, then the first to fail; all exited 0: the last to end.
        ended = [n for n in order if out[n].status == EXITED]
        decider = (next((n for n in layout.names(INIT) if out[n].exit_code != 0), None)
                   or next((n for n in order if out[n].exit_code != 0), None)
                   or (ended[-1] if ended else order[0]))
    else:
        essential = [n for n, stage, e in layout.members if e and stage == MAIN]
        decider = next((n for n in order if n in essential), order[0])
    return decider, out
