"""GetJobQueueSnapshot against the scheduler it describes (ref §13.5), with a manual clock and
a scripted runner: the front of the queue is the order the scheduler really dispatches in."""

import pytest

from tests.engine.harness import Harness


@pytest.fixture()
def h():
    h = Harness()
    return h


def snapshot(h, queue="q"):
    return h.call("GetJobQueueSnapshot", jobQueue=queue)


def front(h, queue="q"):
    return [j["jobArn"].rsplit("/", 1)[1] for j in snapshot(h, queue)["frontOfQueue"]["jobs"]]


def since(h, queue="q"):
    return {j["jobArn"].rsplit("/", 1)[1]: j["earliestTimeAtPosition"]
            for j in snapshot(h, queue)["frontOfQueue"]["jobs"]}


def fair_share_queue(h, max_vcpus, shares, state="ENABLED"):
    h.compute_environment(max_vcpus=max_vcpus, state=state)
    arn = h.call("CreateSchedulingPolicy", name="fs", fairsharePolicy={"shareDistribution": shares})["arn"]
    h.queue(schedulingPolicyArn=arn)
    h.definition()


def set_ce_state(h, state):
    h.call("UpdateComputeEnvironment", computeEnvironment="ce", state=state)


def test_fair_share_front_is_the_order_the_scheduler_then_dispatches_in(h):
    fair_share_queue(h, 16, [{"shareIdentifier": "a", "weightFactor": 1.0},
                             {"shareIdentifier": "b", "weightFactor": 0.25}], state="DISABLED")
    jobs = []
    for i in range(4):
        for share in "ab":
            jobs.append(h.submit(name=f"{share}{i}", shareIdentifier=share))
            h.advance(1)
    jobs.append(h.submit(name="urgent", shareIdentifier="a", schedulingPriorityOverride=50))
    h.tick()
    predicted = front(h)
    a0, b0, a1, b1, a2, b2, a3, b3, urgent = jobs
    # Both shares idle: the older head (b0) first; then a (usage 0 < 0.25) with its highest
    # priority job; b's weight 0.25 makes each of its vCPUs count a quarter: b1, b2, b3 next.
    assert predicted == [b0, urgent, b1, b2, b3, a0, a1, a2, a3]
    set_ce_state(h, "ENABLED")
    h.tick()
    assert [s.job_id for s in h.runner.started] == predicted
    assert front(h) == []


def test_fair_share_front_counts_what_each_share_already_runs(h):
    fair_share_queue(h, 2, [{"shareIdentifier": "a"}, {"shareIdentifier": "b"}])
    running = [h.submit(name=f"a-run{i}", shareIdentifier="a") for i in range(2)]
    h.tick()
    h.advance(1)
    later_a = h.submit(name="a-late", shareIdentifier="a")
    h.advance(1)
    later_b = h.submit(name="b-late", shareIdentifier="b")
    h.tick()
    assert front(h) == [later_b, later_a]             # a holds 2 vCPUs, b none: b goes first
    util = snapshot(h)["queueUtilization"]
    assert util["totalCapacityUsage"] == [{"capacityUnit": "VCPU", "quantity": 2.0}]
    assert util["fairshareUtilization"] == {"activeShareCount": 1, "topCapacityUtilization": [
        {"shareIdentifier": "a", "capacityUsage": [{"capacityUnit": "VCPU", "quantity": 2.0}]}]}
    h.run_to_end(running[0])
    assert [s.job_id for s in h.runner.started][-1] == later_b


def test_fifo_front_and_earliest_time_at_position(h):
    h.setup(max_vcpus=1)
    t0 = h.now
    first = h.submit(name="first")
    h.tick()                                          # first starts at once
    h.advance(10)
    second = h.submit(name="second")
    h.advance(10)
    third = h.submit(name="third")
    h.tick()
    assert front(h) == [second, third]
    assert since(h) == {second: t0 + 10_000, third: t0 + 20_000}
    h.advance(30)
    h.run_to_end(first)                               # second is dispatched: third moves up now
    assert front(h) == [third] and since(h) == {third: t0 + 50_000}
    h.advance(5)
    fourth = h.submit(name="fourth")
    h.tick()
    assert since(h) == {third: t0 + 50_000, fourth: t0 + 55_000}
    h.advance(5)
    h.call("CancelJob", jobId=third, reason="not needed")
    h.tick()
    assert since(h) == {fourth: t0 + 60_000}          # a job ahead left without starting


def test_a_retried_job_goes_back_to_its_place_by_age(h):
    h.setup(max_vcpus=1)
    t0 = h.now
    flaky = h.submit(name="flaky", retryStrategy={"attempts": 2})
    h.tick()
    h.advance(10)
    waiting = h.submit(name="waiting")
    h.tick()
    h.advance(10)
    h.runner.run(flaky)
    h.tick()
    set_ce_state(h, "DISABLED")                       # nothing starts: the queue order is visible
    h.runner.exit(flaky, 1)
    h.tick()
    assert h.status(flaky) == "RUNNABLE"
    assert front(h) == [flaky, waiting]               # older, so ahead again
    assert since(h) == {flaky: t0 + 20_000, waiting: t0 + 20_000}


def test_snapshot_lists_at_most_100_and_utilization_of_an_idle_queue(h):
    h.setup(max_vcpus=1)
    ids = [h.submit(name=f"j{i}") for i in range(3)]
    h.call("UpdateJobQueue", jobQueue="q", state="DISABLED")
    for i in range(100):
        h.jobs.insert({**h.jobs.get(ids[-1]), "jobId": f"bulk-{i:03d}", "jobArn": f"arn:x:job/bulk-{i:03d}",
                       "status": "RUNNABLE", "createdAt": h.now + 1 + i})
    h.tick()
    out = snapshot(h)
    assert len(out["frontOfQueue"]["jobs"]) == 100
    assert [j["jobArn"].rsplit("/", 1)[1] for j in out["frontOfQueue"]["jobs"][:3]] == ids
    assert out["frontOfQueue"]["lastUpdatedAt"] == h.now
    assert out["queueUtilization"]["totalCapacityUsage"] == [{"capacityUnit": "VCPU", "quantity": 0.0}]
    assert "fairshareUtilization" not in out["queueUtilization"]
