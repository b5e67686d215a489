"""The process runner, for machines without Docker: each attempt runs `spec.command` as a host
process in its own session, UNISOLATED, as the server's user; the image is ignored and no
limit (vCPU, memory, GPU, user, mounts, ...) is enforced. One I/O thread owns every child:
it launches, reads output, delivers stop signals and reaps. It never writes the store.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import json
import logging
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from batchemu.runners.base import (EXITED, LOG, RUNNING, LaunchSpec, Listener, RunnerEvent, Survivor,
                                   deliver)

log = logging.getLogger(__name__)

FAILED_TO_START = "Task failed to start"     # §6.5
MAX_LINE = 16 * 1024                          # like Docker: longer lines are split
_INHERITED_ENV = ("PATH", "HOME", "LANG")


def now_ms() -> int:
    return int(time.time() * 1000)


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks since boot): with the pid it
    identifies a process across pid reuse. None when the process or /proc is not there."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) may contain spaces and parentheses: count fields after the last ')'.
    return int(stat.rsplit(")", 1)[1].split()[19])


def _pidfd(pid: int) -> int | None:
    """A pidfd turns readable when the process exits, whoever holds its pipes (Linux >= 5.3)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@dataclasses.dataclass(eq=False)
class _Child:
    spec: LaunchSpec
    proc: subprocess.Popen
    cwd: str
    record: Path | None
    pidfd: int | None
    pipes: dict                                    # fd -> partial bytes not yet a full line
    unsent: list = dataclasses.field(default_factory=list)   # not yet emitted as LOG

    @property
    def key(self):
        return (self.spec.job_id, self.spec.attempt)


