"""DockerRunner against the real Docker engine and the tiny busybox test image (no mocks).
Skips when no engine answers, unless BATCHEMU_REQUIRE_DOCKER=1 (CI), where it fails."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest

from batchemu.runners.base import EXITED, LOG, RUNNING, LaunchSpec, Mount, OutputMark
from batchemu.runners.docker import (LABEL_JOB, LABEL_SERVER, OOM_REASON, DockerRunner,
                                     create_kwargs, parse_docker_time)
from batchemu.runners.docker_output import in_time_order, parse_lines_ns
from tests import docker_support
from tests.runners.events import EventLog

pytestmark = pytest.mark.docker

IMAGE = docker_support.IMAGE


@pytest.fixture(scope="module")
def client():
    client = docker_support.docker_client()
    yield client
    client.close()


@pytest.fixture(scope="module")
def server_id(client):
    """A server id of its own for this module; afterwards none of its containers may remain."""
    sid = "test-" + secrets.token_hex(4)
    yield sid
    left = client.containers.list(all=True, filters={"label": f"{LABEL_SERVER}={sid}"})
    for container in left:
        container.remove(force=True)
    assert not left, f"containers left behind: {[c.name for c in left]}"


@pytest.fixture()
def runner(server_id):
    r = DockerRunner(server_id)
    r.events = EventLog()
    r.set_listener(r.events)
    yield r
    r.close()


def job_id() -> str:
    return "job-" + secrets.token_hex(6)


def spec(job: str, command, attempt: int = 1, **kw) -> LaunchSpec:
    kw.setdefault("image", IMAGE)
    kw.setdefault("environment", {})
    return LaunchSpec(job_id=job, attempt=attempt, name="test job", command=list(command), **kw)


def run(runner, command, **kw):
    """Start one attempt and wait for its exit; returns (EXITED event, output lines)."""
    job = job_id()
    runner.start(spec(job, command, **kw))
    exited = runner.events.exited(job)
    return exited, runner.events.lines(job)


def container_of(client, server_id: str, job: str):
    found = client.containers.list(all=True, filters={"label": [f"{LABEL_SERVER}={server_id}",
                                                                f"{LABEL_JOB}={job}"]})
    assert len(found) == 1, found
    return found[0]


def assert_kinds(kinds: list) -> None:
    """RUNNING, output as it was read (one LOG event or more), EXITED."""
    assert kinds[0] == RUNNING and kinds[-1] == EXITED and kinds[1:-1] and set(kinds[1:-1]) == {LOG}, kinds


# ---- parsing (no engine needed, but cheap enough to keep here) -------------------------------

def test_parse_docker_time():
    assert parse_docker_time("1970-01-01T00:00:01.234567891Z") == 1234
    assert parse_docker_time("1970-01-01T00:00:02Z") == 2000
    assert parse_docker_time("0001-01-01T00:00:00Z") is None


def parse_log_output(raw: bytes) -> list:
    """`docker logs --timestamps` output as a Logs reader sees it: [(epoch_ms, text)] by time."""
    return in_time_order(parse_lines_ns(raw))


def test_parse_log_output_sorts_streams_by_time():
    raw = (b"1970-01-01T00:00:01.5Z second\n"
           b"1970-01-01T00:00:01.1Z first\n"
           b"1970-01-01T00:00:02Z no newline at the end")
    assert parse_log_output(raw) == [(1100, "first"), (1500, "second"), (2000, "no newline at the end")]


# ---- exits and output ------------------------------------------------------------------

def test_exit_zero_with_stdout_and_stderr_in_order(runner):
    job = job_id()
    runner.start(spec(job, ["sh", "-c", "echo one; sleep 0.05; echo two >&2; sleep 0.05; echo three"]))
    exited = runner.events.exited(job)
    assert (exited.exit_code, exited.reason, exited.oom) == (0, None, False)
    assert_kinds(runner.events.kinds(job))
    assert runner.events.lines(job) == ["one", "two", "three"]
    stamps = [ms for e in runner.events.of(job) if e.kind == LOG for ms, _ in e.lines]
    running = runner.events.of(job)[0]
    assert stamps == sorted(stamps)
    # Docker stamps output as its copier reads it: the first line can read a ms before StartedAt
    assert running.at_ms - 50 <= stamps[0] <= stamps[-1] <= exited.at_ms + 50
    assert abs(running.at_ms - time.time() * 1000) < 60_000


def test_nonzero_exit_code(runner):
    exited, lines = run(runner, ["sh", "-c", "echo bye; exit 3"])
    assert exited.exit_code == 3 and exited.reason is None and exited.status_reason is None
    assert lines == ["bye"]


def test_environment_and_command_reach_the_container(runner):
    exited, lines = run(runner, ["sh", "-c", 'echo "$GREETING"; echo "$AWS_BATCH_JOB_ATTEMPT"; echo "$@"',
                                 "sh", "two  spaces", "$HOME"],
                        environment={"GREETING": "hello world", "AWS_BATCH_JOB_ATTEMPT": "1"})
    assert exited.exit_code == 0
    # argv reaches the process as given: no shell splitting or expansion on the way
    assert lines == ["hello world", "1", "two  spaces $HOME"]


def test_empty_command_runs_the_image_default(runner):
    exited, _ = run(runner, [])        # the test image's CMD is ["sh"]: no stdin, exits at once
    assert exited.exit_code == 0


def test_memory_limit_oom_kill(runner):
    # `tail` buffers the one endless line of /dev/zero; as PID 1 and the only process it is
    # what the OOM killer picks, so the exit code is deterministic too.
    exited, _ = run(runner, ["tail", "/dev/zero"], memory_mib=16)
    assert (exited.oom, exited.exit_code, exited.reason) == (True, 137, OOM_REASON)


def test_host_config_from_spec(runner, client, server_id):
    job = job_id()
    runner.start(spec(job, ["sleep", "30"], vcpus=0.5, memory_mib=64,
                      shared_memory_mib=96, init_process=True, labels={"team": "x"}))
    runner.events.running(job)
    container = container_of(client, server_id, job)
    host = container.attrs["HostConfig"]
    assert host["NanoCpus"] == 500_000_000
    assert host["Memory"] == host["MemorySwap"] == 64 * 1024 * 1024
    assert host["Privileged"] is False
    assert host["ShmSize"] == 96 * 1024 * 1024
    assert host["Init"] is True
    assert host["AutoRemove"] is False
    assert host["NetworkMode"] == "host"
    assert host["LogConfig"]["Type"] == "json-file"
    labels = container.labels
    assert labels["batchemu.attempt"] == "1" and labels["team"] == "x"
    assert container.name.startswith("test-job-1-")
    runner.stop(job, 1, 0)
    assert runner.events.exited(job).exit_code == 137


def test_privileged_flag_reaches_docker(client, server_id):
    # Created, not started: a privileged container cannot start inside this sandbox (runc:
    # "unable to apply caps"), which the runner would report as CannotStartContainerError.
    kwargs = create_kwargs(spec(job_id(), ["true"], privileged=True), server_id, "none")
    container = client.containers.create(**kwargs)
    try:
        assert container.attrs["HostConfig"]["Privileged"] is True
    finally:
        container.remove(force=True)


def test_user_nobody(runner):
    exited, lines = run(runner, ["id", "-u"], user="nobody")
    assert (exited.exit_code, lines) == (0, ["65534"])


def test_readonly_root_with_a_writable_tmpfs(runner):
    exited, lines = run(runner, ["sh", "-c", "touch /x 2>&1 || echo denied; touch /scratch/y && echo scratch ok; "
                                 "grep ' /scratch ' /proc/mounts"],
                        readonly_root=True,
                        tmpfs=({"containerPath": "/scratch", "size": 8, "mountOptions": ["noexec"]},))
    assert exited.exit_code == 0
    assert lines[0].endswith("Read-only file system") and lines[1:3] == ["denied", "scratch ok"]
    mount = lines[3].split()
    assert mount[:3] == ["tmpfs", "/scratch", "tmpfs"]
    assert "noexec" in mount[3] and "size=8192k" in mount[3]


def test_ulimits(runner):
    exited, lines = run(runner, ["sh", "-c", "ulimit -n; ulimit -Hn"],
                        ulimits=({"name": "nofile", "softLimit": 1024, "hardLimit": 2048},))
    assert (exited.exit_code, lines) == (0, ["1024", "2048"])


def test_shared_memory_size(runner):
    exited, lines = run(runner, ["sh", "-c", "df -k /dev/shm | tail -n 1"], shared_memory_mib=96)
    assert exited.exit_code == 0
    assert lines[0].split()[1] == str(96 * 1024)


def test_host_bind_mounts(runner, tmp_path: Path):
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    (rw / "in.txt").write_text("from the host\n")
    exited, lines = run(runner, ["sh", "-c", "cat /data/in.txt; echo from the job > /data/out.txt; "
                                 "touch /readonly/x 2>/dev/null || echo ro denied"],
                        mounts=(Mount(str(rw), "/data"), Mount(str(ro), "/readonly", read_only=True)))
    assert exited.exit_code == 0
    assert lines == ["from the host", "ro denied"]
    assert (rw / "out.txt").read_text() == "from the job\n"
    assert not (ro / "x").exists()


def test_network_none_and_user_defined(runner, client):
    _, lines = run(runner, ["cat", "/proc/net/dev"], network="none")
    assert [line.split(":")[0].strip() for line in lines[2:]] == ["lo"]
    net = client.networks.create("batchemu-test-" + secrets.token_hex(4))
    try:
        exited, lines = run(runner, ["cat", "/proc/net/dev"], network=net.name)
        assert exited.exit_code == 0
        assert "eth0" in [line.split(":")[0].strip() for line in lines[2:]]
    finally:
        net.remove()


def test_gpus_none_here(runner):
    expected = 0 if not list(Path("/dev").glob("nvidia[0-9]*")) else runner.gpus()
    assert runner.gpus() == expected


# ---- failing to start ------------------------------------------------------------------

def test_pull_policy_never_with_a_missing_image(runner):
    job = job_id()
    runner.start(spec(job, ["true"], image="batchemu-test/absent:latest", pull_policy="never"))
    exited = runner.events.exited(job)
    assert exited.exit_code is None
    assert exited.reason.startswith("CannotPullContainerError: ")
    assert "No such image: batchemu-test/absent:latest" in exited.reason
    assert exited.status_reason == "Task failed to start"
    assert runner.events.kinds(job) == [EXITED]


def test_pull_of_an_unreachable_image(runner):
    job = job_id()
    runner.start(spec(job, ["true"], image="batchemu-test/absent-" + secrets.token_hex(3)))
    exited = runner.events.exited(job, timeout=60)
    assert exited.exit_code is None
    assert exited.reason.startswith("CannotPullContainerError: Error response from daemon: ")
    assert exited.status_reason == "Task failed to start"
    assert runner.events.kinds(job) == [EXITED]


def test_command_not_found_cannot_start(runner):
    job = job_id()
    runner.start(spec(job, ["/no/such/binary"]))
    exited = runner.events.exited(job)
    assert exited.exit_code is None
    assert exited.reason.startswith("CannotStartContainerError: ")
    assert "/no/such/binary" in exited.reason
    assert exited.status_reason == "Task failed to start"
    assert runner.events.kinds(job) == [EXITED]


# ---- stop -------------------------------------------------------------------------------

def test_stop_sends_sigterm_then_sigkill_after_grace(runner):
    job = job_id()
    runner.start(spec(job, ["sleep", "30"]))   # PID 1 ignores SIGTERM: only SIGKILL ends it
    runner.events.running(job)
    began = time.monotonic()
    runner.stop(job, 1, 1)
    exited = runner.events.exited(job)
    took = time.monotonic() - began
    assert exited.exit_code in (137, 143)
    assert 0.9 <= took < 5


def test_stop_a_job_that_handles_sigterm(runner):
    job = job_id()
    runner.start(spec(job, ["sh", "-c", "trap 'echo got TERM; exit 143' TERM; echo ready; "
                                        "while :; do sleep 0.1; done"]))
    runner.events.running(job)
    runner.stop(job, 1, 30)
    exited = runner.events.exited(job, timeout=10)   # well inside the 30 s grace period
    assert exited.exit_code == 143
    assert runner.events.lines(job)[-1] == "got TERM"


def test_stop_before_start(server_id):
    # One launch worker, busy with `first`: `second` is still queued when stop() arrives.
    r = DockerRunner(server_id, launch_workers=1)
    r.set_listener(events := EventLog())
    try:
        first, second = job_id(), job_id()
        r.start(spec(first, ["true"]))
        r.start(spec(second, ["true"]))
        r.stop(second, 1, 10)
        exited = events.exited(second)
        assert (exited.exit_code, exited.reason) == (None, "stopped before start")
        assert events.kinds(second) == [EXITED]
        assert events.exited(first).exit_code == 0
    finally:
        r.close()


# ---- live logs and the event stream -----------------------------------------------------

def test_output_of_a_running_container_is_reported_before_it_ends(runner):
    job = job_id()
    runner.start(spec(job, ["sh", "-c", "echo early; echo also early >&2; exec sleep 30"]))
    runner.events.wait_for(lambda e: e.job_id == job and e.kind == LOG)
    runner.events.wait_for(lambda e: len(runner.events.lines(job)) == 2)
    assert EXITED not in runner.events.kinds(job)
    runner.stop(job, 1, 0)
    assert runner.events.exited(job).exit_code == 137
    assert sorted(runner.events.lines(job)) == ["also early", "early"]      # each once


CHATTY = ("i=0; while [ $i -lt 150 ]; do echo out $i; echo err $i >&2; i=$((i+1)); "
          "[ $((i % 15)) -eq 0 ] && sleep 0.1; done; echo last")


def test_output_reported_live_equals_docker_logs(server_id, client):
    """Read in many small pieces while the container writes (stdout and stderr), the lines
    reported are `docker logs`, each once, in its order."""
    runner = DockerRunner(server_id, output_interval=0.02)
    events, truth = EventLog(), {}

    def listener(event):
        if event.kind == EXITED:  # the container is removed after this returns
            container = container_of(client, server_id, event.job_id)
            truth["lines"] = parse_log_output(client.api.logs(container.id, timestamps=True))
        events(event)
    runner.set_listener(listener)
    try:
        job = job_id()
        runner.start(spec(job, ["sh", "-c", CHATTY]))
        assert events.exited(job, timeout=60).exit_code == 0
        reported = [line for e in events.of(job) if e.kind == LOG for line in e.lines]
        assert len([e for e in events.of(job) if e.kind == LOG]) > 1      # read live, in pieces
        assert len(truth["lines"]) == 301
        # The store orders by timestamp, then arrival: what a reader sees is exactly docker logs.
        assert sorted(reported, key=lambda line: line[0]) == truth["lines"]
    finally:
        runner.close()


def test_reattach_resumes_output_where_the_store_left_off(server_id, client):
    """A restart: the old runner's reports were stored only up to some line (the mark); the new
    runner reports every line after it, none before it, even within the mark's millisecond."""
    first = DockerRunner(server_id, output_interval=0.05)
    first.set_listener(first_events := EventLog())
    job = job_id()
    script = ("i=0; while [ $i -lt 100 ]; do echo line $i; i=$((i+1)); "
              "[ $((i % 5)) -eq 0 ] && sleep 0.05; done")
    first.start(spec(job, ["sh", "-c", script]))
    first_events.wait_for(lambda e: len(first_events.lines(job)) >= 12)
    first.close()                                  # the container keeps running
    reported = [line for e in first_events.of(job) if e.kind == LOG for line in e.lines]
    stored = reported[:7]                          # the rest was lost with the old server
    mark = OutputMark(stored[-1][0], tuple(text for ms, text in stored if ms == stored[-1][0]))
    second = DockerRunner(server_id, output_interval=0.05)
    second.set_listener(events := EventLog())
    try:
        (survivor,) = second.reattach({job: 1}, {job: mark})
        assert survivor.running or survivor.exit_code == 0
        if survivor.running:
            assert events.exited(job, timeout=60).exit_code == 0
        texts = [text for _, text in stored] + events.lines(job)
        assert texts == [f"line {i}" for i in range(100)]
    finally:
        second.close()


