"""Simulated instances (engine.instances): jobs fill a CE's 4-vCPU instances in order, share
the instance's ARN, free it when they leave STARTING/RUNNING, and Fargate has none."""

from __future__ import annotations

from batchemu.engine.instances import Instances


class NoJobs:
    def in_statuses(self, statuses):
        return []


def ce(name="ce", kind="EC2"):
    return {"computeEnvironmentArn": f"arn:aws:batch:us-east-1:111122223333:compute-environment/{name}",
            "computeEnvironmentName": name, "computeResources": {"type": kind}}


def job(job_id, vcpus=1.0):
    return {"jobId": job_id, "_need": {"vcpus": vcpus}, "_account": "111122223333", "_region": "us-east-1"}


def test_jobs_fill_an_instance_then_open_another():
    instances = Instances(NoJobs())
    placed = [instances.place(job(f"j{i}"), ce()) for i in range(5)]
    assert len({p["instanceId"] for p in placed[:4]}) == 1
    assert placed[4]["instanceId"] != placed[0]["instanceId"]
    assert placed[0]["containerInstanceArn"].startswith(
        "arn:aws:ecs:us-east-1:111122223333:container-instance/ce/")
    assert placed[0]["instanceId"].startswith("i-") and len(placed[0]["instanceId"]) == 19


def test_a_large_job_gets_an_instance_of_its_size_and_ces_never_share():
    instances = Instances(NoJobs())
    big = instances.place(job("big", 8), ce())
    other = instances.place(job("small"), ce("other"))
    assert big["instanceId"] != other["instanceId"]
    assert instances.place(job("next"), ce())["instanceId"] != big["instanceId"]  # the 8 vCPUs are full


def test_leaving_starting_or_running_frees_the_slot_and_an_idle_instance_goes():
    instances = Instances(NoJobs())
    first = instances.place(job("a", 4), ce())
    instances.observe({"jobId": "a", "status": "SUCCEEDED"}, "RUNNING")
    assert instances.of_ce(ce()["computeEnvironmentArn"]) == []
    assert instances.place(job("b", 4), ce())["instanceId"] != first["instanceId"]


def test_a_forgotten_instance_takes_no_more_jobs():
    instances = Instances(NoJobs())
    first = instances.place(job("a"), ce())
    instances.forget(first["instanceId"])
    assert instances.place(job("b"), ce())["instanceId"] != first["instanceId"]


def test_fargate_has_no_instances():
    assert Instances(NoJobs()).place(job("a"), ce(kind="FARGATE_SPOT")) == {}


def test_restart_rebuilds_from_the_busy_jobs():
    class Busy:
        def in_statuses(self, statuses):
            return [dict(job("old", 3), _attempt=1, _ce=ce()["computeEnvironmentArn"],
                         _tasks={"1": {"instanceId": "i-0123456789abcdef0", "containerInstanceArn": "arn:x"}})]

    instances = Instances(Busy())
    assert instances.place(job("new"), ce()) == {"instanceId": "i-0123456789abcdef0", "containerInstanceArn": "arn:x"}
    assert instances.place(job("newer"), ce())["instanceId"] != "i-0123456789abcdef0"  # 3 + 1 of 4 used
