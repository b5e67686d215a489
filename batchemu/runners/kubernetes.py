"""The Kubernetes runner: one Pod per attempt, as AWS Batch on EKS runs jobs (runners.kube_pods
shapes the pod and reads its status), in the runner's namespace or the one the compute
environment's eksConfiguration names (runners.kube_clusters picks the cluster and namespace).
It owns the attempts' lifecycle on the cluster (create, stop, exit, re-attach after a restart,
delete once reported) and reports RunnerEvents; it never writes the store and knows no Batch
rules.
Multi-container attempts (ecsProperties tasks, eksProperties pods: `start_task`) are one pod
too: runners.kube_tasks (a mixin) and runners.kube_task_pods.

Threads: a small ops pool (every API call: create, patch, delete, final log reads), one watch
thread per namespace in use (list + watch of this server's pods -> RUNNING/EXITED), one log
thread (polls running pods' logs -> LOG). `start` and `stop` only queue work, so request threads never call Kubernetes.

Stopping (a terminate or the engine's own attemptDurationSeconds timer): the pod's
activeDeadlineSeconds is cut to 1, so the kubelet stops it with the pod's grace period and the
pod stays readable (exit code, logs) until its result is reported; a pod not running yet, or a
stop with no grace (a lost host), is deleted at once.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from kubernetes import watch

from batchemu.runners import kube_pods as pods
from batchemu.runners import kube_task_pods as task_pods
from batchemu.runners.base import (EXITED, LOG, RUNNING, LaunchSpec, Listener, RunnerEvent, Survivor, deliver,
                                   submit_guarded)
from batchemu.runners.kube_clusters import Clusters, Target
from batchemu.runners.kube_tasks import TaskPods
from batchemu.runners.task_spec import MemberResult, TaskSpec

log = logging.getLogger(__name__)

FAILED_TO_START = "Task failed to start"   # §6.5, as the Docker runner
DEADLINE_NOW = [{"op": "add", "path": "/spec/activeDeadlineSeconds", "value": 1}]
ROOM_SECONDS = 10.0   # how long the nodes' allocatable is trusted before it is read again


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclasses.dataclass
class _Attempt:
    """What the runner knows about one attempt (guarded by the runner's _lock)."""
    job_id: str
    attempt: int
    target: Target                   # where its pod is (runners.kube_clusters)
    pod: str | None = None           # its pod's name, once created
    created_ms: int = 0              # when it was handed to us (pod times have whole seconds)
    listed_after: float = 0.0        # monotonic time its pod existed by (a list after it shows it)
    node: str | None = None
    stopping: bool = False
    exit_code: int | None = None     # the last terminated state seen (a deleted pod keeps none)
    running_sent: bool = False
    exited_sent: bool = False
    finishing: bool = False          # the final read is queued
    mark: pods.LogMark = dataclasses.field(default_factory=pods.LogMark)
    log_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    # A multi-container attempt (start_task): its pod's layout, each container as last seen and
    # where each one's reported output ends.
    layout: task_pods.Layout | None = None
    members: dict = dataclasses.field(default_factory=dict)
    marks: dict = dataclasses.field(default_factory=dict)

    def containers(self) -> list:
        return self.layout.names() if self.layout else [pods.CONTAINER]

    def mark_of(self, container: str) -> pods.LogMark:
        if not self.layout:
            return self.mark
        return self.marks.setdefault(container, pods.LogMark())


class KubernetesRunner(TaskPods):
    name = "kubernetes"

    def __init__(self, server_id: str, api=None, namespace: str = "default", pull_policy: str = "missing",
                 host_network: bool = True, stop_grace_seconds: float = 30.0, log_interval: float = 1.0,
                 watch_factory=None, start_threads: bool = True, clusters: Clusters | None = None):
        # clusters: where pods go (runners.kube_clusters); else every pod goes to `api`, in
        # `namespace` or the namespace its ClusterPlace names.
        self.server_id = server_id
        self.clusters = clusters or Clusters(api, namespace)
        self.api = self.clusters.default.api
        self.namespace = self.clusters.default.namespace
        self.pull_policy = pull_policy
        self.host_network = host_network
        self.stop_grace = stop_grace_seconds
        self.log_interval = log_interval
        self.selector = f"{pods.LABEL_SERVER}={server_id}"
        self._watch_factory = watch_factory
        self._listener: Listener | None = None
        self._lock = threading.Lock()
        self._emit_lock = threading.RLock()
        self._attempts: dict[tuple[str, int], _Attempt] = {}
        self._closing = threading.Event()
        self._ops = ThreadPoolExecutor(3, thread_name_prefix="batchemu-k8s-ops")
        self._start_threads = start_threads
        self._threads = []
        self._watched: set = set()     # the Targets with a watch thread
        self._room, self._room_read = None, float("-inf")
        if start_threads:
            self._thread(self._log_loop, "batchemu-k8s-logs")
        self._watch(self.clusters.default)

    def _thread(self, target, name: str, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _watch(self, target: Target) -> None:
        """One list+watch thread per Target, from the first time it is used."""
        with self._lock:
            if target in self._watched or not self._start_threads:
                return
            self._watched.add(target)
        self._thread(self._watch_loop, f"batchemu-k8s-watch-{target.namespace}", target)

    # ---- the Runner interface ---------------------------------------------------------------

    def set_listener(self, listener: Listener) -> None:
        self._listener = listener

    def start(self, spec: LaunchSpec, node: dict | None = None) -> None:
        """Queue the pod's creation. `node` (labels/env of one node of a multi-node job) lets a
        multi-node launcher start one pod per node through the same path."""
        rec = self._new_attempt(spec)
        with self._lock:
            self._attempts[(spec.job_id, spec.attempt)] = rec
        self._submit(self._create, rec, spec, node)

    def _new_attempt(self, spec) -> _Attempt:
        """The record of a LaunchSpec's or TaskSpec's attempt, its pod's Target watched."""
        target = self.clusters.target(spec.place)
        self._watch(target)
        return _Attempt(spec.job_id, spec.attempt, target, created_ms=now_ms())

    def follow(self, places: list) -> None:
        """Watch the Targets of `places` (ClusterPlace) from now on: before reattach and reset,
        so pods an earlier run left in those namespaces are found (runners.base.Runner)."""
        for place in places:
            self._watch(self.clusters.target(place))

    def stop(self, job_id: str, attempt: int, grace_seconds: float = 30.0) -> None:
        with self._lock:
            rec = self._attempts.get((job_id, attempt))
            if rec is None or rec.stopping:
                return
            rec.stopping = True
            name, running = rec.pod, rec.running_sent
        if name:
            self._submit(self._stop_pod, rec, name, grace_seconds if running else 0)
        # else: the create worker sees `stopping` and gives up (or stops what it just made)

    def reattach(self, wanted: dict, stored_output: dict | None = None) -> list[Survivor]:
        """Adopt our wanted pods that run, collect those that ended while we were away (their
        output after `stored_output` goes out as a LOG event), delete every other pod of ours.
        A pod whose container never started is deleted and left out (the engine starts the
        attempt again), so an attempt never has two pods."""
        marks = stored_output or {}
        survivors = []
        for target, pod in self._list_everywhere():
            key, name = pods.pod_key(pod), pod["metadata"]["name"]
            if key is None or wanted.get(key[0]) != key[1]:
                self._submit(self._delete, target, name, 0)
                continue
            state = pods.pod_state(pod)
            mark = marks.get(key[0])
            rec = _Attempt(key[0], key[1], target, pod=name, node=pods.node_name(pod), running_sent=True,
                           mark=pods.LogMark(mark.ts_ms, list(mark.texts)) if mark else pods.LogMark())
            rec.layout = task_pods.layout_from_pod(pod)
            if rec.layout:
                survivor = self._adopt_task(rec, pod, mark)
                if survivor:
                    survivors.append(survivor)
                continue
            if state.kind == "running":
                with self._lock:
                    self._attempts[key] = rec
                survivors.append(Survivor(key[0], key[1], running=True, started_ms=state.started_ms))
            elif state.kind == "exited":
                lines = self._read_new(rec)
                if lines:
                    self._emit(RunnerEvent(LOG, key[0], key[1], lines[-1][0], lines=tuple(lines)))
                survivors.append(Survivor(key[0], key[1], running=False, exit_code=state.exit_code,
                                          oom=state.oom, started_ms=state.started_ms))
                self._submit(self._delete, target, name, 0)
            else:   # pending or failed to start: nothing ran
                self._delete(target, name, 0)
        return survivors

    def _list_everywhere(self) -> list:
        """(Target, pod) of this server's pods in every known Target."""
        return [(target, pod) for target in self.clusters.known() for pod in self._list(target)["items"]]

    def gpus(self) -> int:
        """GPUs a job can ask for: the most nvidia.com/gpu any one node has (read once)."""
        if not hasattr(self, "_gpus"):
            try:
                nodes = self.api.list_node(_preload_content=False)
                items = json.loads(nodes.data)["items"]
                self._gpus = max([int((n.get("status", {}).get("allocatable") or {}).get("nvidia.com/gpu", 0))
                                  for n in items] or [0])
            except Exception:
                self._gpus = 0
        return self._gpus

    def room(self):
        """What the default cluster's nodes can allocate (runners.base.Room), read at most every
        ROOM_SECONDS (the scheduler asks on every pass); None when the nodes can't be read (no
        RBAC on nodes): no bound then, pods wait Pending as before."""
        now = time.monotonic()
        if now - self._room_read < ROOM_SECONDS:
            return self._room
        self._room_read = now
        try:
            nodes = self.api.list_node(_preload_content=False)
            self._room = pods.room(json.loads(nodes.data)["items"])
        except Exception as exc:
            log.debug("kubernetes runner: reading the nodes: %s", _api_message(exc))
            self._room = None
        return self._room

    def reset(self) -> None:
        """Delete every pod of this server now and forget every attempt (a reset)."""
        with self._lock:
            self._attempts.clear()
        for target, pod in self._list_everywhere():
            self._delete(target, pod["metadata"]["name"], 0)

    def close(self) -> None:
        """Stop following the cluster. Pods are left running on purpose: the next start
        re-attaches them."""
        self._closing.set()
        self._ops.shutdown(wait=True, cancel_futures=True)

    # ---- API calls (ops pool) ----------------------------------------------------------------

    def _create(self, rec: _Attempt, spec, node: dict | None) -> None:
        if rec.stopping or self._closing.is_set():
            self._send_exit(rec, RunnerEvent(EXITED, rec.job_id, rec.attempt, now_ms(),
                                             reason="stopped before start", status_reason=FAILED_TO_START))
            self._forget(rec)
            return
        try:
            if isinstance(spec, TaskSpec):
                layout = task_pods.layout_of(spec)
                manifest = task_pods.task_pod_manifest(spec, layout, self.server_id, self.pull_policy,
                                                       self.host_network, self.stop_grace)
                with self._lock:
                    rec.layout = layout
            else:
                manifest = pods.pod_manifest(spec, self.server_id, self.pull_policy, self.host_network,
                                             self.stop_grace, node)
        except ValueError as exc:   # a task shape a pod can't express (kube_task_pods)
            self._forget(rec)
            reason = f"CannotStartContainerError: {exc}"
            self._send_exit(rec, RunnerEvent(EXITED, rec.job_id, rec.attempt, now_ms(), reason=reason,
                                             status_reason=FAILED_TO_START,
                                             containers=tuple(MemberResult(m.name, None, reason)
                                                              for m in spec.members)))
            return
        try:
            rec.target.api.create_namespaced_pod(rec.target.namespace, manifest)
        except Exception as exc:
            self._forget(rec)
            reason = f"CannotStartContainerError: {_api_message(exc)}"
            self._send_exit(rec, RunnerEvent(EXITED, rec.job_id, rec.attempt, now_ms(), reason=reason,
                                             status_reason=FAILED_TO_START,
                                             containers=tuple(MemberResult(m.name, None, reason)
                                                              for m in getattr(spec, "members", ()))))
            return
        with self._lock:
            rec.pod = manifest["metadata"]["name"]
            rec.listed_after = time.monotonic()
            stopping = rec.stopping
        if stopping:                 # stop() raced with the create
            self._delete(rec.target, rec.pod, 0)

    def _stop_pod(self, rec: _Attempt, name: str, grace: float) -> None:
        if grace <= 0:
            self._delete(rec.target, name, 0)
            return
        # activeDeadlineSeconds may only be set or lowered: 1 has passed for a running pod. A
        # JSON patch (a list), the one content type every client version sends for a list.
        try:
            rec.target.api.patch_namespaced_pod(name, rec.target.namespace, DEADLINE_NOW)
        except Exception as exc:
            log.info("kubernetes runner: cutting the deadline of %s failed (%s); deleting it", name,
                     _api_message(exc))
            self._delete(rec.target, name, grace)

    def _delete(self, target: Target, name: str, grace: float) -> None:
        try:
            target.api.delete_namespaced_pod(name, target.namespace, grace_period_seconds=int(grace))
        except Exception as exc:
            if getattr(exc, "status", None) != 404:
                log.warning("kubernetes runner: deleting pod %s failed: %s", name, _api_message(exc))

    def _list(self, target: Target) -> dict:
        response = target.api.list_namespaced_pod(target.namespace, label_selector=self.selector,
                                                  _preload_content=False)
        return json.loads(response.data)

    # ---- the watch thread ---------------------------------------------------------------------

    def _watch_loop(self, target: Target) -> None:
        """List, then watch from the list's resourceVersion; list again after any break (an
        expired version, a dropped connection), so no pod change is missed for long. One per
        Target (_watch)."""
        while not self._closing.is_set():
            try:
                asked = time.monotonic()
                listing = self._list(target)
                for pod in listing["items"]:
                    self.on_pod("MODIFIED", pod)
                self._check_vanished(target, {p["metadata"]["name"] for p in listing["items"]}, asked)
                version = listing["metadata"].get("resourceVersion")
                watch = self._watch_factory() if self._watch_factory else _new_watch()
                for event in watch.stream(target.api.list_namespaced_pod, target.namespace,
                                          label_selector=self.selector, resource_version=version,
                                          timeout_seconds=30):
                    if self._closing.is_set():
                        watch.stop()
                        break
                    if event.get("type") == "ERROR":
                        break
                    self.on_pod(event["type"], event.get("raw_object") or {})
            except Exception as exc:
                if not self._closing.is_set():
                    log.warning("kubernetes runner: watching pods failed (%s); again in 2 s", _api_message(exc))
                    self._closing.wait(2)

    def on_pod(self, kind: str, pod: dict) -> None:
        """One pod event (ADDED/MODIFIED/DELETED) -> RUNNING or the final read (ops pool)."""
        key = pods.pod_key(pod)
        with self._lock:
            rec = self._attempts.get(key) if key else None
            if rec is None or rec.pod not in (None, pod["metadata"]["name"]):
                return
            rec.pod = pod["metadata"]["name"]
            rec.node = pods.node_name(pod) or rec.node
        if rec.layout:
            self._on_task_pod(rec, kind, pod)
            return
        state = pods.pod_state(pod)
        if state.kind == "exited" and state.exit_code is not None:
            rec.exit_code = state.exit_code
        if kind == "DELETED":
            if state.kind != "exited" or state.exit_code is None:
                state = self._vanished_state(rec, state)
            self._queue_finish(rec, state, readable=False)
        elif state.kind == "running":
            # Pod times have whole seconds: never before the attempt was handed over.
            self._send_running(rec, max(state.started_ms or now_ms(), rec.created_ms), pods.pod_address(pod))
        elif state.kind in ("exited", "failed_to_start"):
            self._queue_finish(rec, state, readable=True)

    def _vanished_state(self, rec: _Attempt, state: pods.PodState) -> pods.PodState:
        """A pod deleted before its exit was seen: stopped by us (its last exit code, if any), or
        its node went away (Batch's lost-host reason, no exit code; ref §6.5)."""
        if not rec.running_sent:
            return pods.PodState("failed_to_start", reason="stopped before start" if rec.stopping
                                 else "CannotStartContainerError: the pod was deleted")
        if rec.stopping:
            return pods.PodState("exited", exit_code=rec.exit_code)
        return pods.PodState("exited", exit_code=None, reason=pods.HOST_TERMINATED.format(rec.node or "unknown"))

    def _check_vanished(self, target: Target, listed: set, asked: float) -> None:
        """After a (re)list of `target`: a pod of it created before the list was asked for and
        missing from it went away while we weren't watching."""
        with self._lock:
            gone = [rec for rec in self._attempts.values() if rec.target is target and rec.pod
                    and rec.pod not in listed and rec.listed_after < asked and not rec.finishing]
        for rec in gone:
            self._queue_finish(rec, self._vanished_state(rec, pods.PodState("pending")), readable=False)

    def _queue_finish(self, rec: _Attempt, state: pods.PodState, readable: bool) -> None:
        with self._lock:
            if rec.finishing:
                return
            rec.finishing = True
        self._submit(self._finish, rec, state, readable)

    def _finish(self, rec: _Attempt, state, readable: bool) -> None:
        """The output not reported yet (while the pod can still be read), then EXITED, then the
        pod goes."""
        if rec.layout:
            self._finish_task(rec, state, readable)
            return
        if state.kind == "failed_to_start" and rec.running_sent:
            # It had run (e.g. stopped, then deleted before its exit code was seen).
            state = pods.PodState("exited", exit_code=rec.exit_code)
        with self._emit_lock:
            if state.kind == "failed_to_start":
                event = RunnerEvent(EXITED, rec.job_id, rec.attempt, now_ms(), exit_code=None,
                                    reason=state.reason, status_reason=FAILED_TO_START)
            else:
                if state.started_ms:
                    self._send_running(rec, max(state.started_ms, rec.created_ms))
                if readable:
                    lines = self._read_new(rec)
                    if lines:
                        self._emit(RunnerEvent(LOG, rec.job_id, rec.attempt, lines[-1][0], lines=tuple(lines)))
                event = RunnerEvent(EXITED, rec.job_id, rec.attempt,
                                    max(state.finished_ms or now_ms(), rec.created_ms),
                                    exit_code=state.exit_code, reason=state.reason, oom=state.oom)
            self._send_exit(rec, event)
        self._forget(rec)
        if readable and rec.pod:
            self._delete(rec.target, rec.pod, 0)

    # ---- output -------------------------------------------------------------------------------

    def _log_loop(self) -> None:
        while not self._closing.wait(self.log_interval):
            with self._lock:
                running = [rec for rec in self._attempts.values()
                           if rec.pod and rec.running_sent and not rec.finishing]
            for rec in running:
                for container in rec.containers():
                    if rec.layout and (rec.members.get(container) or task_pods.MemberState()).status not in (
                            task_pods.RUNNING, task_pods.EXITED):
                        continue
                    try:
                        lines = self._read_new(rec, container)
                    except Exception as exc:
                        log.debug("kubernetes runner: reading the log of %s: %s", rec.pod, _api_message(exc))
                        continue
                    self._emit_lines(rec, lines, container)

    def _read_new(self, rec: _Attempt, container: str = pods.CONTAINER) -> list:
        """Lines of one container after its mark. Reads from a second before the mark (the API's
        sinceSeconds granularity) and drops what was reported."""
        with rec.log_lock:
            mark = rec.mark_of(container)
            kwargs = {"timestamps": True}
            if mark.ts_ms:
                kwargs["since_seconds"] = max(1, int((now_ms() - mark.ts_ms) / 1000) + 2)
            try:
                raw = rec.target.api.read_namespaced_pod_log(rec.pod, rec.target.namespace, container=container,
                                                             **kwargs)
            except Exception as exc:
                if getattr(exc, "status", None) in (400, 404):
                    return []        # not started, or already gone
                raise
            return pods.new_lines(raw, mark)

    # ---- events out -------------------------------------------------------------------------

    def _send_running(self, rec: _Attempt, at_ms: int, address: str | None = None) -> None:
        with self._emit_lock:
            if rec.running_sent or rec.exited_sent:
                return
            rec.running_sent = True
            self._emit(RunnerEvent(RUNNING, rec.job_id, rec.attempt, at_ms, address=address))

    def _send_exit(self, rec: _Attempt, event: RunnerEvent) -> None:
        with self._emit_lock:
            if rec.exited_sent:
                return
            rec.exited_sent = True
            self._emit(event)

    def _emit(self, event: RunnerEvent) -> None:
        deliver(self._listener, event, "kubernetes")

    def _forget(self, rec: _Attempt) -> None:
        with self._lock:
            if self._attempts.get((rec.job_id, rec.attempt)) is rec:
                del self._attempts[(rec.job_id, rec.attempt)]

    def _submit(self, fn, *args) -> None:
        submit_guarded(self._ops, "kubernetes runner", fn, *args)


def _new_watch():
    return watch.Watch()


def _api_message(exc) -> str:
    """The message of a Kubernetes API error (its Status body), else the exception's text."""
    body = getattr(exc, "body", None)
    if body:
        try:
            return json.loads(body).get("message") or str(body)
        except (TypeError, ValueError):
            return str(body)
    return str(exc)