def test_exit_reported_after_the_event_stream_breaks(runner):
    job = job_id()
    runner.start(spec(job, ["sleep", "30"]))
    runner.events.running(job)
    runner._events.stream.close()   # as if dockerd dropped the connection
    runner.stop(job, 1, 0)
    assert runner.events.exited(job).exit_code == 137


def test_many_short_jobs_at_once(runner, client, server_id):
    jobs = [job_id() for _ in range(12)]
    for job in jobs:
        runner.start(spec(job, ["sh", "-c", "echo $JOB", ], environment={"JOB": job}))
    for job in jobs:
        assert runner.events.exited(job, timeout=60).exit_code == 0
        assert_kinds(runner.events.kinds(job))
        assert runner.events.lines(job) == [job]


# ---- restart ----------------------------------------------------------------------------

def test_reattach_after_a_restart(client, server_id, tmp_path: Path):
    first = DockerRunner(server_id)
    first.set_listener(first_events := EventLog())
    kept, unwanted, stale, finished = job_id(), job_id(), job_id(), job_id()
    first.start(spec(kept, ["sleep", "30"], attempt=2))
    first.start(spec(unwanted, ["sleep", "30"]))
    first.start(spec(stale, ["sleep", "30"]))        # attempt 1; the store wants attempt 2
    # `finished` waits for a file the test creates once no server is watching any more.
    first.start(spec(finished, ["sh", "-c", "while [ ! -e /sig/go ]; do sleep 0.05; done; echo finished; exit 5"],
                     mounts=(Mount(str(tmp_path), "/sig"),)))
    for job, attempt in ((kept, 2), (unwanted, 1), (stale, 1), (finished, 1)):
        first_events.running(job, attempt)
    foreign = client.containers.create(IMAGE, ["sleep", "30"], network_mode="none",
                                       labels={LABEL_SERVER: server_id + "-other", LABEL_JOB: kept,
                                               "batchemu.attempt": "2"})
    try:
        first.close()                               # "the server stops"; containers keep running
        done = container_of(client, server_id, finished)
        (tmp_path / "go").touch()
        assert done.wait(timeout=30)["StatusCode"] == 5

        second = DockerRunner(server_id)
        second.set_listener(events := EventLog())
        try:
            survivors = second.reattach({kept: 2, stale: 2, finished: 1, "gone-job": 1})
            by_job = {s.job_id: s for s in survivors}
            assert set(by_job) == {kept, finished}
            assert by_job[kept].running is True and by_job[kept].attempt == 2
            # its startedAt is the container's, not the restart's
            assert by_job[kept].started_ms == first_events.running(kept, 2).at_ms
            assert (by_job[finished].running, by_job[finished].exit_code, by_job[finished].oom) == (False, 5, False)
            assert events.lines(finished) == ["finished"]
            # the re-attached container is followed: its exit arrives through the new runner
            second.stop(kept, 2, 0)
            assert events.exited(kept, 2).exit_code == 137
        finally:
            second.close()
        assert client.containers.list(all=True, filters={"label": f"{LABEL_SERVER}={server_id}"}) == []
        foreign.reload()
        assert foreign.status == "created"          # another server's container: untouched
    finally:
        foreign.remove(force=True)


