"""Consumable resources in the scheduler (ref §13.1), with a manual clock and a scripted runner:
a job waits in RUNNABLE for its resources, holds them from STARTING, gives REPLENISHABLE ones
back when it ends and uses NON_REPLENISHABLE ones up."""

import pytest

from batchemu.batch.errors import ClientException
from batchemu.engine import consumables
from batchemu.store import Store
from batchemu.context import RequestContext
from tests.engine.harness import ACCOUNT, REGION, Harness


@pytest.fixture()
def h():
    h = Harness()
    h.setup(max_vcpus=8)
    return h


def resource(h, name, total, kind="REPLENISHABLE"):
    h.call("CreateConsumableResource", consumableResourceName=name, totalQuantity=total, resourceType=kind)
    return h.call("DescribeConsumableResource", consumableResource=name)


def quantities(h, name):
    d = h.call("DescribeConsumableResource", consumableResource=name)
    return d["totalQuantity"], d["inUseQuantity"], d["availableQuantity"]


def update(h, **params):
    """UpdateConsumableResource (its `operation` member clashes with Harness.call's argument)."""
    ctx = RequestContext(ACCOUNT, REGION, "req-update", h.now)
    return h.provider(ctx, "UpdateConsumableResource", params)


def needs(name, quantity):
    return {"consumableResourceList": [{"consumableResource": name, "quantity": quantity}]}


def test_job_waits_for_a_replenishable_resource_holds_it_and_gives_it_back(h):
    resource(h, "licence", 3)
    first = h.submit(name="first", consumableResourcePropertiesOverride=needs("licence", 2))
    second = h.submit(name="second", consumableResourcePropertiesOverride=needs("licence", 2))
    h.tick()
    assert h.status(first) == "STARTING" and h.status(second) == "RUNNABLE"
    assert quantities(h, "licence") == (3, 2, 1)
    h.runner.run(first)
    h.tick()
    assert quantities(h, "licence") == (3, 2, 1)     # held while RUNNING too
    assert h.status(second) == "RUNNABLE"
    h.runner.exit(first, 0)
    h.tick()
    assert h.status(first) == "SUCCEEDED"
    # Released when the first ended, and taken at once by the waiting job.
    assert h.status(second) == "STARTING" and quantities(h, "licence") == (3, 2, 1)
    h.run_to_end(second, code=1)
    assert h.status(second) == "FAILED" and quantities(h, "licence") == (3, 0, 3)


def test_non_replenishable_resource_is_used_up_at_starting(h):
    resource(h, "budget", 5, "NON_REPLENISHABLE")
    a = h.submit(name="a", consumableResourcePropertiesOverride=needs("budget", 2))
    h.tick()
    assert h.status(a) == "STARTING"
    total, in_use, available = quantities(h, "budget")
    assert (total, available) == (3, 3) and in_use == 2
    h.run_to_end(a)
    assert quantities(h, "budget") == (3, 0, 3)      # never given back
    b = h.submit(name="b", consumableResourcePropertiesOverride=needs("budget", 3))
    c = h.submit(name="c", consumableResourcePropertiesOverride=needs("budget", 1))
    h.tick()
    assert h.status(b) == "STARTING" and quantities(h, "budget")[0] == 0
    h.run_to_end(b)
    h.tick()
    # Nothing is left and nothing will come back: c can never run.
    d = h.job(c)
    assert d["status"] == "RUNNABLE"
    assert d["statusReason"].startswith("MISCONFIGURATION:CONSUMABLE_RESOURCE_MAX_QUANTITY")
    update(h, consumableResource="budget", operation="ADD", quantity=1)
    h.tick()
    assert h.status(c) == "STARTING" and quantities(h, "budget")[0] == 0


def test_each_attempt_of_a_retried_job_consumes_non_replenishable(h):
    resource(h, "budget", 5, "NON_REPLENISHABLE")
    job = h.submit(retryStrategy={"attempts": 2}, consumableResourcePropertiesOverride=needs("budget", 2))
    h.tick()
    h.run_to_end(job, code=3)                        # first attempt failed: back to RUNNABLE, restarted
    assert h.status(job) == "STARTING"
    assert quantities(h, "budget")[0] == 1


def test_job_needing_more_than_the_total_blocks_its_fifo_queue_until_a_time_limit_cancels_it(h):
    h.queue("limited", jobStateTimeLimitActions=[{
        "reason": "MISCONFIGURATION:CONSUMABLE_RESOURCE_MAX_QUANTITY", "state": "RUNNABLE",
        "maxTimeSeconds": 600, "action": "CANCEL"}])
    resource(h, "licence", 2)
    big = h.submit(name="big", queue="limited", consumableResourcePropertiesOverride=needs("licence", 3))
    behind = h.submit(name="behind", queue="limited")
    h.tick()
    d = h.job(big)
    assert d["status"] == "RUNNABLE"
    assert d["statusReason"] == ("MISCONFIGURATION:CONSUMABLE_RESOURCE_MAX_QUANTITY - The job requires more "
                                 "of consumable resource(s) licence than their total quantity.")
    assert h.status(behind) == "RUNNABLE"            # the head blocks the queue (ref §11.3)
    h.advance(600)
    h.tick()
    d = h.job(big)
    assert d["status"] == "FAILED" and d["statusReason"] == (
        "Canceled by JobStateTimeLimit action due to reason: MISCONFIGURATION:CONSUMABLE_RESOURCE_MAX_QUANTITY")
    assert h.status(behind) == "STARTING"


