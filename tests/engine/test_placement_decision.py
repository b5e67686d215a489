"""engine.placement.decide: which RUNNABLE jobs start where, from a snapshot alone (no store,
no runner, nothing written): capacity, queue priority, FIFO and fair share, consumable
resources, a fair-share computeReservation, blocked heads and jobStateTimeLimitActions."""

from batchemu.engine import consumables, placement
from batchemu.engine.world import World

NOW = 1_000_000


def ce(name, vcpus=4, order_state="ENABLED"):
    return {"computeEnvironmentArn": f"arn:ce/{name}", "computeEnvironmentName": name, "type": "MANAGED",
            "state": order_state, "status": "VALID", "computeResources": {"maxvCpus": vcpus}}


def queue(name, ces, priority=1, policy=None, limits=None):
    return {"jobQueueArn": f"arn:q/{name}", "jobQueueName": name, "state": "ENABLED", "status": "VALID",
            "priority": priority, "createdAt": 1, "schedulingPolicyArn": policy,
            "computeEnvironmentOrder": [{"order": i, "computeEnvironment": c["computeEnvironmentArn"]}
                                        for i, c in enumerate(ces)],
            "jobStateTimeLimitActions": limits or []}


def job(job_id, q, vcpus=1, status="RUNNABLE", created=None, share=None, on=None, **more):
    doc = {"jobId": job_id, "jobQueue": q["jobQueueArn"], "status": status, "createdAt": created or len(job_id),
           "shareIdentifier": share, "_need": {"vcpus": vcpus, "memory": 512 * vcpus, "gpus": 0}}
    if on:
        doc["_ce"] = on["computeEnvironmentArn"]
    doc.update(more)
    return doc


def decide(world, active, ledger=None, gpus=0, pending_shares=None):
    return placement.decide(placement.Snapshot(world, active, ledger or consumables.ConsumableStock.of({}, {}), gpus,
                                               pending_shares or {}, NOW))


def starts(plan):
    return [(j["jobId"], c["computeEnvironmentName"]) for step, j, c in plan.steps if step == "start"]


def test_jobs_start_while_capacity_lasts_then_the_head_waits():
    c = ce("c", vcpus=4)
    q = queue("q", [c])
    plan = decide(World.of([c], [q]), [job("a", q, 2), job("bb", q, 2), job("ccc", q, 1), job("dddd", q, 1)])
    assert starts(plan) == [("a", "c"), ("bb", "c")]  # ccc waits at the head; dddd waits behind it
    assert not any(step == "block" for step, *_ in plan.steps)


def test_running_jobs_hold_their_capacity():
    c = ce("c", vcpus=4)
    q = queue("q", [c])
    plan = decide(World.of([c], [q]), [job("old", q, 3, status="RUNNING", on=c), job("a", q, 2), job("bb", q, 1)])
    assert starts(plan) == []  # FIFO: a (2 vCPUs) does not fit in 1, and bb may not pass it


def test_compute_environments_are_tried_in_order():
    small, big = ce("small", vcpus=1), ce("big", vcpus=8)
    q = queue("q", [small, big])
    plan = decide(World.of([small, big], [q]), [job("a", q, 1), job("bb", q, 2)])
    assert starts(plan) == [("a", "small"), ("bb", "big")]


def test_a_higher_priority_queue_is_served_first():
    c = ce("c", vcpus=1)
    low, high = queue("low", [c], priority=1), queue("high", [c], priority=10)
    plan = decide(World.of([c], [low, high]), [job("a", low, 1, created=1), job("b", high, 1, created=2)])
    assert starts(plan) == [("b", "c")]


def test_a_job_that_can_never_fit_is_blocked_with_a_reason():
    c = ce("c", vcpus=2)
    q = queue("q", [c])
    plan = decide(World.of([c], [q]), [job("a", q, 4), job("bb", q, 1)])
    assert [(s, j["jobId"]) for s, j, _ in plan.steps] == [("block", "a")]
    assert plan.steps[0][2].startswith("MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE")