def test_reattach_removes_a_created_container_before_it_answers(client, server_id):
    """A container created but never started (the server died between create and start) ran
    nothing: it is gone when reattach returns, and the attempt is not reported, so the engine
    launches it again without two containers for one attempt."""
    job = job_id()
    created = client.containers.create(IMAGE, ["true"], network_mode="none",
                                       labels={LABEL_SERVER: server_id, LABEL_JOB: job, "batchemu.attempt": "1"})
    runner = DockerRunner(server_id)
    runner.set_listener(EventLog())
    try:
        assert runner.reattach({job: 1}) == []
        assert client.containers.list(all=True, filters={"id": created.id}) == []
    finally:
        runner.close()


def test_deny_host_access_refuses_host_resources_before_any_container(client, server_id, tmp_path: Path):
    """Defence in depth behind the API (a job stored before --deny-host-access was set): no
    container is made; a directory batchemu owns (SageMaker's /opt/ml) is still mounted."""
    runner = DockerRunner(server_id, network="none", deny_host_access=True)
    runner.set_listener(events := EventLog())
    try:
        refused = {
            "privileged": spec(job_id(), ["true"], privileged=True),
            "device /dev/null": spec(job_id(), ["true"], devices=({"hostPath": "/dev/null"},)),
            f"host volume {tmp_path}": spec(job_id(), ["true"], mounts=(Mount(str(tmp_path), "/h"),)),
        }
        for what, s in refused.items():
            runner.start(s)
            exited = events.exited(s.job_id)
            assert exited.exit_code is None and exited.status_reason == "Task failed to start"
            assert exited.reason == (f"CannotStartContainerError: {what}: host access is refused on this server "
                                     "(--deny-host-access)")
            assert container_of_any(client, server_id, s.job_id) == []
        owned = spec(job_id(), ["sh", "-c", "echo ok > /opt/ml/out"], mounts=(Mount(str(tmp_path), "/opt/ml", owned=True),))
        runner.start(owned)
        assert events.exited(owned.job_id, timeout=60).exit_code == 0
        assert (tmp_path / "out").read_text() == "ok\n"
    finally:
        runner.close()


def container_of_any(client, server_id, job):
    return client.containers.list(all=True, filters={"label": [f"{LABEL_SERVER}={server_id}", f"{LABEL_JOB}={job}"]})
