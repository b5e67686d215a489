"""Scheduler.reset (the reset routes, through Engine.reset): the runner is told to kill and
remove everything, every table but the server's settings is emptied, and what the runner
reports afterwards about the killed attempts is dropped, not an error. Engine.call runs on the
engine thread between ticks."""

from __future__ import annotations

import threading

import pytest

from batchemu.engine.engine import Engine
from tests.engine.harness import Harness


def test_reset_forgets_every_job_and_resource_and_late_reports():
    h = Harness()
    h.setup()
    running, waiting = h.submit("running"), h.submit("waiting")
    h.tick()
    h.runner.run(running)
    h.tick()
    assert h.status(running) == "RUNNING"
    server_id = h.store.meta("server_id", lambda: "kept")
    workspace = h.scheduler.service_jobs.training.root  # service jobs' /opt/ml directories
    (workspace / "some-service-job" / "1").mkdir(parents=True)

    h.scheduler.reset()

    assert h.runner.resets == 1
    assert h.call("DescribeJobs", jobs=[running, waiting])["jobs"] == []
    assert h.call("DescribeComputeEnvironments")["computeEnvironments"] == []
    assert h.call("DescribeJobDefinitions")["jobDefinitions"] == []
    assert h.store.meta("server_id", lambda: "new") == server_id
    assert workspace.is_dir() and list(workspace.iterdir()) == []
    # The killed container's exit arrives after the reset: nothing to record, nothing raised.
    h.runner.exit(running, 137)
    h.tick()
    assert h.store.query("SELECT COUNT(*) AS n FROM jobs")[0]["n"] == 0
    # And the scheduler goes on: a new job runs.
    h.setup()
    job = h.submit("after")
    h.tick()
    h.run_to_end(job)
    assert h.status(job) == "SUCCEEDED"


def test_engine_call_runs_on_the_engine_thread():
    h = Harness()
    engine = Engine(h.scheduler, h.clock)
    assert engine.call(lambda: threading.current_thread().name) == threading.current_thread().name  # not started: here
    engine.start()
    try:
        assert engine.call(lambda: threading.current_thread().name) == "batchemu-scheduler"
        with pytest.raises(ZeroDivisionError):  # the call's exception reaches the caller
            engine.call(lambda: 1 / 0)
        engine.reset()
        assert h.runner.resets == 1
    finally:
        engine.stop()
