"""engine.progress.decide: the SUBMITTED/PENDING moves as a pure function of a snapshot (no
store, no runner): dependencies (ref §8), arrays (ref §7), a deleted queue's jobs (ref §4.4)."""

from __future__ import annotations

from batchemu.engine import progress
from batchemu.engine.progress import Fail, Move, Snapshot, Spawn, Terminate, decide
from batchemu.vocabulary.reasons import ARRAY_CHILD_FAILED, DEPENDENCY_FAILED, QUEUE_DELETED

QUEUE = "arn:aws:batch:us-east-1:123456789012:job-queue/q"
NOW = 1_700_000_000_000


def job(job_id, status="SUBMITTED", depends=(), queue=QUEUE, **extra):
    return {"jobId": job_id, "jobArn": f"arn:aws:batch:us-east-1:123456789012:job/{job_id}",
            "status": status, "jobQueue": queue, "createdAt": NOW - 10,
            "dependsOn": [{"jobId": d} if isinstance(d, str) else d for d in depends], **extra}


def array(job_id, size, status="SUBMITTED", depends=(), **extra):
    return job(job_id, status, depends, arrayProperties={"size": size}, **extra)


def plan(*jobs, statuses=None, counts=None, live=(QUEUE,)):
    return decide(Snapshot(list(jobs), frozenset(live), statuses or {}, counts or {}, NOW))


def test_a_job_with_no_dependencies_becomes_runnable():
    assert plan(job("a")) == [Move(job("a"), "RUNNABLE")]


def test_a_job_waits_in_pending_until_its_dependency_succeeds():
    waiting = job("b", depends=["a"])
    assert plan(waiting, statuses={"a": "RUNNING"}) == [Move(waiting, "PENDING")]
    pending = job("b", "PENDING", depends=["a"])
    assert plan(pending, statuses={"a": "RUNNING"}) == []
    assert plan(pending, statuses={"a": "SUCCEEDED"}) == [Move(pending, "RUNNABLE")]


def test_a_failed_or_vanished_dependency_fails_the_job():
    pending = job("b", "PENDING", depends=["a", "c"])
    failed = Move(pending, "FAILED", {"statusReason": DEPENDENCY_FAILED})
    assert plan(pending, statuses={"a": "SUCCEEDED", "c": "FAILED"}) == [failed]
    assert plan(pending, statuses={"a": "SUCCEEDED"}) == [failed]  # c is gone


def test_the_status_a_dependency_has_in_the_snapshot_is_the_one_used():
    first, second = job("a"), job("b", depends=["a"])
    # a is SUBMITTED in this snapshot: b waits, even though a becomes RUNNABLE in the same plan
    assert plan(first, second, statuses={"a": "SUBMITTED"}) == [Move(first, "RUNNABLE"), Move(second, "PENDING")]


def test_an_array_parent_spawns_pending_children():
    parent = array("p", 3, depends=[{"jobId": "x"}, {"jobId": "other", "type": "N_TO_N"},
                                    {"type": "SEQUENTIAL"}])
    [spawn] = plan(parent)
    assert isinstance(spawn, Spawn) and spawn.parent is parent
    ids = [c["jobId"] for c in spawn.children]
    assert ids == ["p:0", "p:1", "p:2"]
    assert all(c["status"] == "PENDING" and c["_parent"] == "p" and c["tags"] is None for c in spawn.children)
    assert [c["arrayProperties"] for c in spawn.children] == [{"index": i} for i in range(3)]
    assert spawn.children[0]["dependsOn"] == [{"jobId": "x"}, {"jobId": "other:0", "type": "N_TO_N"}]
    assert spawn.children[2]["dependsOn"][-1] == {"jobId": "p:1", "type": "SEQUENTIAL"}


def test_an_array_parent_ends_with_its_children():
    parent = array("p", 3, "PENDING")
    assert plan(parent, counts={"p": {"SUCCEEDED": 2, "RUNNING": 1}}) == []
    assert plan(parent, counts={"p": {"SUCCEEDED": 3}}) == [Move(parent, "SUCCEEDED", {"_summaryAt": NOW})]
    assert plan(parent, counts={"p": {"SUCCEEDED": 2, "FAILED": 1}}) == [
        Move(parent, "FAILED", {"statusReason": ARRAY_CHILD_FAILED, "_summaryAt": NOW})]


def test_a_cancelled_array_parent_ends_with_the_cancel_reason():
    parent = array("p", 2, "PENDING", _cancel={"reason": "stop it", "flag": "isCancelled"})
    assert plan(parent, counts={"p": {"FAILED": 2}}) == [
        Move(parent, "FAILED", {"statusReason": "stop it", "_summaryAt": NOW, "isCancelled": True})]


def test_jobs_of_a_deleted_queue_fail_or_are_stopped():
    runnable, running, parent = job("r", "RUNNABLE"), job("s", "RUNNING"), array("p", 2)
    pending_parent = array("q", 2, "PENDING")
    assert plan(runnable, running, parent, pending_parent, live=()) == [
        Fail(runnable, QUEUE_DELETED), Terminate(running, QUEUE_DELETED),
        Move(parent, "FAILED", {"statusReason": QUEUE_DELETED}), Terminate(pending_parent, QUEUE_DELETED)]


def test_running_jobs_of_a_live_queue_are_left_to_the_attempt_lifecycle():
    assert plan(job("s", "RUNNING"), job("t", "STARTING")) == []


def test_one_malformed_job_does_not_stop_the_others():
    broken = {"jobId": "bad", "status": "SUBMITTED", "jobQueue": QUEUE, "dependsOn": "not a list"}
    assert plan(broken, job("a")) == [Move(job("a"), "RUNNABLE")]


def test_what_the_caller_must_read_first():
    jobs = [job("b", depends=["a"]), job("c", "PENDING", depends=["b", "z"]), job("d", "RUNNING", depends=["y"]),
            array("p", 2, "PENDING"), array("n", 2)]
    assert progress.wanted_statuses(jobs) == {"a", "b", "z"}
    assert progress.counted_parents(jobs) == ["p"]