class ProcessRunner:
    name = "process"

    def __init__(self, state_dir=None):
        # state_dir keeps one small record per live attempt, so that the next server start can
        # kill what an unclean stop left running; None (an ephemeral server) keeps none.
        self.state_dir = Path(state_dir) if state_dir is not None else None
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        self._listener: Listener | None = None
        self._lock = threading.Lock()              # guards _commands, _children
        self._commands = collections.deque()       # ("start", spec) | ("stop", key, grace) | ...
        self._children: dict[tuple[str, int], _Child] = {}
        self._timers = []                          # heap of (monotonic, seq, key); I/O thread only
        self._seq = 0
        self._closed = False                       # guarded by _lock: the wake pipe is gone
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._thread = threading.Thread(target=self._run, name="batchemu-process-io", daemon=True)
        self._thread.start()

    # ---- the Runner interface (any thread) -----------------------------------------------

    def set_listener(self, listener: Listener) -> None:
        self._listener = listener

    def start(self, spec: LaunchSpec) -> None:
        self._command(("start", spec))

    def stop(self, job_id: str, attempt: int, grace_seconds: float = 30.0) -> None:
        key = (job_id, attempt)
        with self._lock:
            for command in self._commands:
                if command[0] == "start" and (command[1].job_id, command[1].attempt) == key:
                    self._commands.remove(command)       # never launched: say so from the I/O thread
                    self._commands.append(("cancelled", command[1]))
                    break
            else:
                self._commands.append(("stop", key, grace_seconds))
            self._wake()

    def reattach(self, wanted: dict, stored_output: dict | None = None) -> list[Survivor]:
        """A host process cannot be re-attached (its pipes died with the old server, so there is
        no output to resume after stored_output either): kill every
        recorded process still alive, forget the records, and report each wanted attempt that
        has a record as lost, so the engine fails it and retries it per its retry strategy. A
        wanted attempt without a record never got a process: it is left out (started again)."""
        if self.state_dir is None:
            return []
        with self._lock:
            own = {child.record for child in self._children.values()}
        lost = []
        for record in self.state_dir.glob("*.json"):
            if record in own:
                continue
            try:
                data = json.loads(record.read_text())
                pid, started = int(data["pid"]), data.get("start_time")
                job_id, attempt = data["job_id"], data["attempt"]
            except (OSError, ValueError, KeyError, TypeError):
                pid, started, job_id, attempt = None, None, None, None
            # The start time guards against killing an unrelated process that reuses the pid.
            if pid and started is not None and process_start_time(pid) == started:
                _killpg(pid, signal.SIGKILL)
            record.unlink(missing_ok=True)
            if job_id is not None and wanted.get(job_id) == attempt:
                lost.append(Survivor(job_id, attempt, running=False, lost=True))
        return lost

    def reset(self) -> None:
        """Kill every process group now, on the I/O thread (which owns the children), and wait
        for it; launches queued before are made and killed, in order."""
        done = threading.Event()
        self._command(("reset", done))
        if self._thread.is_alive():
            done.wait(60)

    def gpus(self) -> int:
        return 0

    def close(self) -> None:
        """Kill what still runs: nobody would read its output, and it cannot be re-attached."""
        self._command(("close",))
        self._thread.join(timeout=10)

    # ---- plumbing between threads --------------------------------------------------------

    def _command(self, command: tuple) -> None:
        with self._lock:
            self._commands.append(command)
            self._wake()

    def _wake(self) -> None:
        """Call with _lock held, so the pipe cannot be closed under us."""
        if self._closed:
            return
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass                  # the pipe is full: the I/O thread is awake anyway

    # ---- the I/O thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                for key, _ in self._selector.select(self._next_timeout()):
                    self._guarded(self._dispatch, *key.data, key.fd)
                if not self._take_commands():
                    break
                self._fire_timers()
                self._flush_lines()
        except Exception:
            log.exception("process runner I/O thread failed")
        finally:
            self._shutdown()

    def _dispatch(self, kind: str, child: _Child | None, fd: int) -> None:
        if kind == "wake":
            self._drain_wake()
        elif kind == "pipe":
            self._read(child, fd)
        elif kind == "exit":
            self._reap(child)

    def _take_commands(self) -> bool:
        """Run queued commands; False once close() was asked for."""
        while True:
            with self._lock:
                if not self._commands:
                    return True
                command = self._commands.popleft()
            if command[0] == "start":
                self._guarded(self._launch, command[1])
            elif command[0] == "stop":
                self._guarded(self._stop, *command[1:])
            elif command[0] == "cancelled":
                spec = command[1]
                self._emit(RunnerEvent(EXITED, spec.job_id, spec.attempt, now_ms(), exit_code=None,
                                       reason="stopped before start", status_reason=FAILED_TO_START))
            elif command[0] == "reset":
                for child in list(self._children.values()):
                    _killpg(child.proc.pid, signal.SIGKILL)
                    self._guarded(self._reap, child)   # its EXITED report names a forgotten job
                command[1].set()
            elif command[0] == "close":
                return False

    def _launch(self, spec: LaunchSpec) -> None:
        if not spec.command:
            self._fail_start(spec, "CannotStartContainerError: the process runner needs a command")
            return
        env = {name: os.environ[name] for name in _INHERITED_ENV if name in os.environ}
        env.update({str(k): str(v) for k, v in spec.environment.items()})
        cwd = tempfile.mkdtemp(prefix="batchemu-job-")
        try:
            proc = subprocess.Popen([str(arg) for arg in spec.command], cwd=cwd, env=env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            shutil.rmtree(cwd, ignore_errors=True)
            self._fail_start(spec, f"CannotStartContainerError: {exc}")
            return
        started = now_ms()
        pipes = {}
        for stream in (proc.stdout, proc.stderr):
            # Our own copy, closed by _close_pipe: the Popen's file objects would close the
            # number again when collected, by then maybe another thread's socket.
            pipes[os.dup(stream.fileno())] = b""
            stream.close()
        child = _Child(spec, proc, cwd, self._record_path(spec), _pidfd(proc.pid), pipes)
        self._write_record(child)
        for fd in child.pipes:
            os.set_blocking(fd, False)
            self._selector.register(fd, selectors.EVENT_READ, ("pipe", child))
        if child.pidfd is not None:
            self._selector.register(child.pidfd, selectors.EVENT_READ, ("exit", child))
        with self._lock:
            self._children[child.key] = child
        # A multi-node job's nodes are processes of this host: they share its loopback address
        # (and its ports), so the main node's address is 127.0.0.1 (README "Multi-node parallel jobs").
        address = "127.0.0.1" if spec.group_network else None
        self._emit(RunnerEvent(RUNNING, spec.job_id, spec.attempt, started, address=address))

    def _fail_start(self, spec: LaunchSpec, reason: str) -> None:
        self._emit(RunnerEvent(EXITED, spec.job_id, spec.attempt, now_ms(), exit_code=None,
                               reason=reason, status_reason=FAILED_TO_START))

    def _stop(self, key, grace: float) -> None:
        child = self._children.get(key)
        if child is None or child.proc.returncode is not None:
            return
        # The whole process group, like `docker stop` reaching every process in a container.
        _killpg(child.proc.pid, signal.SIGKILL if grace <= 0 else signal.SIGTERM)
        if grace > 0:
            self._seq += 1
            heapq.heappush(self._timers, (time.monotonic() + grace, self._seq, key, child))

    def _next_timeout(self) -> float | None:
        if not self._timers:
            return None
        return max(0.0, self._timers[0][0] - time.monotonic())

    def _fire_timers(self) -> None:
        while self._timers and self._timers[0][0] <= time.monotonic():
            _, _, key, child = heapq.heappop(self._timers)
            # Only while unreaped: the group id is the leader's pid, free for reuse once reaped.
            if self._children.get(key) is child and child.proc.returncode is None:
                _killpg(child.proc.pid, signal.SIGKILL)

    def _read(self, child: _Child, fd: int) -> None:
        if fd not in child.pipes:
            return                # closed by a _reap earlier in the same select() batch
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if data:
            self._add_output(child, fd, data)
            return
        self._close_pipe(child, fd)
        if not child.pipes and child.pidfd is None:
            self._reap(child)     # no pidfd: both pipes at EOF is the best exit signal we have

    def _add_output(self, child: _Child, fd: int, data: bytes) -> None:
        *complete, rest = (child.pipes[fd] + data).split(b"\n")
        lines = [line[i:i + MAX_LINE] for line in complete for i in range(0, len(line) or 1, MAX_LINE)]
        while len(rest) > MAX_LINE:
            lines.append(rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
        child.pipes[fd] = rest
        self._add_lines(child, lines)

    def _add_lines(self, child: _Child, raw_lines: list) -> None:
        if not raw_lines:
            return
        at = now_ms()
        child.unsent.extend((at, line.decode("utf-8", errors="replace").rstrip("\r")) for line in raw_lines)

    def _close_pipe(self, child: _Child, fd: int) -> None:
        rest = child.pipes.pop(fd)
        if rest:
            self._add_lines(child, [rest])    # a last line without a newline
        self._selector.unregister(fd)
        os.close(fd)

    def _drain(self, child: _Child) -> None:
        """Take what is left in the pipes without blocking (a child that escaped the process
        group may hold them open forever)."""
        for fd in list(child.pipes):
            while True:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if not data:
                    break
                self._add_output(child, fd, data)
            self._close_pipe(child, fd)

    def _reap(self, child: _Child) -> None:
        if child.pidfd is not None:
            # The leader is a zombie until waited for, so its group id cannot have been reused:
            # kill what it left behind, as Docker does when a container's PID 1 exits.
            _killpg(child.proc.pid, signal.SIGKILL)
            self._selector.unregister(child.pidfd)
            os.close(child.pidfd)
            child.pidfd = None
        # Without a pidfd this blocks if the process closed its pipes but still runs.
        returncode = child.proc.wait()
        self._drain(child)
        with self._lock:
            self._children.pop(child.key, None)
        self._cleanup(child)
        # Killed by a signal: report 128+signal, as Docker does.
        exit_code = 128 - returncode if returncode < 0 else returncode
        self._flush(child)
        self._emit(RunnerEvent(EXITED, child.spec.job_id, child.spec.attempt, now_ms(), exit_code=exit_code))

    def _flush_lines(self) -> None:
        for child in list(self._children.values()):
            self._flush(child)

    def _flush(self, child: _Child) -> None:
        if child.unsent:
            lines, child.unsent = tuple(child.unsent), []
            self._emit(RunnerEvent(LOG, child.spec.job_id, child.spec.attempt, lines[-1][0], lines=lines))

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _shutdown(self) -> None:
        for child in list(self._children.values()):
            _killpg(child.proc.pid, signal.SIGKILL)
            child.proc.wait()
            for fd in list(child.pipes):
                self._close_pipe(child, fd)
            if child.pidfd is not None:
                self._selector.unregister(child.pidfd)
                os.close(child.pidfd)
            self._cleanup(child)
        with self._lock:
            self._children.clear()
            self._closed = True
            os.close(self._wake_r)
            os.close(self._wake_w)
        self._selector.close()

    def _cleanup(self, child: _Child) -> None:
        if child.record is not None:
            child.record.unlink(missing_ok=True)
        shutil.rmtree(child.cwd, ignore_errors=True)

    # ---- records for reattach ----------------------------------------------------------

    def _record_path(self, spec: LaunchSpec) -> Path | None:
        if self.state_dir is None:
            return None
        return self.state_dir / f"{urllib.parse.quote(spec.job_id, safe='')}.{spec.attempt}.json"

    def _write_record(self, child: _Child) -> None:
        if child.record is None:
            return
        data = {"job_id": child.spec.job_id, "attempt": child.spec.attempt, "pid": child.proc.pid,
                "start_time": process_start_time(child.proc.pid)}
        tmp = child.record.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, child.record)

    @staticmethod
    def _guarded(fn, *args) -> None:
        """One child's trouble must not stop the I/O thread that serves all the others."""
        try:
            fn(*args)
        except Exception:
            log.exception("process runner: %s failed", fn.__name__)

    def _emit(self, event: RunnerEvent) -> None:
        deliver(self._listener, event, "process")