def test_a_time_limit_cancels_the_blocked_head_and_the_next_job_starts():
    c = ce("c", vcpus=2)
    q = queue("q", [c], limits=[{"reason": "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
                                 "state": "RUNNABLE", "maxTimeSeconds": 600, "action": "CANCEL"}])
    blocked_long = {"reason": placement.capacity.COMPUTE_MAX, "since": NOW - 600_000}
    plan = decide(World.of([c], [q]), [job("a", q, 4, _blocked=blocked_long), job("bb", q, 1)])
    assert [(s, j["jobId"]) for s, j, _ in plan.steps] == [("block", "a"), ("cancel", "a"), ("start", "bb")]


def test_a_time_limit_not_yet_due_is_a_deadline():
    c = ce("c", vcpus=2)
    q = queue("q", [c], limits=[{"reason": "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
                                 "state": "RUNNABLE", "maxTimeSeconds": 600, "action": "CANCEL"}])
    plan = decide(World.of([c], [q]), [job("a", q, 4)])
    assert plan.deadlines == [NOW + 600_000]
    assert [s for s, *_ in plan.steps] == ["block"]


def test_fair_share_starts_the_share_using_least_first():
    c = ce("c", vcpus=2)
    policy = {"arn": "arn:sp/fs", "fairsharePolicy": {"shareDistribution": []}}
    q = queue("q", [c], policy="arn:sp/fs")
    active = [job("busy", q, 1, status="RUNNING", share="A", on=c),
              job("a1", q, 1, share="A", created=1), job("b1", q, 1, share="B", created=2)]
    plan = decide(World.of([c], [q], [policy]), active)
    assert starts(plan) == [("b1", "c")]  # B holds nothing; A holds 1 of the 2 vCPUs


def test_a_compute_reservation_keeps_room_for_shares_not_active_yet():
    c = ce("c", vcpus=4)
    policy = {"arn": "arn:sp/fs", "fairsharePolicy": {"computeReservation": 50}}
    q = queue("q", [c], policy="arn:sp/fs")
    world = World.of([c], [q], [policy])
    active = [job("a1", q, 1, share="A"), job("a2", q, 1, share="A"), job("a3", q, 1, share="A")]
    # one active share: 50% of 4 vCPUs reserved, 2 may start
    assert starts(decide(world, active)) == [("a1", "c"), ("a2", "c")]
    # two shares (one only PENDING): 25% reserved, 3 may start
    assert len(starts(decide(world, active, pending_shares={q["jobQueueArn"]: {"B"}}))) == 3


def test_consumable_resources_hold_the_head_until_free_and_block_when_never_enough():
    c = ce("c", vcpus=8)
    q = queue("q", [c])
    lic = {"arn:cr/lic": {"resourceType": "REPLENISHABLE", "totalQuantity": 2}}
    world = World.of([c], [q])
    jobs = [job("a", q, 1, _consumables={"arn:cr/lic": 2}), job("bb", q, 1, _consumables={"arn:cr/lic": 1})]
    assert starts(decide(world, jobs, consumables.ConsumableStock.of(lic, {}))) == [("a", "c")]  # bb waits for a's
    assert starts(decide(world, jobs, consumables.ConsumableStock.of(lic, {"arn:cr/lic": 1}))) == []  # a waits
    plan = decide(world, [job("a", q, 1, _consumables={"arn:cr/lic": 3})], consumables.ConsumableStock.of(lic, {}))
    assert plan.steps[0][0] == "block" and "CONSUMABLE_RESOURCE_MAX_QUANTITY" in plan.steps[0][2]


def test_deciding_writes_nothing_into_the_snapshot_jobs():
    c = ce("c", vcpus=4)
    q = queue("q", [c])
    jobs = [job("a", q, 1)]
    before = [dict(j) for j in jobs]
    decide(World.of([c], [q]), jobs)
    assert jobs == before
