"""The Docker runner: one container per attempt, labelled batchemu.server/job-id/attempt, so
this server only ever touches its own containers. It owns pull/create/start/stop/remove and
reports what happened as RunnerEvents, output included while a container runs (docker_output);
it never writes the store and knows no Batch rules.
Threads: a small launch pool, a small ops pool, one Docker-events thread, one timer thread,
one output thread.
"""

from __future__ import annotations

import dataclasses
import glob
import heapq
import logging
import re
import secrets
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import docker
import docker.errors
from docker.types import DeviceRequest, LogConfig, Ulimit
from docker.utils import parse_repository_tag

from batchemu.runners.base import (EXITED, LOG, RUNNING, LaunchSpec, Listener, RunnerEvent, Survivor,
                                   deliver)
from batchemu.runners.docker_output import OutputFollower, parse_docker_time_ns

log = logging.getLogger(__name__)

LABEL_SERVER = "batchemu.server"
LABEL_JOB = "batchemu.job-id"
LABEL_ATTEMPT = "batchemu.attempt"

FAILED_TO_START = "Task failed to start"                           # §6.5
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"  # §6.5
PULL_POLICIES = ("missing", "always", "never")
_BUILTIN_NETWORK_MODES = ("host", "none", "bridge", "default")


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


def parse_docker_time(text: str | None) -> int | None:
    """RFC3339Nano as Docker writes it -> epoch ms (None for Docker's zero time)."""
    ns = parse_docker_time_ns(text)
    return None if ns is None else ns // 1_000_000


def container_name(spec: LaunchSpec) -> str:
    """Docker allows [a-zA-Z0-9][a-zA-Z0-9_.-]*; the random suffix keeps retries and
    re-submitted jobs with the same name from colliding with a container not yet removed."""
    base = re.sub(r"[^a-zA-Z0-9_.-]+", "-", spec.name).strip("-_.")[:100] or "job"
    return f"{base}-{spec.attempt}-{secrets.token_hex(3)}"


def create_kwargs(spec: LaunchSpec, server_id: str, default_network: str) -> dict:
    """LaunchSpec -> docker SDK `containers.create` keyword arguments."""
    kw = {
        "image": spec.image,
        "command": list(spec.command) or None,          # None: the image's CMD
        "name": container_name(spec),
        "labels": {**spec.labels, LABEL_SERVER: server_id, LABEL_JOB: spec.job_id,
                   LABEL_ATTEMPT: str(spec.attempt)},
        "environment": dict(spec.environment),
        # json-file whatever the daemon default is: the runner reads exit logs back from Docker.
        "log_config": LogConfig(type="json-file"),
        "privileged": bool(spec.privileged),
        "read_only": bool(spec.readonly_root),
    }
    if spec.vcpus:
        kw["nano_cpus"] = int(spec.vcpus * 1e9)
    if spec.memory_mib:
        # Swap limit equal to the memory limit: no swap, so exceeding memory is a real OOM kill.
        kw["mem_limit"] = kw["memswap_limit"] = f"{int(spec.memory_mib)}m"
    if spec.gpus:
        kw["device_requests"] = [DeviceRequest(count=int(spec.gpus), capabilities=[["gpu"]])]
    if spec.user:
        kw["user"] = spec.user
    if spec.ulimits:
        kw["ulimits"] = [Ulimit(name=u["name"], soft=int(u["softLimit"]), hard=int(u["hardLimit"]))
                         for u in spec.ulimits]
    if spec.shared_memory_mib:
        kw["shm_size"] = f"{int(spec.shared_memory_mib)}m"
    if spec.tmpfs:
        kw["tmpfs"] = {t["containerPath"]: _tmpfs_options(t) for t in spec.tmpfs}
    if spec.devices:
        kw["devices"] = [_device(d) for d in spec.devices]
    if spec.init_process:
        kw["init"] = True
    if spec.mounts:
        # Binds (not Mounts): like ECS host volumes, Docker creates a missing source directory.
        kw["volumes"] = {m.source: {"bind": m.target, "mode": "ro" if m.read_only else "rw"}
                         for m in spec.mounts}
    network = spec.network or default_network
    if network in _BUILTIN_NETWORK_MODES or network.startswith("container:"):
        kw["network_mode"] = network
    else:
        kw["network"] = network                      # a user-defined network, by name
    if network in ("bridge", "default"):
        # Jobs reach the server as host.docker.internal there (services.JobEndpoint), as on
        # Docker Desktop; on Linux engines that name needs this mapping (Docker >= 20.10).
        kw["extra_hosts"] = {"host.docker.internal": "host-gateway"}
    return kw


