"""After a restart: the Docker runner's multi-container attempts (runners.docker_task) picked up
again from what Docker holds, as a single container is by DockerRunner.reattach.

What a task leaves in Docker is enough to rebuild it: the holder container carries the whole
TaskSpec (LABEL_TASK_SPEC, written when the holder was made: Docker keeps it as long as the
holder exists and removes it with the holder, so it can never describe another task, and it needs
no file of the runner's own), and each member's container says how far that member got: running,
exited with its exit code (docker_task keeps an exited member's container until the task ends),
or absent (not started yet, or never to start: task_rules decides again). A task some main
member of which ran is adopted: each member's output resumes after the store's mark of its own
stream (OutputMark.containers), exits that happened while the server was down are reported
(their output first), and the task's rules carry on (docker_task._advance: start the members
whose dependencies are now met, stop the task when an essential member ended, report the end
with every member's exit). A task none of whose main members ran is removed now and left out of
the answer, so the engine starts the attempt again (with the same container names).

Owns the rebuild and the adoption; the task's steps stay docker_task's. Never the store, no
Batch rules.
"""

from __future__ import annotations

import logging

import docker.errors

from batchemu.runners import task_rules, task_spec
from batchemu.runners.base import LOG, RunnerEvent, Survivor
from batchemu.runners.docker_create import LABEL_SERVER
from batchemu.runners.docker_parse import parse_docker_time
from batchemu.runners.docker_task import (LABEL_TASK_ATTEMPT, LABEL_TASK_JOB, LABEL_TASK_MEMBER, LABEL_TASK_SPEC,
                                          OOM_REASON, DockerTasks, _Task)
from batchemu.runners.task_rules import EXITED_, RUNNING_, Member

log = logging.getLogger(__name__)

ALIVE = ("running", "paused", "restarting")
ENDED = ("exited", "dead")


def reattach(tasks: DockerTasks, containers: list, wanted: dict, marks: dict, remove_later) -> tuple:
    """`containers`: this server's task containers (holders and members, docker SDK Containers
    listed with all=True); `wanted` job id -> attempt; `marks` job id -> OutputMark. Adopts the
    wanted tasks a main member of which ran; removes the containers of the others (unwanted ones
    through `remove_later(container_id)`, wanted ones now, with their volumes). Returns
    ([Survivor, ...], {(job id, attempt) adopted}): the volumes of those are kept."""
    found: dict = {}
    for container in containers:
        labels = container.labels
        found.setdefault((labels.get(LABEL_TASK_JOB), _int(labels.get(LABEL_TASK_ATTEMPT))), []).append(container)
    survivors, adopted = [], set()
    for (job_id, attempt), parts in found.items():
        if attempt is None or wanted.get(job_id) != attempt:
            for container in parts:
                remove_later(container.id)
            continue
        task, started_ms = _rebuild(tasks, job_id, attempt, parts)
        if task is None:
            # Nothing of it ran: gone before the engine starts the attempt again (same names).
            _remove_now(tasks, job_id, attempt, parts)
            continue
        _adopt(tasks, task, marks.get(job_id))
        if task.spec.group_network and tasks.groups is not None:   # a multi-node job's task node
            endpoint = next((m.spec.environment.get("AWS_ENDPOINT_URL") for m in task.spec.members), None)
            tasks.groups.readopt(task.spec.group_network, [f"AWS_ENDPOINT_URL={endpoint}"] if endpoint else [])
        survivors.append(Survivor(job_id, attempt, running=True, started_ms=started_ms))
        adopted.add((job_id, attempt))
    return survivors, adopted


