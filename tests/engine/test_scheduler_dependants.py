"""Dependants at scale: the scheduler looks at a PENDING job only when something it waits on
ended (the job_deps table, Scheduler._observe), when its array spawned it, or after a start.
What users see must not change: dependants wait, are released, and fail with their blocker."""

from __future__ import annotations

import pytest

from batchemu.engine import states
from batchemu.engine.scheduler import Scheduler
from batchemu.store import Store
from batchemu.vocabulary.reasons import DEPENDENCY_FAILED
from tests.engine import harness as harness_module
from tests.engine.harness import Harness


def statuses(h, reason=None) -> dict:
    sql = "SELECT status, COUNT(*) AS n FROM jobs"
    args = ()
    if reason is not None:
        sql += " WHERE json_extract(doc, '$.statusReason')=?"
        args = (reason,)
    return {r["status"]: r["n"] for r in h.store.query(sql + " GROUP BY status", args)}


def decoded_statuses(h, monkeypatch) -> list:
    """Statuses of every job document the scheduler reads from now on."""
    seen = []
    for name in ("active", "in_statuses", "pending_woken", "in_status_outside"):
        real = getattr(h.scheduler.jobs, name)

        def counting(*args, _real=real, **kwargs):
            out = _real(*args, **kwargs)
            seen.extend(j["status"] for j in out)
            return out
        monkeypatch.setattr(h.scheduler.jobs, name, counting)
    return seen


def test_ten_thousand_dependants_all_fail_when_the_blocker_is_terminated():
    h = Harness(runner=False)
    h.setup()
    blocker = h.submit("blocker")
    h.tick()
    for i in range(10_000):
        h.submit(f"dep-{i}", dependsOn=[{"jobId": blocker}])
        if i % 1000 == 999:
            h.tick()
    h.tick()
    assert statuses(h) == {"RUNNABLE": 1, "PENDING": 10_000}
    h.call("TerminateJob", jobId=blocker, reason="stop")
    h.tick()
    assert statuses(h, DEPENDENCY_FAILED) == {"FAILED": 10_000}
    assert statuses(h) == {"FAILED": 10_001}


def test_a_submit_does_not_read_pending_dependants_whose_dependency_did_not_change(monkeypatch):
    h = Harness()
    h.setup(max_vcpus=1)
    blocker = h.submit("blocker")
    deps = [h.submit(f"dep-{i}", dependsOn=[{"jobId": blocker}]) for i in range(30)]
    h.tick()
    assert h.status(blocker) == "STARTING"
    seen = decoded_statuses(h, monkeypatch)
    new = h.submit("independent")
    waiter = h.submit("another-dependant", dependsOn=[{"jobId": blocker}])
    other = h.submit("unrelated-waiter", dependsOn=[{"jobId": new}])
    h.tick()
    assert (h.status(new), h.status(waiter), h.status(other)) == ("RUNNABLE", "PENDING", "PENDING")
    assert "PENDING" not in seen
    # When the blocker ends, its dependants (and only they) are read and released.
    seen.clear()
    h.run_to_end(blocker)
    assert h.status(blocker) == "SUCCEEDED"
    assert {h.status(j) for j in deps + [waiter]} <= {"RUNNABLE", "STARTING"}
    assert h.status(other) == "PENDING"
    assert seen.count("PENDING") == len(deps) + 1


def test_a_dependant_is_released_by_a_dependency_that_ended_while_no_scheduler_watched():
    """After a restart the first pass looks at every PENDING job: a dependency that ended
    before the crash, its dependants not yet moved, still releases them."""
    h = Harness(runner=False)
    h.setup()
    blocker = h.submit("blocker")
    dependant = h.submit("dependant", dependsOn=[{"jobId": blocker}])
    h.tick()
    h.store.job_observers.clear()  # the old scheduler is gone
    assert h.jobs.update(dict(h.jobs.get(blocker), status=states.FAILED))
    restarted = Scheduler(h.store, None, h.clock)
    restarted.tick()
    job = h.job(dependant)
    assert (job["status"], job["statusReason"]) == ("FAILED", DEPENDENCY_FAILED)