def _tmpfs_options(t: dict) -> str:
    options = [f"size={int(t['size'])}m"] if t.get("size") else []
    return ",".join(options + list(t.get("mountOptions") or []))


def _device(d: dict) -> str:
    perms = {"READ": "r", "WRITE": "w", "MKNOD": "m"}
    mode = "".join(perms[p] for p in d.get("permissions") or () if p in perms) or "rwm"
    return f"{d['hostPath']}:{d.get('containerPath') or d['hostPath']}:{mode}"


def _daemon_message(exc: Exception) -> str:
    """The daemon's own words, as `docker` prints them (and as ECS shows them in reasons)."""
    explanation = getattr(exc, "explanation", None)
    if explanation:
        return f"Error response from daemon: {explanation}"
    return str(exc) or type(exc).__name__


class _StartAborted(Exception):
    """stop() arrived before the container was started."""


class _PullNever(Exception):
    """The image is missing and the pull policy forbids pulling it."""


class _PullError(Exception):
    """An error reported inside Docker's pull progress stream."""


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


class _Timers:
    """One thread that runs callbacks at deadlines (SIGKILL after a stop's grace period), so a
    stop never holds a pool worker for its grace period and no thread is made per stop."""

    def __init__(self):
        self._heap = []
        self._seq = 0
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="batchemu-docker-timers", daemon=True)
        self._thread.start()

    def call_later(self, delay: float, fn) -> None:
        with self._cond:
            self._seq += 1
            heapq.heappush(self._heap, (time.monotonic() + max(0.0, delay), self._seq, fn))
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._closed:
                    return
                _, _, fn = heapq.heappop(self._heap)
            try:
                fn()
            except Exception:
                log.exception("timer callback failed")


