"""The scheduler with a backlog of RUNNABLE jobs: a tick skips decoding RUNNABLE jobs that only
wait for capacity, yet still fails those whose queue was deleted (ref §4.4) and still starts
them when capacity frees up. Manual clock, scripted runner, no threads."""

from batchemu.vocabulary.reasons import QUEUE_DELETED
from tests.engine.harness import Harness


def delete_queue(h, name="q"):
    h.call("UpdateJobQueue", jobQueue=name, state="DISABLED")
    h.call("DeleteJobQueue", jobQueue=name)


def test_runnable_jobs_of_a_deleted_queue_fail_without_a_runner():
    h = Harness(runner=False)
    h.setup()
    h.queue("other")
    waiting = [h.submit(f"j{i}") for i in range(3)]
    kept = h.submit("k", queue="other")
    h.tick()
    assert {h.status(j) for j in waiting + [kept]} == {"RUNNABLE"}
    delete_queue(h)
    h.tick()
    for job_id in waiting:
        job = h.job(job_id)
        assert (job["status"], job["statusReason"]) == ("FAILED", QUEUE_DELETED)
    assert h.status(kept) == "RUNNABLE"


def test_runnable_jobs_of_a_deleted_queue_fail_with_a_runner():
    h = Harness()
    h.setup(max_vcpus=1)
    running = h.submit("first")
    queued = h.submit("second")
    h.tick()
    assert (h.status(running), h.status(queued)) == ("STARTING", "RUNNABLE")
    delete_queue(h)
    h.tick()
    assert h.job(queued)["statusReason"] == QUEUE_DELETED
    assert h.status(queued) == "FAILED"


def test_backlog_still_starts_in_order_as_capacity_frees():
    h = Harness()
    h.setup(max_vcpus=1)
    ids = [h.submit(f"j{i}") for i in range(4)]
    h.tick()
    assert [h.status(j) for j in ids] == ["STARTING", "RUNNABLE", "RUNNABLE", "RUNNABLE"]
    for k in range(3):
        h.run_to_end(ids[k])
        assert h.status(ids[k]) == "SUCCEEDED"
        assert h.status(ids[k + 1]) == "STARTING"


def test_pending_job_waits_on_a_runnable_dependency_and_is_released():
    h = Harness()
    h.setup(max_vcpus=1)
    blocker = h.submit("blocker")
    parent = h.submit("parent")
    child = h.submit("child", dependsOn=[{"jobId": parent}])
    h.tick()
    assert (h.status(parent), h.status(child)) == ("RUNNABLE", "PENDING")
    h.run_to_end(blocker)
    h.run_to_end(parent)
    assert h.status(parent) == "SUCCEEDED"
    assert h.status(child) in ("RUNNABLE", "STARTING")


def test_a_tick_does_not_decode_the_runnable_backlog_without_a_runner(monkeypatch):
    h = Harness(runner=False)
    h.setup()
    for i in range(20):
        h.submit(f"j{i}")
    h.tick()
    decoded = []
    real = h.scheduler.jobs.active

    def counting(*args, **kwargs):
        out = real(*args, **kwargs)
        decoded.extend(out)
        return out

    monkeypatch.setattr(h.scheduler.jobs, "active", counting)
    new = h.submit("new")
    h.tick()
    assert h.status(new) == "RUNNABLE"
    assert [j["jobId"] for j in decoded if j["status"] == "RUNNABLE"] == []


def test_a_tick_does_not_search_the_backlog_again_when_no_queue_changed(monkeypatch):
    h = Harness(runner=False)
    h.setup()
    for i in range(5):
        h.submit(f"j{i}")
    h.tick()
    searches = []
    real = h.scheduler.jobs.in_status_outside
    monkeypatch.setattr(h.scheduler.jobs, "in_status_outside",
                        lambda *a: searches.append(a) or real(*a))
    h.submit("new")
    h.tick()
    assert searches == []
    h.queue("another")
    h.tick()
    assert len(searches) == 1