def test_a_chain_of_dependants_and_sequential_children_run_in_order():
    h = Harness()
    h.setup(max_vcpus=1)
    first = h.submit("first")
    second = h.submit("second", dependsOn=[{"jobId": first}])
    array = h.submit("array", dependsOn=[{"jobId": second}, {"type": "SEQUENTIAL"}], arrayProperties={"size": 3})
    h.tick()
    order = []
    for job in [first, second] + [f"{array}:{i}" for i in range(3)]:
        assert h.status(job) in ("STARTING", "RUNNABLE")
        h.tick()
        h.run_to_end(job)
        order.append(h.status(job))
    assert order == ["SUCCEEDED"] * 5
    assert h.status(array) == "SUCCEEDED"


def test_pending_dependants_of_a_deleted_queue_fail():
    h = Harness(runner=False)
    h.setup()
    h.queue("doomed")
    blocker = h.submit("blocker")
    dependant = h.submit("dependant", queue="doomed", dependsOn=[{"jobId": blocker}])
    h.tick()
    assert h.status(dependant) == "PENDING"
    h.call("UpdateJobQueue", jobQueue="doomed", state="DISABLED")
    h.call("DeleteJobQueue", jobQueue="doomed")
    h.tick()
    assert h.status(dependant) == "FAILED"
    assert h.status(blocker) == "RUNNABLE"


def test_the_migration_records_the_dependencies_of_jobs_that_still_wait(tmp_path, monkeypatch):
    path = str(tmp_path / "db.sqlite3")
    monkeypatch.setattr(harness_module, "Store", lambda: Store(path))
    h = Harness(runner=False)
    h.setup()
    blocker = h.submit("blocker")
    dependant = h.submit("dependant", dependsOn=[{"jobId": blocker}])
    h.tick()
    # The database as version 8 left it: no job_deps table.
    h.store.execute("DROP TABLE job_deps")
    h.store.execute("PRAGMA user_version=8")
    h.store.close()
    monkeypatch.undo()
    monkeypatch.setattr(harness_module, "Store", lambda: Store(path))
    again = Harness(runner=False)
    assert [tuple(r) for r in again.store.query("SELECT dep_id, job_id FROM job_deps")] == [(blocker, dependant)]
    again.tick()  # the first pass after a start
    again.call("TerminateJob", jobId=blocker, reason="stop")
    again.tick()
    assert again.status(dependant) == "FAILED"


@pytest.mark.parametrize("size", [2, 50])
def test_array_children_without_dependencies_become_runnable_after_spawning(size):
    h = Harness(runner=False)
    h.setup()
    parent = h.submit("array", arrayProperties={"size": size})
    h.tick()
    assert {h.status(f"{parent}:{i}") for i in range(size)} == {"RUNNABLE"}
    assert h.status(parent) == "PENDING"


def test_a_chain_longer_than_one_ticks_passes_fails_to_its_end_without_another_event():
    """Each link fails one pass after the one before; when a tick runs out of passes it asks
    to be run again at once (its deadline is now), as the engine does, instead of leaving the
    rest PENDING until something else happens."""
    h = Harness(runner=False)
    h.setup()
    chain = [h.submit("head")]
    for i in range(15):
        chain.append(h.submit(f"link-{i}", dependsOn=[{"jobId": chain[-1]}]))
    h.tick()
    h.call("TerminateJob", jobId=chain[0], reason="stop")
    ticks = 0
    while True:
        ticks += 1
        deadline = h.tick()
        if deadline is None or deadline > h.now:
            break
    assert ticks > 1
    assert [h.status(j) for j in chain] == ["FAILED"] * len(chain)