def test_head_waiting_for_a_resource_holds_back_the_jobs_behind_it(h):
    resource(h, "licence", 1)
    holder = h.submit(name="holder", consumableResourcePropertiesOverride=needs("licence", 1))
    h.tick()
    waiting = h.submit(name="waiting", consumableResourcePropertiesOverride=needs("licence", 1))
    plain = h.submit(name="plain")
    h.tick()
    assert h.status(waiting) == "RUNNABLE" and h.status(plain) == "RUNNABLE"  # FIFO: no back-fill
    assert "statusReason" not in h.job(waiting)      # waiting, not misconfigured
    h.run_to_end(holder)
    assert h.status(waiting) == "STARTING" and h.status(plain) == "STARTING"


def test_all_resources_are_needed_at_once(h):
    resource(h, "a", 1)
    resource(h, "b", 1)
    holder = h.submit(name="holder", consumableResourcePropertiesOverride=needs("b", 1))
    h.tick()
    both = h.submit(name="both", consumableResourcePropertiesOverride={"consumableResourceList": [
        {"consumableResource": "a", "quantity": 1}, {"consumableResource": "b", "quantity": 1}]})
    h.tick()
    assert h.status(both) == "RUNNABLE"
    assert quantities(h, "a") == (1, 0, 1)           # nothing is taken until everything is free
    h.run_to_end(holder)
    assert h.status(both) == "STARTING"
    assert quantities(h, "a") == (1, 1, 0) and quantities(h, "b") == (1, 1, 0)


def test_definition_resources_and_override_merge_per_resource(h):
    resource(h, "a", 10)
    resource(h, "b", 10)
    h.definition("with-resources", consumableResourceProperties={"consumableResourceList": [
        {"consumableResource": "a", "quantity": 2}, {"consumableResource": "b", "quantity": 3}]})
    job = h.submit(definition="with-resources", consumableResourcePropertiesOverride=needs("b", 5))
    d = h.job(job)
    arn = {n: h.call("DescribeConsumableResource", consumableResource=n)["consumableResourceArn"] for n in "ab"}
    assert d["consumableResourceProperties"] == {"consumableResourceList": [
        {"consumableResource": arn["a"], "quantity": 2}, {"consumableResource": arn["b"], "quantity": 5}]}
    h.tick()
    assert quantities(h, "a") == (10, 2, 8) and quantities(h, "b") == (10, 5, 5)


def test_array_children_each_hold_their_own_share(h):
    resource(h, "licence", 2)
    parent = h.submit(arrayProperties={"size": 3}, consumableResourcePropertiesOverride=needs("licence", 1))
    h.tick()
    h.tick()
    statuses = [h.status(f"{parent}:{i}") for i in range(3)]
    assert sorted(statuses) == ["RUNNABLE", "STARTING", "STARTING"]
    assert quantities(h, "licence") == (2, 2, 0)


def test_lowering_the_total_below_what_is_held_shows_nothing_available(h):
    resource(h, "licence", 4)
    h.submit(consumableResourcePropertiesOverride=needs("licence", 3))
    h.tick()
    update(h, consumableResource="licence", operation="SET", quantity=2)
    assert quantities(h, "licence") == (2, 3, 0)


def test_in_use_survives_a_restart_because_it_is_derived_from_the_jobs(tmp_path):
    path = str(tmp_path / "db.sqlite3")
    h = _harness_on(path)
    h.setup()
    resource(h, "licence", 3)
    h.submit(consumableResourcePropertiesOverride=needs("licence", 2))
    h.tick()
    h.store.close()
    again = _harness_on(path)
    assert quantities(again, "licence") == (3, 2, 1)
    assert consumables.held(again.store) == {
        again.call("DescribeConsumableResource", consumableResource="licence")["consumableResourceArn"]: 2}


def test_submit_checks_the_resources_exist_and_quantities(h):
    resource(h, "licence", 3)
    with pytest.raises(ClientException, match="consumable resource nope does not exist"):
        h.submit(consumableResourcePropertiesOverride=needs("nope", 1))
    with pytest.raises(ClientException, match=r"quantity must be at least 1, got 0"):
        h.submit(consumableResourcePropertiesOverride=needs("licence", 0))
    with pytest.raises(ClientException, match="listed more than once"):
        h.submit(consumableResourcePropertiesOverride={"consumableResourceList": [
            {"consumableResource": "licence", "quantity": 1}, {"consumableResource": "licence", "quantity": 2}]})


def _harness_on(path):
    """A Harness whose store is the SQLite file at `path` (a restart is a new Harness)."""
    from batchemu.batch.backend import Backend
    from batchemu.batch.provider import BatchProvider
    from batchemu.config import Config
    from batchemu.engine.scheduler import Scheduler
    from batchemu.store.jobs import Jobs
    from batchemu.wire import spec

    h = Harness()
    h.store = Store(path)
    h.scheduler = Scheduler(h.store, h.runner, h.clock, stop_grace_seconds=1)
    h.runner.set_listener(h.scheduler.post)
    h.backend = Backend(h.store, Config(ephemeral=True, runner="none"))
    h.provider = BatchProvider(h.backend, spec.load("batch"))
    h.jobs = Jobs(h.store)
    return h