class DockerRunner:
    name = "docker"

    def __init__(self, server_id: str, network: str = "host", pull_policy: str = "missing",
                 client=None, launch_workers: int = 4, remove_on_close: bool = False,
                 deny_host_access: bool = False, output_interval: float = 0.5):
        if pull_policy not in PULL_POLICIES:
            raise ValueError(f"pull_policy must be one of {PULL_POLICIES}, not {pull_policy!r}")
        self.server_id = server_id
        # An ephemeral server keeps no state, so nothing could ever re-attach what it left
        # running: it removes its containers when it closes.
        self.remove_on_close = remove_on_close
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
        self._stream = None
        # Pulls can take minutes: they get their own pool, so kills and removals never queue
        # behind them.
        self._launch = ThreadPoolExecutor(launch_workers, thread_name_prefix="batchemu-docker-launch")
        self._ops = ThreadPoolExecutor(2, thread_name_prefix="batchemu-docker-ops")
        self._timers = _Timers()
        self._output = OutputFollower(self.client, self._report_output, output_interval)
        self._connected = threading.Event()
        self._events_thread = threading.Thread(target=self._follow_events,
                                               name="batchemu-docker-events", daemon=True)
        self._events_thread.start()
        # Subscribe before anything is started, so no die event can be missed.
        self._connected.wait(timeout=10)

    # ---- the Runner interface -------------------------------------------------------------

    def set_listener(self, listener: Listener) -> None:
        self._listener = listener

    def start(self, spec: LaunchSpec) -> None:
        rec = _Attempt(spec.job_id, spec.attempt)
        with self._lock:
            self._attempts[(spec.job_id, spec.attempt)] = rec
        self._launch.submit(self._guarded, self._launch_attempt, rec, spec)

    def stop(self, job_id: str, attempt: int, grace_seconds: float = 30.0) -> None:
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
        follows."""
        marks = stored_output or {}
        survivors = []
        for container in self.client.containers.list(all=True, filters={"label": f"{LABEL_SERVER}={self.server_id}"}):
            labels = container.labels
            job_id, attempt = labels.get(LABEL_JOB), _int(labels.get(LABEL_ATTEMPT))
            if job_id is None or attempt is None or wanted.get(job_id) != attempt:
                self._remove(container.id)
                continue
            if container.status in ("running", "paused", "restarting"):
                started = parse_docker_time((container.attrs.get("State") or {}).get("StartedAt"))
                survivors.append(self._adopt_running(job_id, attempt, container.id, started,
                                                     marks.get(job_id)))
            elif container.status in ("exited", "dead"):
                survivors.append(self._collect_finished(job_id, attempt, container, marks.get(job_id)))
            else:
                # "created": the server died between create and start, so nothing ran. Removed
                # now, before the engine launches the attempt again (reported as no trace), so
                # the attempt never has two containers.
                self._remove_now(container.id)
        return survivors

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
        stream = self._stream
        if stream is not None:
            try:
                stream.close()
            except Exception:
                pass
        self._events_thread.join(timeout=5)
        self._output.close()       # output not reported yet is read again after a restart
        self._timers.close()
        # Launches in flight give up before creating a container (_abort_if_stopped); wait for
        # them when removing, so none creates one after the sweep below.
        self._launch.shutdown(wait=self.remove_on_close, cancel_futures=True)
        self._ops.shutdown(wait=True)
        if self.remove_on_close:
            for container in self.client.containers.list(
                    all=True, filters={"label": f"{LABEL_SERVER}={self.server_id}"}):
                self._remove_now(container.id)

    # ---- launching ---------------------------------------------------------------------

    def _launch_attempt(self, rec: _Attempt, spec: LaunchSpec) -> None:
        refused = spec.host_resources() if self.deny_host_access else []
        if refused:
            self._fail_start(rec, f"CannotStartContainerError: {', '.join(refused)}: host access is refused "
                                  "on this server (--deny-host-access)")
            return
        try:
            self._ensure_image(spec.image, spec.pull_policy or self.pull_policy)
        except Exception as exc:
            self._fail_start(rec, f"CannotPullContainerError: {_pull_message(exc)}")
            return
        container_id = None
        try:
            self._abort_if_stopped(rec)
            container = self.client.containers.create(**create_kwargs(spec, self.server_id, self.network))
            container_id = container.id
            with self._lock:
                rec.container_id = container_id
            self._abort_if_stopped(rec)
            container.start()
        except _StartAborted:
            self._fail_start(rec, "stopped before start", container_id)
            return
        except Exception as exc:
            self._fail_start(rec, f"CannotStartContainerError: {_daemon_message(exc)}", container_id)
            return
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
        self._send_running(rec, started_ms)
        with self._emit_lock:        # not once the exit is reported (a quick container)
            if not rec.exited_sent:
                self._output.follow((rec.job_id, rec.attempt), container_id)

    def _ensure_image(self, image: str, policy: str) -> None:
        if policy != "always":
            try:
                self.client.images.get(image)
                return
            except docker.errors.ImageNotFound as exc:
                if policy == "never":
                    raise _PullNever(f"No such image: {image} (pull policy is never)") from exc
        repository, tag = parse_repository_tag(image)
        # Errors during a pull arrive inside the progress stream, not as an HTTP status.
        for message in self.client.api.pull(repository, tag=tag or "latest", stream=True, decode=True):
            if isinstance(message, dict) and message.get("error"):
                raise _PullError(message["error"])

    def _abort_if_stopped(self, rec: _Attempt) -> None:
        with self._lock:
            if rec.stop_grace is not None or self._closing.is_set():
                raise _StartAborted()

    def _fail_start(self, rec: _Attempt, reason: str, container_id: str | None = None) -> None:
        self._forget(rec)
        if container_id:
            self._remove(container_id)
        self._send_exit(rec, RunnerEvent(EXITED, rec.job_id, rec.attempt, now_ms(), exit_code=None,
                                         reason=reason, status_reason=FAILED_TO_START))

    # ---- stopping ----------------------------------------------------------------------

    def _terminate(self, container_id: str, grace: float) -> None:
        """`docker stop` without blocking a worker for the grace period: the stop signal now,
        SIGKILL from the timer thread when the grace period is over (§10)."""
        try:
            signal = self.client.api.inspect_container(container_id)["Config"].get("StopSignal") or "SIGTERM"
            self.client.api.kill(container_id, signal="SIGKILL" if grace <= 0 else signal)
        except docker.errors.APIError:
            return                   # gone or not running any more: the die path reports it
        if grace > 0:
            self._timers.call_later(grace, lambda: self._submit_op(self._kill, container_id))

    def _kill(self, container_id: str) -> None:
        try:
            self.client.api.kill(container_id, signal="SIGKILL")
        except docker.errors.APIError:
            pass                     # exited within the grace period

    def _remove(self, container_id: str) -> None:
        self._submit_op(self._remove_now, container_id)

    def _remove_now(self, container_id: str) -> None:
        try:
            self.client.api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass

    # ---- exits -------------------------------------------------------------------------

    def _follow_events(self) -> None:
        """Follow Docker's event stream for our containers' die/oom; reconnect when it breaks
        (the SDK ends the iteration quietly on a dropped connection) and, after every
        (re)connect, inspect every container we think is running so no exit is missed."""
        backoff = 0.2
        while not self._closing.is_set():
            try:
                stream = self._stream = self.client.events(decode=True, filters={
                    "type": "container", "event": ["die", "oom"],
                    "label": f"{LABEL_SERVER}={self.server_id}"})
                if self._closing.is_set():   # close() may have looked before the line above
                    stream.close()
                    break
                self._connected.set()
                self._check_running()
                backoff = 0.2
                for event in stream:
                    self._guarded(self._on_event, event)
            except Exception:
                if not self._closing.is_set():
                    log.warning("docker event stream failed; reconnecting", exc_info=True)
            if self._closing.wait(backoff):
                break
            backoff = min(backoff * 2, 5.0)

    def _on_event(self, event: dict) -> None:
        """die -> report the exit; oom -> remember it for the die that follows."""
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
        started_ms = parse_docker_time(state.get("StartedAt")) or now_ms()
        # Docker's FinishedAt can read a hair before StartedAt for instant exits.
        finished_ms = max(parse_docker_time(state.get("FinishedAt")) or now_ms(), started_ms)
        with self._emit_lock:
            self._send_running(rec, started_ms)
            if rec.exited_sent:
                return
            try:             # the output not reported yet, under the lock: LOG before EXITED
                lines = self._output.finish((rec.job_id, rec.attempt), container_id)
            except docker.errors.NotFound:
                self._lose(rec)
                return
            self._send_lines(rec, lines)
            self._send_exit(rec, RunnerEvent(EXITED, rec.job_id, rec.attempt, finished_ms,
                                             exit_code=state.get("ExitCode"), oom=oom,
                                             reason=OOM_REASON if oom else None))
        self._forget(rec)
        self._remove(container_id)

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
                       mark=None) -> Survivor:
        rec = _Attempt(job_id, attempt, container_id=container_id, started=True, running_sent=True)
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
        self._remove(container.id)
        return Survivor(job_id, attempt, running=False, exit_code=state.get("ExitCode"), oom=oom)

    # ---- events out --------------------------------------------------------------------

    def _send_running(self, rec: _Attempt, at_ms: int) -> None:
        with self._emit_lock:
            if rec.running_sent or rec.exited_sent:
                return
            rec.running_sent = True
            self._emit(RunnerEvent(RUNNING, rec.job_id, rec.attempt, at_ms))

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
        try:
            self._ops.submit(self._guarded, fn, *args)
        except RuntimeError:
            pass                     # closing: the pool takes no more work

    @staticmethod
    def _guarded(fn, *args) -> None:
        """Pool and thread bodies: log, never lose an exception silently in a Future."""
        try:
            fn(*args)
        except Exception:
            log.exception("docker runner: %s failed", getattr(fn, "__name__", fn))


def _pull_message(exc: Exception) -> str:
    if isinstance(exc, (_PullNever, _PullError)):
        return f"Error response from daemon: {exc}"
    return _daemon_message(exc)


def _int(text) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None
