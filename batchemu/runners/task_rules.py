"""The order of a multi-container attempt (runners.task_spec), as pure decisions over its
members' states: which member may start now (init containers one after another, then the
main ones; ECS `dependsOn` conditions START, COMPLETE, SUCCESS), when the task must stop (ECS:
an essential container ended; a pod: an init container failed), and whose exit is the
attempt's. No Docker, no threads, no store: docker_task acts on these answers.
"""

from __future__ import annotations

import dataclasses

from batchemu.runners.task_spec import ALL_ZERO, COMPLETE, INIT, MAIN, START, SUCCESS, TaskMember

WAITING, RUNNING_, EXITED_, SKIPPED = "waiting", "running", "exited", "skipped"
CANNOT_START = "CannotStartContainerError"   # ref §6.5


@dataclasses.dataclass
class Member:
    """One member's state in a running task."""
    spec: TaskMember
    status: str = WAITING
    container_id: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    oom: bool = False
    order: int = 0                    # when it ended (exits and skips, in order; 0: not yet)

    def end(self, status: str, exit_code, reason, order: int) -> None:
        self.status, self.exit_code, self.reason, self.order = status, exit_code, reason, order


def may_start(members: list, member: Member, stopping: bool):
    """True: start `member` now; None: not yet; a text: it never will, and why."""
    if stopping:
        return f"{CANNOT_START}: the task stopped before this container started"
    before = [m for m in members if m.spec.stage == INIT]
    if member.spec.stage == INIT:
        before = before[:before.index(member)]   # init containers run one after another
    elif member.spec.stage != MAIN:
        return f"{CANNOT_START}: unknown stage {member.spec.stage}"
    for m in before:
        if m.status in (WAITING, RUNNING_):
            return None
        if m.exit_code != 0:
            return f"{CANNOT_START}: init container {m.spec.name} did not succeed"
    by_name = {m.spec.name: m for m in members}
    for name, condition in member.spec.depends_on:
        dep = by_name.get(name)
        if dep is None:
            return f"{CANNOT_START}: dependency {name} is not in the task"
        if dep.status == SKIPPED:
            return f"{CANNOT_START}: dependency {name} never started"
        if condition == START and dep.status == WAITING:
            return None
        if condition in (COMPLETE, SUCCESS) and dep.status != EXITED_:
            return None
        if condition == SUCCESS and dep.exit_code != 0:
            return (f"{CANNOT_START}: dependency {name} exited with code {dep.exit_code}; this container "
                    f"waits for its {SUCCESS}")
    return True


def must_stop(result: str, members: list) -> bool:
    """ECS: an essential container ended, so the task stops (model: TaskContainerProperties
    .essential). A pod: an init container failed (its containers never start)."""
    ended = [m for m in members if m.status in (EXITED_, SKIPPED)]
    if result == ALL_ZERO:
        return any(m.spec.stage == INIT and m.exit_code != 0 for m in ended)
    return any(m.spec.essential and m.spec.stage == MAIN for m in ended)


def finished(members: list, stopping: bool) -> bool:
    """Nothing runs and nothing more will start."""
    if any(m.status == RUNNING_ for m in members):
        return False
    return stopping or not any(m.status == WAITING for m in members)


def decider(result: str, members: list) -> Member:
    """The member whose exit is the attempt's. ECS: the essential container whose end stopped
    the task (the first essential one to end); a pod: the first container that failed (init
    containers first), else the last to end (every one exited 0)."""
    ended = sorted(members, key=lambda m: (m.order == 0, m.order))
    if result == ALL_ZERO:
        failed = [m for m in ended if m.exit_code != 0]
        return failed[0] if failed else ended[-1]
    essential = [m for m in ended if m.spec.essential and m.spec.stage == MAIN]
    return essential[0] if essential else ended[0]
