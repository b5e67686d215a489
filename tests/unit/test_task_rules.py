"""The order of a multi-container attempt (runners.task_rules), without Docker: dependsOn
conditions, init containers, when a task stops and whose exit is the attempt's."""

from batchemu.runners.base import LaunchSpec
from batchemu.runners.task_rules import EXITED_, RUNNING_, SKIPPED, Member, decider, finished, may_start, must_stop
from batchemu.runners.task_spec import ALL_ZERO, FIRST_ESSENTIAL, INIT, TaskMember

SPEC = LaunchSpec(job_id="j", attempt=1, name="n", image="i", command=[], environment={})


def member(name, essential=True, depends_on=(), stage="main"):
    return Member(TaskMember(name, SPEC, essential=essential, depends_on=tuple(depends_on), stage=stage))


def ended(m, code, order):
    m.end(EXITED_, code, None, order)
    return m


def test_start_waits_for_the_dependency_to_start():
    side, main = member("side", False), member("main", depends_on=[("side", "START")])
    assert may_start([side, main], main, False) is None
    side.status = RUNNING_
    assert may_start([side, main], main, False) is True


def test_complete_and_success_wait_for_the_exit_and_success_needs_zero():
    prep = member("prep", False)
    complete, success = member("c", depends_on=[("prep", "COMPLETE")]), member("s", depends_on=[("prep", "SUCCESS")])
    everyone = [prep, complete, success]
    prep.status = RUNNING_
    assert may_start(everyone, complete, False) is None and may_start(everyone, success, False) is None
    ended(prep, 2, 1)
    assert may_start(everyone, complete, False) is True
    assert "dependency prep exited with code 2" in may_start(everyone, success, False)


def test_init_containers_run_one_after_another_before_the_main_ones():
    first, second, main = member("a", stage=INIT), member("b", stage=INIT), member("m")
    everyone = [first, second, main]
    assert may_start(everyone, first, False) is True
    assert may_start(everyone, second, False) is None and may_start(everyone, main, False) is None
    ended(first, 0, 1)
    assert may_start(everyone, second, False) is True and may_start(everyone, main, False) is None
    ended(second, 1, 2)
    assert "init container b did not succeed" in may_start(everyone, main, False)
    assert must_stop(ALL_ZERO, everyone)


def test_a_stopping_task_starts_nothing_more():
    assert "the task stopped" in may_start([member("m")], member("m"), True)


def test_an_essential_exit_stops_an_ecs_task_and_decides_it():
    side, main = member("side", False), member("main")
    side.status = RUNNING_
    assert not must_stop(FIRST_ESSENTIAL, [side, main])
    ended(main, 3, 1)
    assert must_stop(FIRST_ESSENTIAL, [side, main]) and not finished([side, main], True)
    ended(side, 137, 2)
    assert finished([side, main], True)
    assert decider(FIRST_ESSENTIAL, [side, main]) is main


def test_a_non_essential_exit_does_not_stop_the_task():
    side, main = member("side", False), member("main")
    main.status = RUNNING_
    ended(side, 1, 1)
    assert not must_stop(FIRST_ESSENTIAL, [side, main])


def test_a_pod_is_decided_by_its_first_failure_else_its_last_exit():
    a, b = member("a"), member("b")
    ended(a, 0, 1), ended(b, 0, 2)
    assert decider(ALL_ZERO, [a, b]) is b
    a2, b2 = member("a"), member("b")
    ended(a2, 0, 2), ended(b2, 5, 1)
    assert decider(ALL_ZERO, [a2, b2]) is b2


def test_a_member_that_never_started_ends_unstarted():
    m = member("m")
    m.end(SKIPPED, None, "why", 1)
    assert finished([m], False) and decider(FIRST_ESSENTIAL, [m]) is m
