"""Multi-container attempts on Docker (runners.task_spec.TaskSpec): an ECS task of an
`ecsProperties` job or a pod of an `eksProperties` job, run as one container per member.

One network namespace per task: a holder container (a pause container, as ECS's awsvpc mode
and Kubernetes pods have; `sleep` from the holder image, busybox by default) is started first
and every member joins it with `network_mode=container:<holder>`, so members reach each other
on localhost whatever order they start and stop in (a member that joined another member could
not start once that one had exited: Docker refuses to join a stopped container's namespace).
Scratch volumes (Kubernetes emptyDir) are Docker volumes made for the attempt; all of it is
removed when the task ends.

Event-driven, no thread per task: the runner's engine-events thread hands each member's `die`
here (`on_event`), and the task's next step (start the members whose dependencies are now met,
stop the task when an essential member exited, report the end) runs on a small pool, one task
at a time under the task's lock. Output is reported per member (LOG events with `container`)
by an output thread of its own. It reports RunnerEvents only: never the store, no Batch rules
(the engine's task launcher reads the per-member exits it reports). Task containers carry their
own labels, not the single-container ones; the holder also carries the whole TaskSpec
(LABEL_TASK_SPEC) and a member that exited stays (stopped) until the task ends, so a restart's
re-attach (runners.docker_task_reattach) can rebuild the task from what Docker holds.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import docker.errors

from batchemu.runners import docker_nodes, docker_stop, task_rules, task_spec
from batchemu.runners.base import EXITED, LOG, RUNNING, LaunchSpec, RunnerEvent, submit_guarded
from batchemu.runners.docker_create import (LABEL_ATTEMPT, LABEL_JOB, LABEL_SERVER, create_kwargs,
                                            daemon_message, ensure_image, pull_message)
from batchemu.runners.docker_output import OutputFollower
from batchemu.runners.docker_parse import parse_docker_time
from batchemu.runners.task_rules import EXITED_, RUNNING_, SKIPPED, WAITING, Member
from batchemu.runners.task_spec import MemberResult, TaskSpec
from batchemu.runners.timers import Timers

log = logging.getLogger(__name__)

LABEL_TASK_JOB = "batchemu.task-job-id"
LABEL_TASK_ATTEMPT = "batchemu.task-attempt"
LABEL_TASK_MEMBER = "batchemu.task-member"    # the member's name; "" for the holder
LABEL_TASK_SPEC = "batchemu.task-spec"        # on the holder: the TaskSpec (task_spec.to_json)
DEFAULT_STOP_TIMEOUT = 30.0                   # ECS stopTimeout default (ref §5.4)
FAILED_TO_START = "Task failed to start"      # ref §6.5
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"  # ref §6.5


@dataclasses.dataclass
class _Task:
    spec: TaskSpec
    members: dict
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    holder_id: str | None = None
    address: str | None = None        # the holder's on spec.group_network (a multi-node job's node)
    volumes: dict = dataclasses.field(default_factory=dict)   # TaskVolume.name -> Docker volume name
    stopping: bool = False
    stop_grace: float | None = None   # stop() asked for, with this grace
    running_sent: bool = False
    done: bool = False
    ended: int = 0                    # members ended so far (orders Member.order)

    @property
    def key(self) -> tuple:
        return self.spec.job_id, self.spec.attempt


class DockerTasks:
    """The task side of runners.docker.DockerRunner (which owns it and routes to it)."""

    def __init__(self, client, server_id: str, emit, holder_image: str, pull_policy: str,
                 default_network: str, deny_host_access: bool, output_interval: float = 0.5, groups=None,
                 owner_labels: dict | None = None):
        self.client = client
        self.server_id = server_id
        self._emit = emit
        self.holder_image = holder_image
        self.pull_policy = pull_policy
        self.default_network = default_network
        self.deny_host_access = deny_host_access
        self.groups = groups   # runners.docker_nodes.GroupNetworks: multi-node jobs' networks
        self.owner_labels = owner_labels or {}   # an ephemeral server's process (docker_orphans)
        self._tasks: dict[tuple, _Task] = {}
        self._lock = threading.Lock()
        # Pulls can take minutes: launches get their own pool, so no task's next step (a
        # member's exit, a stop) waits behind another task's pull.
        self._launching = ThreadPoolExecutor(2, thread_name_prefix="batchemu-docker-task-launch")
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="batchemu-docker-task")
        self._timers = Timers()
        self._output = OutputFollower(client, self._report_output, output_interval)

    # ---- what DockerRunner calls ------------------------------------------------------

    def start(self, spec: TaskSpec) -> None:
        task = _Task(spec, {m.name: Member(m) for m in spec.members})
        with self._lock:
            self._tasks[task.key] = task
        submit_guarded(self._launching, "docker task runner", self._launch, task)

    def stop(self, job_id: str, attempt: int, grace: float) -> bool:
        """True when (job_id, attempt) is a task of ours (then it is being stopped)."""
        with self._lock:
            task = self._tasks.get((job_id, attempt))
        if task is None:
            return False
        self._submit(self._stop_task, task, grace)
        return True

    def on_event(self, event: dict) -> bool:
        """A die/oom event of one of our containers: True when it was a task member's (handled)."""
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        job_id = attributes.get(LABEL_TASK_JOB)
        if job_id is None:
            return False
        name = attributes.get(LABEL_TASK_MEMBER)
        with self._lock:
            task = self._tasks.get((job_id, _int(attributes.get(LABEL_TASK_ATTEMPT))))
        if task is None or not name:
            return True          # the holder, or a task already reported
        if event.get("Action") == "oom":
            member = task.members.get(name)
            if member is not None:
                member.oom = True
            return True
        self._submit(self._member_died, task, name, event.get("id"))
        return True

    def check_running(self) -> None:
        """After the events stream (re)connected: members that died unseen are handled now."""
        with self._lock:
            tasks = list(self._tasks.values())
        for task in tasks:
            for name, member in list(task.members.items()):
                if member.status != RUNNING_ or not member.container_id:
                    continue
                try:
                    state = self.client.api.inspect_container(member.container_id)["State"]
                except docker.errors.NotFound:
                    state = {"Status": "exited"}
                if state.get("Status") in ("exited", "dead"):
                    self._submit(self._member_died, task, name, member.container_id)

    def reset(self) -> None:
        """Forget every task, as if it had never been started: nothing more is reported or
        started for it, and a launch still pulling gives up before it creates anything. One
        creating its holder or members right now is waited for (task.lock), so the runner's
        sweep of the server's containers, which follows, finds all it made."""
        with self._lock:
            tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            with task.lock:
                task.done = True           # _launch, _member_died, _stop_task: nothing to do
                task.stop_grace = 0.0
            for member in task.members.values():
                self._output.forget(task.key + (member.spec.name,))

    def close(self, remove: bool) -> None:
        """Stop following. Running tasks are left alone unless `remove`: then every task is
        forgotten first (reset), so no launch in flight creates a container after the runner
        removed the server's containers (and sweep_volumes the volumes)."""
        if remove:
            self.reset()
        self._output.close()
        self._timers.close()
        self._launching.shutdown(wait=True, cancel_futures=True)
        self._pool.shutdown(wait=True)

    def sweep_volumes(self, now: bool, keep: set = frozenset()) -> None:
        """Remove this server's task volumes: at close (`now`, after the runner removed the
        containers), or after a restart's re-attach (which removes the containers of the tasks
        it did not adopt, so their volumes go too, a moment later), but those of the tasks it
        adopted (`keep`: (job id, attempt) pairs)."""
        try:
            volumes = self.client.volumes.list(filters={"label": f"{LABEL_SERVER}={self.server_id}"})
        except docker.errors.APIError:
            return
        for volume in volumes:
            labels = volume.attrs.get("Labels") or {}
            if LABEL_TASK_JOB not in labels \
                    or (labels[LABEL_TASK_JOB], _int(labels.get(LABEL_TASK_ATTEMPT))) in keep:
                continue
            if now:
                self._remove_volume(volume.name)
            else:
                self._submit(self._remove_volume, volume.name)

    # ---- launching ---------------------------------------------------------------------

    def _launch(self, task: _Task) -> None:
        spec = task.spec
        for name, secret, optional in spec.secrets:
            if not optional:
                self._fail(task, f"CannotStartContainerError: secret volume {name!r} (secretName {secret!r}) "
                                 "can't be mounted: the docker runner has no Kubernetes secrets (mark it "
                                 "optional to get an empty volume, or use --runner kubernetes)")
                return
        refused = [r for m in spec.members for r in m.spec.host_resources()] if self.deny_host_access else []
        if refused:
            self._fail(task, f"CannotStartContainerError: {', '.join(refused)}: host access is refused "
                             "on this server (--deny-host-access)")
            return
        try:
            for image in dict.fromkeys([self.holder_image] + [m.spec.image for m in spec.members]):
                policy = next((m.spec.pull_policy for m in spec.members if m.spec.image == image), None)
                ensure_image(self.client, image, policy or self.pull_policy)
        except Exception as exc:
            self._fail(task, f"CannotPullContainerError: {pull_message(exc)}")
            return
        with task.lock:
            if task.stop_grace is not None:
                self._fail_locked(task, "stopped before start")
                return
            try:
                for volume in spec.volumes:
                    task.volumes[volume.name] = self._make_volume(task, volume)
                self._start_holder(task)
            except Exception as exc:
                self._fail_locked(task, f"CannotStartContainerError: {daemon_message(exc)}")
                return
            self._advance(task)

    def _labels(self, task: _Task, member: str) -> dict:
        return {**task.spec.labels, **self.owner_labels, LABEL_SERVER: self.server_id,
                LABEL_TASK_JOB: task.spec.job_id, LABEL_TASK_ATTEMPT: str(task.spec.attempt),
                LABEL_TASK_MEMBER: member}

    def _make_volume(self, task: _Task, volume) -> str:
        """Create the task's Docker volume for `volume` (Docker hands back one that exists)."""
        name = f"batchemu-{_safe(task.spec.job_id)}-{task.spec.attempt}-{_safe(volume.name)}"[:200]
        options = {}
        if volume.memory:   # emptyDir medium Memory: a tmpfs every member mounts
            options = {"type": "tmpfs", "device": "tmpfs"}
            if volume.size_mib:
                options["o"] = f"size={int(volume.size_mib)}m"
        self.client.volumes.create(name=name, driver="local", driver_opts=options or None,
                                   labels=self._labels(task, ""))
        return name

    def _start_holder(self, task: _Task) -> None:
        # The same network settings a single-container attempt gets (docker_create), for the
        # namespace every member joins.
        holder = LaunchSpec(job_id=task.spec.job_id, attempt=task.spec.attempt, name=f"{_base_name(task)}-netns",
                            image=self.holder_image, command=["sleep", "2147483647"], environment={},
                            network=task.spec.network)
        kw = create_kwargs(holder, self.server_id, self.default_network)
        also_on = None
        if task.spec.group_network:
            # A multi-node job's node: the namespace is on the job's own network (and the
            # runner's, as a single-container node is: runners.docker_nodes), every member
            # reaches the other nodes from it, and its address there is the node's.
            endpoint = next((m.spec.environment.get("AWS_ENDPOINT_URL") for m in task.spec.members), None)
            also_on = self.groups.prepare(dataclasses.replace(
                holder, group_network=task.spec.group_network,
                environment={"AWS_ENDPOINT_URL": endpoint} if endpoint else {}), kw)
        # The task's labels only (not a single-container attempt's, which a restart's re-attach
        # would take for a live attempt), and the group network's (docker_nodes.place_on).
        network_label = {k: v for k, v in (kw.get("labels") or {}).items() if k == docker_nodes.LABEL_NETWORK}
        kw["labels"] = {**self._labels(task, ""), **network_label,
                        LABEL_TASK_SPEC: task_spec.to_json(task.spec)}   # what a restart rebuilds it from
        container = self.client.containers.create(**kw)
        task.holder_id = container.id   # before start: a holder that fails to start is removed too
        if also_on:
            self.client.api.connect_container_to_network(container.id, also_on)
        container.start()
        if task.spec.group_network:
            attrs = self.client.api.inspect_container(container.id)
            task.address = docker_nodes.address(attrs, task.spec.group_network)

    # ---- the task's steps (under task.lock) -------------------------------------------

    def _advance(self, task: _Task) -> None:
        """Start every member that may start now, skip those that never can, stop the task when
        it must stop, report its end once nothing runs."""
        progress = True
        while progress and not task.done:
            progress = False
            for member in task.members.values():
                if member.status != WAITING:
                    continue
                verdict = task_rules.may_start(list(task.members.values()), member, task.stopping)
                if verdict is True:
                    self._start_member(task, member)
                    progress = True
                elif verdict is not None:
                    self._end_member(task, member, SKIPPED, None, verdict)
                    progress = True
        if not task.stopping and task_rules.must_stop(task.spec.result, list(task.members.values())):
            self._stop_members(task, None)
        if task_rules.finished(list(task.members.values()), task.stopping):
            self._finish(task)

    def _start_member(self, task: _Task, member: Member) -> None:
        spec = member.spec.spec
        kw = create_kwargs(spec, self.server_id, f"container:{task.holder_id}")
        kw["name"] = f"{_base_name(task)}-{_safe(member.spec.name)}"
        if member.spec.entrypoint is not None:
            kw["entrypoint"] = list(member.spec.entrypoint)
        for label in (LABEL_JOB, LABEL_ATTEMPT):     # not a single-container attempt's labels
            kw["labels"].pop(label, None)
        kw["labels"].update(self._labels(task, member.spec.name))
        volumes = dict(kw.get("volumes") or {})
        for mount in member.spec.volume_mounts:
            source = task.volumes.get(mount.volume)
            if source:
                volumes[source] = {"bind": mount.target, "mode": "ro" if mount.read_only else "rw"}
        if volumes:
            kw["volumes"] = volumes
        try:
            container = self.client.containers.create(**kw)
            member.container_id = container.id
            container.start()
        except Exception as exc:
            self._end_member(task, member, SKIPPED, None, f"CannotStartContainerError: {daemon_message(exc)}")
            if member.container_id:
                self._remove(member.container_id)
            return
        member.status = RUNNING_
        if member.spec.stage == task_spec.MAIN and not task.running_sent:
            task.running_sent = True
            started = None
            try:
                container.reload()
                started = parse_docker_time(container.attrs["State"].get("StartedAt"))
            except docker.errors.APIError:
                pass
            self._emit(RunnerEvent(RUNNING, task.spec.job_id, task.spec.attempt, started or _now_ms(),
                                   address=task.address))
        self._output.follow(task.key + (member.spec.name,), member.container_id)

    def _member_died(self, task: _Task, name: str, container_id: str | None) -> None:
        with task.lock:
            member = task.members.get(name)
            if member is None or member.status != RUNNING_ or task.done \
                    or (container_id and container_id != member.container_id):
                return
            try:
                state = self.client.api.inspect_container(member.container_id)["State"]
            except docker.errors.NotFound:
                state = None
            try:
                lines = self._output.finish(task.key + (name,), member.container_id)
            except docker.errors.APIError:   # gone, or being removed (409): its last lines are lost
                lines = []
            if lines:
                self._emit(RunnerEvent(LOG, task.spec.job_id, task.spec.attempt, lines[-1][0],
                                       lines=tuple(lines), container=name))
            self._output.forget(task.key + (name,))
            if state is None:
                self._end_member(task, member, EXITED_, None,
                                 "CannotInspectContainerError: the container disappeared")
            else:
                oom = bool(state.get("OOMKilled")) or member.oom
                member.oom = oom
                self._end_member(task, member, EXITED_, state.get("ExitCode"), OOM_REASON if oom else None)
            # Its container stays, stopped, until the task ends (_clean_up): after a restart it
            # is what says this member ran and how it ended (docker_task_reattach).
            self._advance(task)

    def _end_member(self, task: _Task, member: Member, status: str, exit_code, reason) -> None:
        task.ended += 1
        member.end(status, exit_code, reason, task.ended)

    def _stop_task(self, task: _Task, grace: float) -> None:
        with task.lock:
            if task.done:
                return
            task.stop_grace = grace
            if task.holder_id is None:
                return               # still pulling: _launch sees stop_grace and gives up
            self._stop_members(task, grace)
            self._advance(task)

    def _stop_members(self, task: _Task, grace: float | None) -> None:
        """Stop the task: no member starts any more, running ones get their stop signal, then
        SIGKILL after their stopTimeout (or the grace of a terminate/timeout)."""
        task.stopping = True
        for member in task.members.values():
            if member.status == RUNNING_ and member.container_id:
                seconds = grace if grace is not None else (member.spec.stop_timeout or DEFAULT_STOP_TIMEOUT)
                self._terminate(member.container_id, seconds)

    def _terminate(self, container_id: str, grace: float) -> None:
        docker_stop.stop(self.client, self._timers, self._submit, container_id, grace)

    # ---- the end ------------------------------------------------------------------------

    def _finish(self, task: _Task) -> None:
        task.done = True
        members = list(task.members.values())
        decider = task_rules.decider(task.spec.result, members)
        results = tuple(MemberResult(m.spec.name, m.exit_code, m.reason, m.container_id, m.oom) for m in members)
        status_reason = FAILED_TO_START if decider.status == SKIPPED and not task.running_sent else None
        self._emit(RunnerEvent(EXITED, task.spec.job_id, task.spec.attempt, _now_ms(),
                               exit_code=decider.exit_code, reason=decider.reason, oom=decider.oom,
                               status_reason=status_reason, containers=results))
        self._clean_up(task)

    def _fail(self, task: _Task, reason: str) -> None:
        with task.lock:
            self._fail_locked(task, reason)

    def _fail_locked(self, task: _Task, reason: str) -> None:
        """The task could not start at all: every member ends unstarted with `reason`."""
        if task.done:
            return
        for member in task.members.values():
            if member.status == WAITING:
                self._end_member(task, member, SKIPPED, None, reason)
        task.done = True
        self._emit(RunnerEvent(EXITED, task.spec.job_id, task.spec.attempt, _now_ms(), exit_code=None,
                               reason=reason, status_reason=FAILED_TO_START,
                               containers=tuple(MemberResult(m.spec.name, None, m.reason)
                                                for m in task.members.values())))
        self._clean_up(task)

    def _clean_up(self, task: _Task) -> None:
        with self._lock:
            if self._tasks.get(task.key) is task:
                del self._tasks[task.key]
        for member in task.members.values():
            self._output.forget(task.key + (member.spec.name,))
            if member.container_id:
                self._remove(member.container_id)
        if task.holder_id:
            self._remove(task.holder_id)
        if task.spec.group_network and self.groups is not None:
            self.groups.release(task.spec.group_network)   # removed with its last container
        for name in task.volumes.values():
            self._submit(self._remove_volume, name)

    def _remove(self, container_id: str) -> None:
        try:
            self.client.api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:   # e.g. removal already in progress
            log.debug("removing task container %s: %s", container_id, exc)

    def _remove_volume(self, name: str) -> None:
        # Its members are removed first (same pool, submitted earlier); a volume still in use
        # a moment longer is tried again.
        for _ in range(10):
            try:
                self.client.api.remove_volume(name, force=True)
                return
            except docker.errors.NotFound:
                return
            except docker.errors.APIError:
                threading.Event().wait(0.5)
        log.warning("task volume %s could not be removed", name)

    # ---- events out --------------------------------------------------------------------

    def _report_output(self, key: tuple, lines: list) -> None:
        self._emit(RunnerEvent(LOG, key[0], key[1], lines[-1][0], lines=tuple(lines), container=key[2]))

    def _submit(self, fn, *args) -> None:
        submit_guarded(self._pool, "docker task runner", fn, *args)


def _base_name(task: _Task) -> str:
    # A multi-node job's nodes (`<jobId>#<n>`) share their id's start: the node index keeps
    # their containers' names apart.
    node = task.spec.job_id.partition("#")[2]
    return f"{_safe(task.spec.name)[:80]}-{task.spec.attempt}-{task.spec.job_id[:8]}" + (f"-n{node}" if node else "")


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "_.-" else "-" for c in text).strip("-_.") or "c"


def _int(text) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _now_ms() -> int:
    return int(time.time() * 1000)