def _rebuild(tasks: DockerTasks, job_id: str, attempt: int, parts: list) -> tuple:
    """(the task as its holder's spec and its members' containers say it was, when its first
    main member started); (None, None) when it cannot be rebuilt (no holder, no readable spec)
    or none of its main members ever ran."""
    holders = [c for c in parts if not c.labels.get(LABEL_TASK_MEMBER)]
    text = holders[0].labels.get(LABEL_TASK_SPEC) if len(holders) == 1 else None
    try:
        spec = task_spec.from_json(text) if text else None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("task %s attempt %s: unreadable spec on its holder (%s)", job_id, attempt, exc)
        spec = None
    if spec is None or (spec.job_id, spec.attempt) != (job_id, attempt):
        log.info("task %s attempt %s: no task spec to re-attach it by; removing it", job_id, attempt)
        return None, None
    task = _Task(spec, {m.name: Member(m) for m in spec.members}, holder_id=holders[0].id, running_sent=True)
    ended, started_at = [], {}
    for container in parts:
        member = task.members.get(container.labels.get(LABEL_TASK_MEMBER) or "")
        state = container.attrs.get("State") or {}
        if member is None:
            continue                                   # the holder
        started_at[container.id] = parse_docker_time(state.get("StartedAt"))
        if container.status in ALIVE:
            member.status, member.container_id = RUNNING_, container.id
        elif container.status in ENDED:
            member.status, member.container_id = EXITED_, container.id
            member.exit_code = state.get("ExitCode")
            member.oom = bool(state.get("OOMKilled"))
            member.reason = OOM_REASON if member.oom else None
            ended.append((parse_docker_time(state.get("FinishedAt")) or 0, member))
        else:
            # "created": the server died between create and start. Removed now, so the member
            # is created again, under the same name, when its turn comes.
            _remove(tasks, container.id)
    mains = [m for m in task.members.values() if m.spec.stage == task_spec.MAIN and m.status in (RUNNING_, EXITED_)]
    if not mains:
        return None, None
    for order, (_, member) in enumerate(sorted(ended, key=lambda e: e[0]), start=1):
        member.order = order                           # the decider reads who ended first
    task.ended = len(ended)
    started = [started_at[m.container_id] for m in mains if started_at.get(m.container_id)]
    try:
        for volume in spec.volumes:                    # they exist; made again if removed meanwhile
            task.volumes[volume.name] = tasks._make_volume(task, volume)
    except docker.errors.APIError as exc:
        log.warning("task %s attempt %s: its volumes: %s", job_id, attempt, exc)
    return task, min(started) if started else None


def _adopt(tasks: DockerTasks, task: _Task, mark) -> None:
    """Follow the task again: each running member's output after its stream's mark, each ended
    member's last lines now; then its rules carry on, on the task pool (_resume)."""
    own = getattr(mark, "containers", None) or {}
    with task.lock:
        with tasks._lock:
            tasks._tasks[task.key] = task              # its members' die events are handled from now
        for name, member in task.members.items():
            key = task.key + (name,)
            if member.status == RUNNING_:
                tasks._output.follow(key, member.container_id, own.get(name))
            elif member.status == EXITED_:
                try:
                    lines = tasks._output.finish(key, member.container_id, own.get(name))
                except docker.errors.APIError:
                    lines = []
                if lines:
                    tasks._emit(RunnerEvent(LOG, task.spec.job_id, task.spec.attempt, lines[-1][0],
                                            lines=tuple(lines), container=name))
    tasks._submit(_resume, tasks, task)
    log.info("re-attached task %s attempt %s (%s)", task.spec.job_id, task.spec.attempt,
             ", ".join(f"{n} {m.status}" for n, m in task.members.items()))


def _resume(tasks: DockerTasks, task: _Task) -> None:
    """Members that died between the listing and the adoption (their die event was not ours to
    see) are handled now; then the task's next step: dependencies met or an essential member
    ended while the server was down, or the task is over."""
    for name, member in list(task.members.items()):
        if member.status != RUNNING_:
            continue
        try:
            alive = tasks.client.api.inspect_container(member.container_id)["State"].get("Running")
        except docker.errors.NotFound:
            alive = False
        if not alive:
            tasks._member_died(task, name, member.container_id)   # advances the task too
    with task.lock:
        if task.done:
            return
        if not task.stopping and task_rules.must_stop(task.spec.result, list(task.members.values())):
            # An essential member ended while the server was down: the task was stopping then,
            # so no member starts any more (as docker_task would have skipped them).
            tasks._stop_members(task, None)
        tasks._advance(task)


def _remove_now(tasks: DockerTasks, job_id: str, attempt: int, parts: list) -> None:
    for container in parts:
        _remove(tasks, container.id)
    own = [f"{LABEL_SERVER}={tasks.server_id}", f"{LABEL_TASK_JOB}={job_id}", f"{LABEL_TASK_ATTEMPT}={attempt}"]
    try:
        for volume in tasks.client.volumes.list(filters={"label": own}):
            tasks.client.api.remove_volume(volume.name, force=True)
    except docker.errors.APIError as exc:
        log.warning("task %s attempt %s: removing its volumes: %s", job_id, attempt, exc)


def _remove(tasks: DockerTasks, container_id: str) -> None:
    try:
        tasks.client.api.remove_container(container_id, force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:   # e.g. a removal already in progress
        log.warning("could not remove task container %s: %s", container_id[:12], exc)


def _int(text) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None
