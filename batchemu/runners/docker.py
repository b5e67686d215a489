"""The Docker runner: one container per attempt, labelled batchemu.server/job-id/attempt, so
this server only ever touches its own containers. It owns the attempts' lifecycle (start, stop,
exit, re-attach after a restart, remove) and reports what happened as RunnerEvents; it never
writes the store and knows no Batch rules. Output is reported while a container runs
(docker_output). Threads: a small launch pool, a small ops pool, one engine-events thread
(docker_events), one timer thread (timers), one output thread (docker_output).

Beside it: docker_create turns a LaunchSpec into an image and a container's create arguments,
docker_parse reads Docker's timestamps and log output.
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import docker
import docker.errors

from batchemu.runners.base import (EXITED, LOG, RUNNING, LaunchSpec, Listener, RunnerEvent, Survivor,
                                   deliver, guarded, submit_guarded)
# The labels, create_kwargs and the parsers are part of this module's public face (tests and
# the e2e suite import them from here); they live with the step they belong to.
from batchemu.runners.docker_create import (LABEL_ATTEMPT, LABEL_JOB, LABEL_SERVER,  # noqa: F401
                                            PULL_POLICIES, create_kwargs,
                                            daemon_message, ensure_image, pull_message)
from batchemu.runners import docker_nodes, docker_orphans, docker_stop, docker_task_reattach
from batchemu.runners.docker_events import EngineEvents
from batchemu.runners.docker_output import OutputFollower
from batchemu.runners.docker_parse import parse_docker_time  # noqa: F401
from batchemu.runners.docker_task import LABEL_TASK_JOB, DockerTasks
from batchemu.runners.task_spec import TaskSpec
from batchemu.runners.timers import Timers

log = logging.getLogger(__name__)

FAILED_TO_START = "Task failed to start"                           # §6.5
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"  # §6.5


def engine_available(client=None) -> bool:
    """True when a Docker engine answers a ping within a couple of seconds."""
    try:
        if client is not None:
            return bool(client.ping())
        probe = docker.from_env(timeout=3)
        try:
            return bool(probe.ping())
        finally:
            probe.close()
    except Exception:
        return False


def now_ms() -> int:
    return int(time.time() * 1000)


class _StartAborted(Exception):
    """stop() arrived before the container was started."""


@dataclasses.dataclass
class _Attempt:
    """What the runner knows about one attempt it launched or re-attached (guarded by _lock)."""
    job_id: str
    attempt: int
    container_id: str | None = None
    started: bool = False            # container.start() returned (or re-attached running)
    stop_grace: float | None = None  # stop() was asked for, with this grace
    oom_seen: bool = False           # an `oom` event arrived (belt and braces for OOMKilled)
    running_sent: bool = False       # guarded by _emit_lock, like exited_sent
    exited_sent: bool = False
    group_network: str | None = None # LaunchSpec.group_network: removed with its last container
    address: str | None = None       # on group_network; Docker forgets it when the container exits,
    address_read: threading.Event = dataclasses.field(default_factory=threading.Event)  # so the die waits


class DockerRunner:
    name = "docker"

    def __init__(self, server_id: str, network: str = "host", pull_policy: str = "missing",
                 client=None, launch_workers: int = 4, remove_on_close: bool = False,
                 deny_host_access: bool = False, output_interval: float = 0.5,
                 task_holder_image: str = "busybox:latest"):
        if pull_policy not in PULL_POLICIES:
            raise ValueError(f"pull_policy must be one of {PULL_POLICIES}, not {pull_policy!r}")
        self.server_id = server_id
        # An ephemeral server keeps no state, so nothing could ever re-attach what it left
        # running: it removes its containers when it closes, and labels them with its process
        # so that a later server removes them if it dies without closing (docker_orphans).
        self.remove_on_close = remove_on_close
        owner = docker_orphans.this_process() if remove_on_close else None
        self._owner_labels = {docker_orphans.LABEL_OWNER: owner} if owner else {}
        # Defence in depth behind the API's check: a job stored before the option was set.
        self.deny_host_access = deny_host_access
        self.network = network
        self.pull_policy = pull_policy
        self.client = client or docker.from_env()
        self._listener: Listener | None = None
        self._lock = threading.Lock()          # guards _attempts and the _Attempt fields
        self._emit_lock = threading.RLock()    # orders RUNNING before LOG/EXITED per attempt
        self._attempts: dict[tuple[str, int], _Attempt] = {}
        self._closing = threading.Event()
        # Pulls can take minutes: they get their own pool, so kills and removals never queue
        # behind them.
        self._launch = ThreadPoolExecutor(launch_workers, thread_name_prefix="batchemu-docker-launch")
        self._ops = ThreadPoolExecutor(2, thread_name_prefix="batchemu-docker-ops")
        self._timers = Timers()
        self._groups = docker_nodes.GroupNetworks(self.client, server_id)  # multi-node jobs' networks
        self._output = OutputFollower(self.client, self._report_output, output_interval)
        # Multi-container attempts (ECS tasks, EKS pods): docker_task, fed by the same events.
        self._tasks = DockerTasks(self.client, server_id, self._emit, task_holder_image, pull_policy,
                                  network, deny_host_access, output_interval, self._groups,
                                  self._owner_labels)
        # Subscribed before anything is started, so no die event can be missed.
        self._events = EngineEvents(self.client, server_id,
                                    on_event=lambda event: self._guarded(self._on_event, event),
                                    on_connect=self._check_running)
        self._submit_op(self._remove_orphans)

    # ---- the Runner interface -------------------------------------------------------------

    def set_listener(self, listener: Listener) -> None:
        self._listener = listener

    def start(self, spec: LaunchSpec) -> None:
        rec = _Attempt(spec.job_id, spec.attempt, group_network=spec.group_network)
        with self._lock:
            self._attempts[(spec.job_id, spec.attempt)] = rec
        self._launch.submit(self._guarded, self._launch_attempt, rec, spec)

    def start_task(self, spec: TaskSpec) -> None:
        """Run a multi-container attempt (runners.task_spec); reported like any attempt, its
        EXITED event carrying each container's exit."""
        self._tasks.start(spec)

    def stop(self, job_id: str, attempt: int, grace_seconds: float = 30.0) -> None:
        if self._tasks.stop(job_id, attempt, grace_seconds):
            return
        with self._lock:
            rec = self._attempts.get((job_id, attempt))
            if rec is None or rec.stop_grace is not None:
                return
            rec.stop_grace = grace_seconds
            container_id = rec.container_id if rec.started else None
        # Not started yet: the launch worker sees stop_grace and gives up before starting.
        if container_id:
            self._submit_op(self._terminate, container_id, grace_seconds)

    def reattach(self, wanted: dict, stored_output: dict | None = None) -> list[Survivor]:
        """Adopt our wanted containers, collect those that finished while we were away (their
        output after `stored_output` goes out as a LOG event) and remove every other own
        container. One that dies while being adopted is reported running, and its EXITED event
        follows. Task containers (holders and members) go to docker_task_reattach."""
        marks = stored_output or {}
        survivors, task_parts = [], []
        for container in self.client.containers.list(all=True, filters={"label": f"{LABEL_SERVER}={self.server_id}"}):
            labels = container.labels
            if LABEL_TASK_JOB in labels:
                task_parts.append(container)
                continue
            job_id, attempt = labels.get(LABEL_JOB), _int(labels.get(LABEL_ATTEMPT))
            if job_id is None or attempt is None or wanted.get(job_id) != attempt:
                self._remove(container.id)
                continue
            if container.status in ("running", "paused", "restarting"):
                started = parse_docker_time((container.attrs.get("State") or {}).get("StartedAt"))
                self._groups.readopt(labels.get(docker_nodes.LABEL_NETWORK),
                                     (container.attrs.get("Config") or {}).get("Env"))
                survivors.append(self._adopt_running(job_id, attempt, container.id, started,
                                                     marks.get(job_id), labels.get(docker_nodes.LABEL_NETWORK)))
            elif container.status in ("exited", "dead"):
                survivors.append(self._collect_finished(job_id, attempt, container, marks.get(job_id)))
            else:
                # "created": the server died between create and start, so nothing ran. Removed
                # now, before the engine launches the attempt again (reported as no trace), so
                # the attempt never has two containers.
                self._remove_now(container.id)
        adopted_tasks, adopted = docker_task_reattach.reattach(self._tasks, task_parts, wanted, marks, self._remove)
        survivors += adopted_tasks
        self._tasks.sweep_volumes(now=False, keep=adopted)   # the volumes of the tasks removed
        self._submit_op(self._groups.sweep)  # the networks of removed nodes
        return survivors

    def reset(self) -> None:
        """Every attempt and task forgotten first (so the die events of the removals below
        report nothing), launches in flight told to give up (as by stop()), then everything
        labelled with this server's id removed, here and now (_remove_all)."""
        with self._lock:
            forgotten = list(self._attempts.values())
            self._attempts.clear()
            for rec in forgotten:
                rec.stop_grace = 0.0
        for rec in forgotten:
            self._output.forget((rec.job_id, rec.attempt))
        self._tasks.reset()
        self._remove_all()

    def gpus(self) -> int:
        """NVIDIA GPUs visible on this host, if Docker can hand them to containers (the nvidia
        runtime or the nvidia container toolkit hook is installed). Assumes a local daemon."""
        count = len([p for p in glob.glob("/dev/nvidia*") if re.fullmatch(r"/dev/nvidia\d+", p)])
        if not count:
            return 0
        try:
            runtimes = self.client.info().get("Runtimes") or {}
        except Exception:
            runtimes = {}
        toolkit = shutil.which("nvidia-container-runtime-hook") or shutil.which("nvidia-container-cli")
        return count if ("nvidia" in runtimes or toolkit) else 0

    def close(self) -> None:
        """Stop following Docker. Running job containers are left alone on purpose, so the next
        server start re-attaches them (reattach), unless remove_on_close: then they go too."""
        self._closing.set()
        self._events.close()
        self._output.close()       # output not reported yet is read again after a restart
        self._tasks.close(self.remove_on_close)
        self._timers.close()
        # Launches in flight give up before creating a container (_abort_if_stopped); wait for
        # them when removing, so none creates one after the sweep below.
        self._launch.shutdown(wait=self.remove_on_close, cancel_futures=True)
        self._ops.shutdown(wait=True)
        if self.remove_on_close:
            self._remove_all()
        self._groups.close()

    def _remove_all(self) -> None:
        """Force-remove every container labelled with this server's id (job containers, task
        holders and members, multi-node nodes), then its task volumes and group networks. One
        that cannot be removed is logged and the others still go."""
        own = {"label": f"{LABEL_SERVER}={self.server_id}"}
        for container in self.client.api.containers(all=True, filters=own):
            try:
                self._remove_now(container["Id"])
            except docker.errors.APIError as exc:  # e.g. a removal already in progress
                log.warning("could not remove container %s: %s", container["Id"][:12], exc)
        self._tasks.sweep_volumes(now=True)
        self._groups.sweep()

    def _remove_orphans(self) -> None:
        """What ephemeral servers that died without closing left on this machine (docker_orphans)."""
        for server_id in docker_orphans.dead_servers(self.client, docker_orphans.this_process()):
            if server_id != self.server_id:
                log.info("removing the containers of ephemeral server %s: its process is gone", server_id)
                docker_orphans.remove_server(self.client, server_id)

    # ---- launching ---------------------------------------------------------------------

    def _launch_attempt(self, rec: _Attempt, spec: LaunchSpec) -> None:
        refused = spec.host_resources() if self.deny_host_access else []
        if refused:
            self._fail_start(rec, f"CannotStartContainerError: {', '.join(refused)}: host access is refused "
                                  "on this server (--deny-host-access)")
            return
        try:
            ensure_image(self.client, spec.image, spec.pull_policy or self.pull_policy)
        except Exception as exc:
            self._fail_start(rec, f"CannotPullContainerError: {pull_message(exc)}")
            return
        container_id = None
        try:
            self._abort_if_stopped(rec)
            kwargs = create_kwargs(spec, self.server_id, self.network)
            kwargs["labels"].update(self._owner_labels)
            also_on = None
            if spec.group_network:  # a network of its own (multi-node jobs' nodes)
                also_on = self._groups.prepare(spec, kwargs)
            container = self.client.containers.create(**kwargs)
            container_id = container.id
            with self._lock:
                rec.container_id = container_id
            if also_on:
                self.client.api.connect_container_to_network(container_id, also_on)
            self._abort_if_stopped(rec)
            container.start()
            if spec.group_network:
                rec.address = self._address(container_id, spec.group_network)
        except _StartAborted:
            self._fail_start(rec, "stopped before start", container_id)
            return
        except Exception as exc:
            self._fail_start(rec, f"CannotStartContainerError: {daemon_message(exc)}", container_id)
            return
        finally:
            rec.address_read.set()
        with self._lock:
            rec.started = True
            grace = rec.stop_grace
        if grace is not None:        # stop() raced with container.start()
            self._submit_op(self._terminate, container_id, grace)
        started_ms = now_ms()
        try:
            container.reload()
            started_ms = parse_docker_time(container.attrs["State"].get("StartedAt")) or started_ms
        except docker.errors.APIError:
            pass                     # already gone: the die path reports it
        self._send_running(rec, started_ms, rec.address)
        with self._emit_lock:        # not once the exit is reported (a quick container)
            if not rec.exited_sent:
                self._output.follow((rec.job_id, rec.attempt), container_id)

    def _address(self, container_id: str, network: str) -> str | None:
        """A started container's address on `network`; None once it is gone (Docker forgets it)."""
        try:
            return docker_nodes.address(self.client.api.inspect_container(container_id), network)
        except docker.errors.APIError:
            return None

    def _abort_if_stopped(self, rec: _Attempt) -> None:
        with self._lock:
            if rec.stop_grace is not None or self._closing.is_set():
                raise _StartAborted()

    def _fail_start(self, rec: _Attempt, reason: str, container_id: str | None = None) -> None:
        self._forget(rec)
        if container_id:
            self._remove(container_id, rec.group_network)
        else:
            self._submit_op(self._remove_now, None, rec.group_network)
        self._send_exit(rec, RunnerEvent(EXITED, rec.job_id, rec.attempt, now_ms(), exit_code=None,
                                         reason=reason, status_reason=FAILED_TO_START))

    # ---- stopping ----------------------------------------------------------------------

    def _terminate(self, container_id: str, grace: float) -> None:
        docker_stop.stop(self.client, self._timers, self._submit_op, container_id, grace)

    def _remove(self, container_id: str, group_network: str | None = None) -> None:
        self._submit_op(self._remove_now, container_id, group_network)

    def _remove_now(self, container_id: str | None, group_network: str | None = None) -> None:
        try:
            if container_id:
                self.client.api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass
        self._groups.release(group_network)  # removed with its last container

    # ---- exits -------------------------------------------------------------------------

    def _on_event(self, event: dict) -> None:
        """die -> report the exit; oom -> remember it for the die that follows."""
        if self._tasks.on_event(event):
            return                   # a task member's (docker_task)
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        key = (attributes.get(LABEL_JOB), _int(attributes.get(LABEL_ATTEMPT)))
        with self._lock:
            rec = self._attempts.get(key)
            if rec is None or rec.container_id not in (None, event.get("id")):
                return               # not ours to report (e.g. one reattach is removing)
            if event.get("Action") == "oom":
                rec.oom_seen = True
                return
        self._handle_exit(rec, event.get("id"))

    def _check_running(self) -> None:
        self._tasks.check_running()
        with self._lock:
            created = [rec for rec in self._attempts.values() if rec.container_id]
        for rec in created:
            try:
                state = self.client.api.inspect_container(rec.container_id)["State"]
            except docker.errors.NotFound:
                if rec.started:      # else the launch worker reports its failure to start
                    self._lose(rec)
                continue
            if state.get("Status") in ("exited", "dead"):
                self._handle_exit(rec, rec.container_id)

    def _handle_exit(self, rec: _Attempt, container_id: str) -> None:
        try:
            attrs = self.client.api.inspect_container(container_id)
        except docker.errors.NotFound:
            self._lose(rec)
            return
        state = attrs["State"]
        oom = bool(state.get("OOMKilled")) or rec.oom_seen
        if rec.group_network:        # a quick exit: RUNNING still carries the address
            rec.address_read.wait(10)
        started_ms = parse_docker_time(state.get("StartedAt")) or now_ms()
        # Docker's FinishedAt can read a hair before StartedAt for instant exits.
        finished_ms = max(parse_docker_time(state.get("FinishedAt")) or now_ms(), started_ms)
        with self._emit_lock:
            self._send_running(rec, started_ms, rec.address)
            if rec.exited_sent:
                return
            try:             # the output not reported yet, under the lock: LOG before EXITED
                lines = self._output.finish((rec.job_id, rec.attempt), container_id)
            except docker.errors.NotFound:
                self._lose(rec)
                return
            except docker.errors.APIError:   # being removed (409): its exit stands, its last lines are lost
                lines = []
            self._send_lines(rec, lines)
            self._send_exit(rec, RunnerEvent(EXITED, rec.job_id, rec.attempt, finished_ms,
                                             exit_code=state.get("ExitCode"), oom=oom,
                                             reason=OOM_REASON if oom else None))
        self._forget(rec)
        self._remove(container_id, rec.group_network)

    def _lose(self, rec: _Attempt) -> None:
        """The container vanished (removed behind our back) before we saw its exit."""
        self._forget(rec)
        self._send_exit(rec, RunnerEvent(EXITED, rec.job_id, rec.attempt, now_ms(), exit_code=None,
                                         reason="CannotInspectContainerError: the container disappeared"))

    def _forget(self, rec: _Attempt) -> None:
        with self._lock:
            mine = self._attempts.get((rec.job_id, rec.attempt)) is rec
            if mine:
                del self._attempts[(rec.job_id, rec.attempt)]
        if mine:
            self._output.forget((rec.job_id, rec.attempt))

    # ---- re-attaching ------------------------------------------------------------------

    def _adopt_running(self, job_id: str, attempt: int, container_id: str, started_ms: int | None = None,
                       mark=None, group_network: str | None = None) -> Survivor:
        rec = _Attempt(job_id, attempt, container_id=container_id, started=True, running_sent=True,
                       group_network=group_network)
        rec.address_read.set()       # RUNNING was reported before the restart
        with self._lock:
            self._attempts[(job_id, attempt)] = rec
        self._output.follow((job_id, attempt), container_id, mark)   # from where the store left off
        # It may have died between the listing and the line above, unseen by the events thread.
        try:
            if not self.client.api.inspect_container(container_id)["State"].get("Running"):
                self._handle_exit(rec, container_id)
        except docker.errors.NotFound:
            self._lose(rec)
        return Survivor(job_id, attempt, running=True, started_ms=started_ms)

    def _collect_finished(self, job_id: str, attempt: int, container, mark=None) -> Survivor:
        state = container.attrs["State"]
        oom = bool(state.get("OOMKilled"))
        lines = self._output.finish((job_id, attempt), container.id, mark)
        rec = _Attempt(job_id, attempt, container_id=container.id, started=True, running_sent=True)
        self._send_lines(rec, lines)
        self._remove(container.id, container.labels.get(docker_nodes.LABEL_NETWORK))
        return Survivor(job_id, attempt, running=False, exit_code=state.get("ExitCode"), oom=oom)

    # ---- events out --------------------------------------------------------------------

    def _send_running(self, rec: _Attempt, at_ms: int, address: str | None = None) -> None:
        with self._emit_lock:
            if rec.running_sent or rec.exited_sent:
                return
            rec.running_sent = True
            self._emit(RunnerEvent(RUNNING, rec.job_id, rec.attempt, at_ms, address=address))

    def _send_lines(self, rec: _Attempt, lines: list) -> None:
        if lines:
            self._emit(RunnerEvent(LOG, rec.job_id, rec.attempt, lines[-1][0], lines=tuple(lines)))

    def _report_output(self, key: tuple, lines: list) -> None:
        """A running container's new lines, from the output thread. No _emit_lock (the exit
        path holds it while waiting for this read): docker_output orders them before the exit."""
        self._emit(RunnerEvent(LOG, key[0], key[1], lines[-1][0], lines=tuple(lines)))

    def _send_exit(self, rec: _Attempt, event: RunnerEvent) -> None:
        with self._emit_lock:
            if rec.exited_sent:
                return
            rec.exited_sent = True
            self._emit(event)

    def _emit(self, event: RunnerEvent) -> None:
        deliver(self._listener, event, "docker")

    def _submit_op(self, fn, *args) -> None:
        submit_guarded(self._ops, "docker runner", fn, *args)

    @staticmethod
    def _guarded(fn, *args) -> None:
        guarded("docker runner", fn, *args)


def _int(text) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None
