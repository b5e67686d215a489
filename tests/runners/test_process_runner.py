"""ProcessRunner with real host processes (no mocks): exit codes, output, environment, stop
and the restart clean-up."""

from __future__ import annotations

import json
import os
import secrets
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from batchemu.runners.base import EXITED, LOG, RUNNING, LaunchSpec, Survivor
from batchemu.runners.process import MAX_LINE, ProcessRunner, process_start_time
from tests.runners.events import EventLog

PY = sys.executable


@pytest.fixture()
def runner(tmp_path):
    r = ProcessRunner(tmp_path / "state")
    r.events = EventLog()
    r.set_listener(r.events)
    yield r
    r.close()


def job_id() -> str:
    return "job-" + secrets.token_hex(6)


def spec(job: str, command, attempt: int = 1, **kw) -> LaunchSpec:
    kw.setdefault("environment", {})
    return LaunchSpec(job_id=job, attempt=attempt, name="test job", image="ignored:latest",
                      command=list(command), **kw)


def run(runner, command, **kw):
    job = job_id()
    runner.start(spec(job, command, **kw))
    exited = runner.events.exited(job)
    return exited, runner.events.lines(job)


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    """Block until pid exits (pidfd: no sleep loop). True when it is gone or a zombie."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def test_exit_zero_with_stdout_and_stderr(runner):
    job = job_id()
    runner.start(spec(job, ["sh", "-c", "echo one; sleep 0.05; echo two >&2; sleep 0.05; echo three"]))
    exited = runner.events.exited(job)
    assert (exited.exit_code, exited.reason, exited.oom) == (0, None, False)
    kinds = runner.events.kinds(job)
    assert kinds[0] == RUNNING and kinds[-1] == EXITED and set(kinds[1:-1]) == {LOG}
    assert runner.events.lines(job) == ["one", "two", "three"]
    stamps = [ms for e in runner.events.of(job) if e.kind == LOG for ms, _ in e.lines]
    assert runner.events.of(job)[0].at_ms <= stamps[0] <= stamps[-1] <= exited.at_ms


def test_nonzero_exit_code_and_last_line_without_newline(runner):
    exited, lines = run(runner, ["sh", "-c", "printf 'bye'; exit 3"])
    assert (exited.exit_code, lines) == (3, ["bye"])


def test_killed_by_a_signal_reports_128_plus_signal(runner):
    exited, _ = run(runner, ["sh", "-c", "kill -9 $$"])
    assert exited.exit_code == 137


def test_environment_is_minimal_plus_the_spec(runner, monkeypatch):
    monkeypatch.setenv("BATCHEMU_SERVER_SECRET", "must not leak")
    exited, lines = run(runner, ["sh", "-c", 'echo "$GREETING"; echo "${BATCHEMU_SERVER_SECRET:-unset}"; '
                                 'test -n "$PATH" && echo path set'],
                        environment={"GREETING": "hello world"})
    assert exited.exit_code == 0
    assert lines == ["hello world", "unset", "path set"]


def test_command_is_not_run_through_a_shell(runner):
    exited, lines = run(runner, ["echo", "two  spaces", "$HOME", "a;b"])
    assert (exited.exit_code, lines) == (0, ["two  spaces $HOME a;b"])


def test_each_attempt_gets_a_fresh_working_directory(runner):
    exited, lines = run(runner, ["sh", "-c", "pwd; ls -A | wc -l"])
    assert exited.exit_code == 0
    assert lines[1].strip() == "0"
    assert not Path(lines[0]).exists()          # removed after the exit


def test_long_lines_are_split_like_docker(runner):
    exited, lines = run(runner, [PY, "-c", f"print('x' * {MAX_LINE + 10})"])
    assert exited.exit_code == 0
    assert [len(line) for line in lines] == [MAX_LINE, 10]


def test_empty_command_cannot_start(runner):
    job = job_id()
    runner.start(spec(job, []))
    exited = runner.events.exited(job)
    assert exited.exit_code is None
    assert exited.reason == "CannotStartContainerError: the process runner needs a command"
    assert exited.status_reason == "Task failed to start"
    assert runner.events.kinds(job) == [EXITED]


def test_missing_executable_cannot_start(runner):
    job = job_id()
    runner.start(spec(job, ["/no/such/binary"]))
    exited = runner.events.exited(job)
    assert exited.exit_code is None
    assert exited.reason.startswith("CannotStartContainerError: ") and "/no/such/binary" in exited.reason
    assert runner.events.kinds(job) == [EXITED]


def test_lines_arrive_live_before_the_exit(runner):
    job = job_id()
    runner.start(spec(job, ["sh", "-c", "echo first; exec sleep 30"]))
    runner.events.wait_for(lambda e: e.job_id == job and e.kind == LOG and e.lines[0][1] == "first")
    assert EXITED not in runner.events.kinds(job)
    runner.stop(job, 1, 0)
    assert runner.events.exited(job).exit_code == 137
    assert runner.events.lines(job) == ["first"]


def test_stop_sigterm_then_sigkill_after_grace(runner):
    job = job_id()
    ignore_term = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                   "print('ready', flush=True); time.sleep(30)")
    runner.start(spec(job, [PY, "-c", ignore_term]))
    runner.events.wait_for(lambda e: e.job_id == job and e.kind == LOG)     # SIGTERM is ignored now
    began = time.monotonic()
    runner.stop(job, 1, 1)
    exited = runner.events.exited(job)
    took = time.monotonic() - began
    assert exited.exit_code == 137
    assert 0.9 <= took < 5


def test_stop_a_job_that_handles_sigterm(runner):
    job = job_id()
    runner.start(spec(job, ["sh", "-c", "trap 'echo got TERM; exit 143' TERM; echo ready; "
                                        "while :; do sleep 0.1; done"]))
    runner.events.wait_for(lambda e: e.job_id == job and e.kind == LOG)
    runner.stop(job, 1, 30)
    exited = runner.events.exited(job, timeout=10)      # well inside the grace period
    assert exited.exit_code == 143
    assert runner.events.lines(job)[-1] == "got TERM"


def test_stop_before_start(tmp_path):
    r = ProcessRunner(tmp_path / "state")
    events = EventLog()
    release = threading.Event()
    first, second = job_id(), job_id()

    def listener(event):
        events(event)
        if event.job_id == first and event.kind == RUNNING:
            release.wait(10)            # hold the I/O thread while `second` is queued

    r.set_listener(listener)
    try:
        r.start(spec(first, ["true"]))
        events.running(first)
        r.start(spec(second, ["true"]))
        r.stop(second, 1, 10)
        release.set()
        exited = events.exited(second)
        assert (exited.exit_code, exited.reason) == (None, "stopped before start")
        assert events.kinds(second) == [EXITED]
        assert events.exited(first).exit_code == 0
    finally:
        release.set()
        r.close()


def test_leftover_children_die_with_the_main_process(runner):
    # Like a container: once the main process exits, the rest of its group goes too, and the
    # attempt ends at once instead of waiting for the background child holding the pipes.
    began = time.monotonic()
    exited, lines = run(runner, ["sh", "-c", "sleep 30 & echo $!"])
    assert exited.exit_code == 0
    assert time.monotonic() - began < 5
    assert wait_gone(int(lines[0]))


def test_many_short_jobs_at_once(runner):
    jobs = [job_id() for _ in range(20)]
    for job in jobs:
        runner.start(spec(job, ["sh", "-c", "echo $JOB"], environment={"JOB": job}))
    for job in jobs:
        assert runner.events.exited(job).exit_code == 0
        assert runner.events.lines(job) == [job]


def test_reattach_kills_what_a_dead_server_left_running(tmp_path):
    state = tmp_path / "state"
    old = ProcessRunner(state)          # "the old server": it dies without close()
    old.set_listener(old_events := EventLog())
    job = job_id()
    old.start(spec(job, ["sh", "-c", "echo $$; exec sleep 30"], attempt=2))
    pid = int(old_events.wait_for(lambda e: e.kind == LOG).lines[0][1])
    records = list(state.glob("*.json"))
    assert len(records) == 1
    assert json.loads(records[0].read_text())["pid"] == pid

    # A record whose process start time does not match (the pid was reused): left alone.
    bystander = subprocess.Popen(["sleep", "30"], start_new_session=True)
    (state / "reused.1.json").write_text(json.dumps(
        {"job_id": "reused", "attempt": 1, "pid": bystander.pid,
         "start_time": process_start_time(bystander.pid) - 1}))
    try:
        new = ProcessRunner(state)
        new.set_listener(EventLog())
        try:
            # Both had a process (a record), so neither is started again: their outcome is lost.
            found = new.reattach({job: 2, "reused": 1, "never-started": 1})
            assert sorted(found, key=lambda s: s.job_id) == sorted(
                [Survivor(job, 2, running=False, lost=True), Survivor("reused", 1, running=False, lost=True)],
                key=lambda s: s.job_id)
        finally:
            new.close()
        assert wait_gone(pid)
        assert list(state.glob("*.json")) == []
        assert bystander.poll() is None
        assert old_events.exited(job, 2).exit_code == 137
    finally:
        bystander.kill()
        bystander.wait()
        old.close()


def test_close_kills_running_processes(tmp_path):
    r = ProcessRunner(tmp_path / "state")
    r.set_listener(events := EventLog())
    job = job_id()
    r.start(spec(job, ["sh", "-c", "echo $$; exec sleep 30"]))
    pid = int(events.wait_for(lambda e: e.kind == LOG).lines[0][1])
    r.close()
    assert wait_gone(pid)
    assert list((tmp_path / "state").glob("*.json")) == []


def test_without_a_state_dir(tmp_path):
    r = ProcessRunner()
    r.set_listener(events := EventLog())
    try:
        job = job_id()
        r.start(spec(job, ["true"]))
        assert events.exited(job).exit_code == 0
        assert r.reattach({job: 1}) == [] and r.gpus() == 0
    finally:
        r.close()


def test_without_pidfd_the_exit_follows_the_pipes(tmp_path, monkeypatch):
    # Kernels before 5.3 (and non-Linux systems) have no pidfd: both pipes at EOF mark the exit.
    monkeypatch.setattr("batchemu.runners.process._pidfd", lambda pid: None)
    r = ProcessRunner(tmp_path / "state")
    r.set_listener(events := EventLog())
    try:
        quick, stopped = job_id(), job_id()
        r.start(spec(quick, ["sh", "-c", "echo out; echo err >&2; exit 4"]))
        assert events.exited(quick).exit_code == 4
        assert events.lines(quick) in (["out", "err"], ["err", "out"])
        r.start(spec(stopped, ["sh", "-c", "echo ready; exec sleep 30"]))
        events.wait_for(lambda e: e.job_id == stopped and e.kind == LOG)
        r.stop(stopped, 1, 5)
        assert events.exited(stopped).exit_code == 143
    finally:
        r.close()
