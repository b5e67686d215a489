"""engine.placement.decide for multi-node parallel jobs (ref §11.2, §12), from a snapshot alone:
the whole gang fits one compute environment at once or the job waits at the head; a gang no CE
could ever hold, or a queue with no CE that runs multi-node jobs (Spot, Fargate, UNMANAGED), is
blocked with a reason; nodes are never placed on their own."""

from batchemu.engine import capacity, multinode
from batchemu.engine.world import World
from tests.engine.test_placement_decision import ce, decide, job, queue, starts


def gang(job_id, q, nodes=3, vcpus=1, **more):
    """A multi-node job whose `_need` is its nodes' together (batch.multinode_spec)."""
    return job(job_id, q, vcpus=nodes * vcpus, nodeProperties={"numNodes": nodes, "mainNode": 0}, **more)


def ec2(name, vcpus=4, kind="EC2"):
    return dict(ce(name, vcpus), computeResources={"type": kind, "maxvCpus": vcpus})


def blocks(plan):
    return [(j["jobId"], why) for step, j, why in plan.steps if step == "block"]


def test_a_gang_starts_when_all_its_nodes_fit_at_once():
    c = ec2("c", vcpus=4)
    q = queue("q", [c])
    assert starts(decide(World.of([c], [q]), [gang("mnp", q, nodes=4)])) == [("mnp", "c")]


def test_a_gang_waits_at_the_head_while_capacity_is_short_and_holds_the_queue():
    c = ec2("c", vcpus=4)
    q = queue("q", [c])
    busy = job("old", q, 2, status="RUNNING", on=c)
    plan = decide(World.of([c], [q]), [busy, gang("mnp", q, nodes=3), job("small", q, 1, created=99)])
    assert starts(plan) == [] and blocks(plan) == []  # waits for capacity; FIFO keeps `small` behind it


def test_a_gang_no_compute_environment_can_ever_hold_is_blocked_with_awss_reason():
    c = ec2("c", vcpus=2)
    q = queue("q", [c])
    assert blocks(decide(World.of([c], [q]), [gang("mnp", q, nodes=3)])) == [("mnp", capacity.COMPUTE_MAX)]


def test_spot_fargate_and_unmanaged_environments_never_take_a_gang():
    spot, fargate = ec2("spot", kind="SPOT"), ec2("fargate", kind="FARGATE")
    unmanaged = {"computeEnvironmentArn": "arn:ce/u", "computeEnvironmentName": "u", "type": "UNMANAGED",
                 "state": "ENABLED", "status": "VALID", "unmanagedvCpus": 16}
    q = queue("q", [spot, fargate, unmanaged])
    plan = decide(World.of([spot, fargate, unmanaged], [q]), [gang("mnp", q, nodes=2)])
    assert blocks(plan) == [("mnp", multinode.UNSUPPORTED)]


def test_a_gang_skips_a_spot_environment_for_the_next_one_in_order():
    spot, on_demand = ec2("spot", kind="SPOT"), ec2("ondemand")
    q = queue("q", [spot, on_demand])
    assert starts(decide(World.of([spot, on_demand], [q]), [gang("mnp", q, nodes=2)])) == [("mnp", "ondemand")]


def test_nodes_are_never_placed_and_hold_nothing_of_their_own():
    c = ec2("c", vcpus=4)
    q = queue("q", [c])
    running = gang("mnp", q, nodes=3, status="RUNNING", on=c)
    node = job("mnp#1", q, 1, nodeDetails={"nodeIndex": 1, "isMainNode": False})
    assert starts(decide(World.of([c], [q]), [running, node, job("next", q, 1, created=99)])) == [("next", "c")]
