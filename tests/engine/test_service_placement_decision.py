"""engine.service_placement.decide: which RUNNABLE service jobs are SCHEDULED, from a snapshot
alone (no store, no runner): instance capacity, queue priority, quota shares (a share's head
waits without holding back other shares), blocked heads and time limits."""

from batchemu.engine import service_placement
from batchemu.engine.world import World

NOW = 5_000_000


def environment(name, instances=2, units=None):
    return {"serviceEnvironmentArn": f"arn:se/{name}", "state": "ENABLED", "status": "VALID",
            "capacityLimits": units or [{"capacityUnit": "NUM_INSTANCES", "maxCapacity": instances}]}


def queue(name, env, priority=1, policy=None, limits=None):
    return {"jobQueueArn": f"arn:q/{name}", "jobQueueName": name, "jobQueueType": "SAGEMAKER_TRAINING",
            "state": "ENABLED", "status": "VALID", "priority": priority, "createdAt": 1,
            "schedulingPolicyArn": policy, "jobStateTimeLimitActions": limits or [],
            "serviceEnvironmentOrder": [{"order": 1, "serviceEnvironment": env["serviceEnvironmentArn"]}]}


def world(envs, queues, policies=(), shares=()):
    w = World.of(queues=queues, policies=policies)
    w.environments = {e["serviceEnvironmentArn"]: e for e in envs}
    for s in shares:
        w.shares[s["jobQueueArn"]][s["quotaShareName"]] = s
    return w


def job(job_id, q, n=1, status="RUNNABLE", created=None, **more):
    return dict({"jobId": job_id, "jobQueue": q["jobQueueArn"], "status": status, "createdAt": created or len(job_id),
                 "_instances": n}, **more)


def started(plan):
    return [j["jobId"] for step, j, _ in plan.steps if step == "start"]


def test_instances_are_the_capacity_and_the_head_waits():
    e = environment("e", instances=2)
    q = queue("q", e)
    plan = service_placement.decide(world([e], [q]), [job("a", q, 1), job("bb", q, 2), job("ccc", q, 1)], NOW)
    assert started(plan) == ["a"]  # bb needs 2 of the 1 left and holds ccc back
    busy = job("old", q, 2, status="RUNNING", _environment="arn:se/e", _unit="NUM_INSTANCES")
    assert started(service_placement.decide(world([e], [q]), [busy, job("a", q, 1)], NOW)) == []


def test_a_higher_priority_queue_goes_first():
    e = environment("e", instances=1)
    low, high = queue("low", e, priority=1), queue("high", e, priority=9)
    plan = service_placement.decide(world([e], [low, high]), [job("a", low, created=1), job("b", high, created=2)], NOW)
    assert started(plan) == ["b"]


def test_a_job_larger_than_the_environment_is_blocked_then_terminated_by_a_time_limit():
    e = environment("e", instances=2)
    limit = [{"reason": "MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE", "state": "RUNNABLE",
              "maxTimeSeconds": 60, "action": "TERMINATE"}]
    q = queue("q", e, limits=limit)
    fresh = service_placement.decide(world([e], [q]), [job("a", q, 3), job("bb", q, 1)], NOW)
    assert [s for s, *_ in fresh.steps] == ["block"] and fresh.deadlines == [NOW + 60_000]
    since = {"reason": service_placement.MAX_RESOURCE, "since": NOW - 60_000}
    due = service_placement.decide(world([e], [q]), [job("a", q, 3, _blocked=since), job("bb", q, 1)], NOW)
    assert [(s, j["jobId"]) for s, j, _ in due.steps] == [("block", "a"), ("terminate", "a"), ("start", "bb")]


def test_time_scale_divides_the_time_limit():
    """--time-scale 60: a 60 s maxTimeSeconds falls due after 1 s."""
    e = environment("e", instances=2)
    limit = [{"reason": "MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE", "state": "RUNNABLE",
              "maxTimeSeconds": 60, "action": "TERMINATE"}]
    q = queue("q", e, limits=limit)
    fresh = service_placement.decide(world([e], [q]), [job("a", q, 3)], NOW, time_scale=60)
    assert fresh.deadlines == [NOW + 1_000]
    since = {"reason": service_placement.MAX_RESOURCE, "since": NOW - 1_000}
    due = service_placement.decide(world([e], [q]), [job("a", q, 3, _blocked=since)], NOW, time_scale=60)
    assert [s for s, *_ in due.steps] == ["block", "terminate"]


def test_a_quota_share_at_its_limit_waits_while_another_share_starts():
    e = environment("e", units=[{"capacityUnit": "ml.m5.large", "maxCapacity": 4}])
    policy = {"arn": "arn:sp/qs", "quotaSharePolicy": {"idleResourceAssignmentStrategy": "FIFO"}}
    q = queue("q", e, policy="arn:sp/qs")

    def share(name, most):
        return {"jobQueueArn": q["jobQueueArn"], "quotaShareName": name, "state": "ENABLED", "createdAt": 2,
                "capacityLimits": [{"capacityUnit": "ml.m5.large", "maxCapacity": most}],
                "resourceSharingConfiguration": {"strategy": "RESERVE"}}

    w = world([e], [q], [policy], [share("a", 1), share("b", 1)])
    jobs = [job("a1", q, _instanceType="ml.m5.large", quotaShareName="a", created=1),
            job("a2", q, _instanceType="ml.m5.large", quotaShareName="a", created=2),
            job("b1", q, _instanceType="ml.m5.large", quotaShareName="b", created=3)]
    assert started(service_placement.decide(w, jobs, NOW)) == ["a1", "b1"]
