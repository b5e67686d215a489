"""The multi-container side of runners.kubernetes.KubernetesRunner (a mixin it inherits): one
pod per task attempt (runners.kube_task_pods shapes and reads it), RUNNING once a main container
runs, the pod stopped when an essential ECS container ended, and the end reported with every
container's exit and output (LOG events with `container`, EXITED with `containers`, as
runners.docker_task reports them). Runs on the runner's ops pool and watch thread only; never
the store, no Batch rules.
"""

from __future__ import annotations

import time

from batchemu.runners import kube_pods as pods
from batchemu.runners import kube_task_pods as task_pods
from batchemu.runners.base import EXITED, LOG, RunnerEvent, Survivor
from batchemu.runners.task_spec import MemberResult, TaskSpec

FAILED_TO_START = "Task failed to start"   # §6.5, as the Docker runner


def now_ms() -> int:
    return int(time.time() * 1000)


class TaskPods:
    """Needs the runner's _attempts, _lock, _emit_lock, _submit, _create, _stop_pod, _delete,
    _read_new, _send_running, _send_exit, _emit, _forget, _queue_finish, _vanished_state."""

    def start_task(self, spec: TaskSpec) -> None:
        """Queue the pod of a multi-container attempt (runners.kube_task_pods shapes it)."""
        rec = self._new_attempt(spec)
        with self._lock:
            self._attempts[(spec.job_id, spec.attempt)] = rec
        self._submit(self._create, rec, spec, None)

    def _adopt_task(self, rec, pod: dict, mark) -> Survivor | None:
        """After a restart: a task pod of a wanted attempt is adopted whether it runs or ended
        while we were away (its end is then reported with every container's exit). Each container's output resumes after its own stream's stored mark
        (OutputMark.containers). A pod none of whose main containers started is deleted and
        left out: the engine starts the attempt again."""
        own = getattr(mark, "containers", None) or {}
        rec.marks = {c: pods.LogMark(own[c].ts_ms, list(own[c].texts)) if c in own else pods.LogMark()
                     for c in rec.containers()}
        rec.members = task_pods.read_members(pod, rec.layout, {})
        if not task_pods.main_started(rec.layout, rec.members):
            self._delete(rec.target, rec.pod, 0)
            return None
        with self._lock:
            self._attempts[(rec.job_id, rec.attempt)] = rec
        # One that ended (or whose essential container ended) while we were away is handled now,
        # not at the watch thread's next list: a finished pod sends no more events.
        self._on_task_pod(rec, "MODIFIED", pod)
        started = [m.started_ms for m in rec.members.values() if m.started_ms]
        return Survivor(rec.job_id, rec.attempt, running=True, started_ms=min(started) if started else None)

    def _on_task_pod(self, rec, kind: str, pod: dict) -> None:
        """A task pod's event: RUNNING once a main container runs, the pod stopped when an
        essential container ended (ECS: the task stops; a pod would go on), the final read once
        the pod ended (or a container can never start: the pod is deleted then)."""
        layout = rec.layout
        with self._lock:
            rec.members = members = task_pods.read_members(pod, layout, rec.members)
        if kind == "DELETED" and not task_pods.pod_over(pod, layout, members):
            self._queue_finish(rec, self._vanished_state(rec, pods.PodState("pending")), readable=False)
            return
        if task_pods.main_started(layout, members):
            started = [m.started_ms for m in members.values() if m.started_ms]
            self._send_running(rec, max(min(started or [now_ms()]), rec.created_ms), pods.pod_address(pod))
        if task_pods.pod_over(pod, layout, members):
            self._queue_finish(rec, pod, readable=kind != "DELETED")
        elif task_pods.essential_ended(layout, members):
            with self._lock:
                if rec.stopping:
                    return
                rec.stopping = True
            self._submit(self._stop_pod, rec, rec.pod, 1)

    def _finish_task(self, rec, pod, readable: bool) -> None:
        """A task pod ended (`pod`), or vanished (a PodState): each container's output, then
        EXITED with every container's end (as runners.docker_task reports it)."""
        if isinstance(pod, pods.PodState):   # deleted under us: what was seen, the rest unknown
            lost = pod.reason
            pod = {"status": {"phase": "Failed", "reason": "Deleted"}}
        else:
            lost = None
        with self._emit_lock:
            decider, members = task_pods.results(pod, rec.layout, rec.members)
            ran = task_pods.main_started(rec.layout, members) or rec.running_sent
            if ran and readable:
                for container in rec.containers():
                    if members[container].container_id or members[container].started_ms:
                        self._emit_lines(rec, self._read_new(rec, container), container)
            if ran:
                started = [m.started_ms for m in members.values() if m.started_ms]
                self._send_running(rec, max(min(started or [now_ms()]), rec.created_ms))
            first = members[decider]
            reason = first.reason or (lost if first.exit_code is None else None)
            finished = [m.finished_ms for m in members.values() if m.finished_ms]
            results = tuple(MemberResult(name, m.exit_code, m.reason or (lost if m.exit_code is None and ran
                                                                          else None),
                                         m.container_id, m.oom) for name, m in members.items())
            self._send_exit(rec, RunnerEvent(
                EXITED, rec.job_id, rec.attempt, max(max(finished or [now_ms()]), rec.created_ms),
                exit_code=first.exit_code, reason=reason, oom=first.oom,
                status_reason=None if ran else FAILED_TO_START, containers=results, node=rec.node))
        self._forget(rec)
        if rec.pod:
            self._delete(rec.target, rec.pod, 0)   # gone already (404) when it vanished

    def _emit_lines(self, rec, lines: list, container: str | None) -> None:
        if lines:
            self._emit(RunnerEvent(LOG, rec.job_id, rec.attempt, lines[-1][0], lines=tuple(lines),
                                   container=container if rec.layout else None))

