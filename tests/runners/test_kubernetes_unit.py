"""The Kubernetes runner without a cluster: the pod manifest of a LaunchSpec (as Batch on EKS
shapes its pods), how pod statuses become RunnerEvents (exit codes, OOMKilled, DeadlineExceeded,
pull failures, a vanished pod), stop and reattach requests, and log reading after a mark.
A fake CoreV1Api records the calls and serves pods; events are fed through the runner's
on_pod, as its watch thread does. The real-cluster tests are in test_kubernetes_cluster.py."""

from __future__ import annotations

import datetime
import json
import threading
import time
import types

import pytest

from batchemu.runners import kube_pods as pods
from batchemu.runners.base import EXITED, LOG, RUNNING, LaunchSpec, Mount, OutputMark, Room
from batchemu.runners.kubernetes import KubernetesRunner
from tests.runners.events import EventLog

SPEC = LaunchSpec(job_id="a1b2-c3:7", attempt=2, name="batchemu-x", image="busybox:1",
                  command=["sh", "-c", "echo hi"], environment={"AWS_BATCH_JOB_ID": "a1b2-c3:7"},
                  vcpus=0.5, memory_mib=256, labels={"batchemu.job-name": "x"})


class ApiError(Exception):
    def __init__(self, status, message="boom"):
        super().__init__(message)
        self.status = status
        self.body = json.dumps({"message": message})


class FakeApi:
    """Enough of CoreV1Api: pods by name, and a log text per pod."""

    def __init__(self):
        self.pods, self.logs, self.calls = {}, {}, []
        self.lock = threading.Lock()
        self.create_error = None

    def create_namespaced_pod(self, namespace, body):
        self.calls.append(("create", namespace, body))
        if self.create_error:
            raise self.create_error
        self.pods[body["metadata"]["name"]] = json.loads(json.dumps(body))

    def patch_namespaced_pod(self, name, namespace, body):
        self.calls.append(("patch", name, body))

    def delete_namespaced_pod(self, name, namespace, grace_period_seconds=None):
        self.calls.append(("delete", name, grace_period_seconds))
        if self.pods.pop(name, None) is None:
            raise ApiError(404)

    def list_namespaced_pod(self, namespace, label_selector=None, _preload_content=True, **kwargs):
        items = [p for p in self.pods.values()
                 if label_selector == f"{pods.LABEL_SERVER}={p['metadata']['labels'][pods.LABEL_SERVER]}"]
        return types.SimpleNamespace(data=json.dumps({"metadata": {"resourceVersion": "1"}, "items": items}))

    def read_namespaced_pod_log(self, name, namespace, container=None, timestamps=False, since_seconds=None):
        self.calls.append(("log", name, since_seconds))
        if name not in self.logs:
            raise ApiError(400, "container is waiting to start")
        return self.logs[name]

    def list_node(self, _preload_content=True):
        return types.SimpleNamespace(data=json.dumps({"items": [
            {"status": {"allocatable": {"nvidia.com/gpu": "2"}}}, {"status": {"allocatable": {}}}]}))


def with_status(pod, phase, state=None, reason=None, node="dsim-k1"):
    pod = json.loads(json.dumps(pod))
    pod["spec"]["nodeName"] = node
    pod["status"] = {"phase": phase, **({"reason": reason} if reason else {}),
                     "containerStatuses": [{"name": "main", "state": state or {}}]}
    return pod


# Pod times an hour ahead: the runner never reports a time before it was handed the attempt.
_BASE = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(hours=1)


def at(seconds: float) -> str:
    moment = _BASE + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{moment.microsecond:06d}" if moment.microsecond else "") + "Z"


STARTED = at(1)
RUN = {"running": {"startedAt": STARTED}}


def term(code, reason="Completed"):
    return {"terminated": {"exitCode": code, "reason": reason, "startedAt": STARTED,
                           "finishedAt": at(3.25)}}


@pytest.fixture()
def api():
    return FakeApi()


@pytest.fixture()
def runner(api):
    r = KubernetesRunner("srv1", api, "jobs", start_threads=False)
    yield r
    r.close()


def started(runner, api, events, spec=SPEC):
    runner.set_listener(events)
    runner.start(spec)
    deadline = time.time() + 5
    while not api.pods and time.time() < deadline:
        time.sleep(0.01)
    return next(iter(api.pods.values()))


def settle(runner):
    """Wait for the ops pool's queued work."""
    runner._ops.submit(lambda: None).result(5)
    runner._ops.submit(lambda: None).result(5)


# ---- the manifest ------------------------------------------------------------------------

def test_pod_manifest_is_shaped_like_batch_on_eks():
    pod = pods.pod_manifest(SPEC, "srv1", "missing", grace_seconds=2.5)
    meta, spec = pod["metadata"], pod["spec"]
    assert pod["kind"] == "Pod" and meta["name"].startswith("aws-batch.")
    assert meta["labels"][pods.LABEL_SERVER] == "srv1"
    assert meta["labels"][pods.LABEL_JOB] == "a1b2-c3-7"          # ':' is not allowed in a label value
    assert meta["labels"][pods.LABEL_ATTEMPT] == "2"
    assert meta["annotations"][pods.ANNOTATION_JOB] == "a1b2-c3:7"  # exact, for reattach
    assert spec["restartPolicy"] == "Never" and spec["hostNetwork"] is True
    assert spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert spec["terminationGracePeriodSeconds"] == 3
    container = spec["containers"][0]
    assert container["image"] == "busybox:1" and container["imagePullPolicy"] == "IfNotPresent"
    assert container["args"] == ["sh", "-c", "echo hi"] and "command" not in container
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "256Mi"},
                                      "limits": {"cpu": "500m", "memory": "256Mi"}}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["AWS_BATCH_JOB_ID"] == "a1b2-c3:7"
    assert env["AWS_BATCH_JOB_KUBERNETES_NODE_UID"] == meta["labels"][pods.LABEL_NODE_UID]


def test_pod_manifest_options():
    spec = LaunchSpec(job_id="j", attempt=1, name="n", image="i", command=[], environment={}, vcpus=2,
                      memory_mib=64, gpus=1, user="1000:100", readonly_root=True,
                      mounts=(Mount("/data", "/in", True),), shared_memory_mib=32, pull_policy="never")
    pod = pods.pod_manifest(spec, "s", "always", host_network=False,
                            node={"labels": {"batchemu/node-index": "1"}, "env": {"AWS_BATCH_JOB_NODE_INDEX": "1"}})
    container = pod["spec"]["containers"][0]
    assert "args" not in container and container["imagePullPolicy"] == "Never"
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "64Mi", "nvidia.com/gpu": "1"}
    assert container["securityContext"] == {"readOnlyRootFilesystem": True, "runAsUser": 1000, "runAsGroup": 100}
    assert pod["spec"]["hostNetwork"] is False and pod["spec"]["dnsPolicy"] == "ClusterFirst"
    assert {"name": "host-0", "hostPath": {"path": "/data"}} in pod["spec"]["volumes"]
    assert {"name": "shm", "mountPath": "/dev/shm"} in container["volumeMounts"]
    assert pod["metadata"]["labels"]["batchemu/node-index"] == "1"
    assert {"name": "AWS_BATCH_JOB_NODE_INDEX", "value": "1"} in container["env"]


def test_label_value_rules():
    assert pods.label_value("x" * 80 + ":1") == "x" * 63
    assert pods.label_value(":a:") == "a"


# ---- pod status -> events --------------------------------------------------------------------

def test_running_then_exit_code_logs_and_pod_deleted(runner, api):
    events = EventLog()
    pod = started(runner, api, events)
    name = pod["metadata"]["name"]
    runner.on_pod("MODIFIED", with_status(pod, "Pending"))
    assert not events.events
    runner.on_pod("MODIFIED", with_status(pod, "Running", RUN))
    assert events.wait_kind(RUNNING, SPEC.job_id, 2).at_ms == pods.parse_time(STARTED)
    api.logs[name] = f"{at(2)} hello\n{at(2.5)} world\n"
    runner.on_pod("MODIFIED", with_status(pod, "Failed", term(3, "Error")))
    exited = events.wait_kind(EXITED, SPEC.job_id, 2)
    assert (exited.exit_code, exited.reason, exited.oom) == (3, None, False)
    assert exited.at_ms == pods.parse_time(at(3.25))
    log_event = [e for e in events.events if e.kind == LOG][0]
    assert [text for _, text in log_event.lines] == ["hello", "world"]
    assert events.events.index(log_event) < events.events.index(exited)   # output before the exit
    settle(runner)
    assert name not in api.pods                                           # deleted once reported


def test_oom_killed_is_aws_out_of_memory(runner, api):
    events = EventLog()
    pod = started(runner, api, events)
    runner.on_pod("MODIFIED", with_status(pod, "Failed", term(137, "OOMKilled")))
    exited = events.wait_kind(EXITED, SPEC.job_id, 2)
    assert exited.oom and exited.exit_code == 137
    assert exited.reason == "OutOfMemoryError: Container killed due to memory usage"


@pytest.mark.parametrize("waiting", ["ErrImageNeverPull", "ImagePullBackOff", "ErrImagePull"])
def test_pull_failures_fail_the_start(runner, api, waiting):
    events = EventLog()
    pod = started(runner, api, events)
    runner.on_pod("MODIFIED", with_status(pod, "Pending", {"waiting": {"reason": waiting, "message": "no x:1"}}))
    exited = events.wait_kind(EXITED, SPEC.job_id, 2)
    assert exited.exit_code is None and exited.reason == "CannotPullContainerError: no x:1"
    assert exited.status_reason == "Task failed to start"
    settle(runner)
    assert not api.pods


def test_stop_cuts_the_deadline_and_deadline_exceeded_keeps_the_exit(runner, api):
    events = EventLog()
    pod = started(runner, api, events)
    name = pod["metadata"]["name"]
    runner.on_pod("MODIFIED", with_status(pod, "Running", RUN))
    runner.stop(SPEC.job_id, 2, 30)
    settle(runner)
    assert ("patch", name, [{"op": "add", "path": "/spec/activeDeadlineSeconds", "value": 1}]) in api.calls
    runner.on_pod("MODIFIED", with_status(pod, "Failed", term(143, "Error"), reason="DeadlineExceeded"))
    assert events.wait_kind(EXITED, SPEC.job_id, 2).exit_code == 143


def test_deadline_exceeded_with_a_stale_running_container(runner, api):
    """A 1.20 kubelet marks the pod Failed/DeadlineExceeded and never updates its container's
    (running) state: the attempt ends with no exit code, its output read."""
    events = EventLog()
    pod = started(runner, api, events)
    api.logs[pod["metadata"]["name"]] = f"{at(2)} started\n"
    runner.on_pod("MODIFIED", with_status(pod, "Running", RUN))
    runner.on_pod("MODIFIED", with_status(pod, "Failed", RUN, reason="DeadlineExceeded"))
    exited = events.wait_kind(EXITED, SPEC.job_id, 2)
    assert exited.exit_code is None and exited.reason is None
    assert [t for _, t in events.wait_kind(LOG, SPEC.job_id, 2).lines] == ["started"]


def test_stop_before_running_deletes_at_once(runner, api):
    events = EventLog()
    pod = started(runner, api, events)
    settle(runner)
    runner.stop(SPEC.job_id, 2, 30)
    settle(runner)
    assert ("delete", pod["metadata"]["name"], 0) in api.calls
    runner.on_pod("DELETED", with_status(pod, "Pending"))
    assert events.wait_kind(EXITED, SPEC.job_id, 2).status_reason == "Task failed to start"


def test_deleted_running_pod_is_a_lost_host(runner, api):
    events = EventLog()
    pod = started(runner, api, events)
    runner.on_pod("MODIFIED", with_status(pod, "Running", RUN, node="dsim-k2"))
    runner.on_pod("DELETED", with_status(pod, "Running", RUN, node="dsim-k2"))
    exited = events.wait_kind(EXITED, SPEC.job_id, 2)
    assert exited.exit_code is None and exited.reason == "Host EC2 (instance dsim-k2) terminated."


def test_create_refused_fails_the_start(runner, api):
    events = EventLog()
    api.create_error = ApiError(403, 'pods is forbidden: User "x" cannot create resource "pods"')
    runner.set_listener(events)
    runner.start(SPEC)
    exited = events.wait_kind(EXITED, SPEC.job_id, 2)
    assert exited.reason.startswith("CannotStartContainerError: pods is forbidden")


def test_other_servers_pods_are_ignored(runner, api):
    events = EventLog()
    pod = started(runner, api, events)
    other = with_status(pod, "Succeeded", term(0))
    other["metadata"]["annotations"][pods.ANNOTATION_JOB] = "someone-else"
    runner.on_pod("MODIFIED", other)
    settle(runner)
    assert not events.events


# ---- reattach ---------------------------------------------------------------------------

def test_reattach_adopts_collects_and_deletes(api):
    def put(job, attempt, phase, state, server="srv1"):
        spec = LaunchSpec(job_id=job, attempt=attempt, name=job, image="i", command=[], environment={})
        pod = with_status(pods.pod_manifest(spec, server), phase, state)
        api.pods[pod["metadata"]["name"]] = pod
        return pod["metadata"]["name"]

    running = put("run", 1, "Running", RUN)
    done = put("done", 3, "Failed", term(137, "OOMKilled"))
    old = put("old", 1, "Succeeded", term(0))          # an attempt the store does not want
    pending = put("pend", 1, "Pending", {"waiting": {"reason": "ContainerCreating"}})
    foreign = put("run", 1, "Running", RUN, server="other")
    api.logs[done] = "2026-12-07T10:00:02Z seen\n2026-12-07T10:00:02Z new\n2026-12-07T10:00:03Z newer\n"
    runner = KubernetesRunner("srv1", api, "jobs", start_threads=False)
    events = EventLog()
    runner.set_listener(events)
    try:
        found = runner.reattach({"run": 1, "done": 3, "pend": 1},
                                {"done": OutputMark(pods.parse_time("2026-12-07T10:00:02Z"), ("seen",))})
        settle(runner)
    finally:
        runner.close()
    by_job = {s.job_id: s for s in found}
    assert set(by_job) == {"run", "done"}                       # pend never ran: started again
    assert by_job["run"].running and by_job["run"].started_ms == pods.parse_time(STARTED)
    assert not by_job["done"].running and by_job["done"].exit_code == 137 and by_job["done"].oom
    assert [t for _, t in events.wait_kind(LOG, "done", 3).lines] == ["new", "newer"]
    assert set(api.pods) == {running, foreign}                  # done, old and pend deleted
    assert old not in api.pods and pending not in api.pods


def test_gpus_from_nodes(runner):
    assert runner.gpus() == 2


# ---- logs --------------------------------------------------------------------------------

def test_new_lines_after_mark():
    mark = pods.LogMark()
    raw = "2026-12-07T10:00:01.5Z a\n2026-12-07T10:00:01.5Z a\n2026-12-07T10:00:02Z b\n"
    assert [t for _, t in pods.new_lines(raw, mark)] == ["a", "a", "b"]
    assert [t for _, t in pods.new_lines(raw + "2026-12-07T10:00:02Z b\n2026-12-07T10:00:03Z c\n", mark)] \
        == ["b", "c"]
    assert pods.new_lines(raw, mark) == []


def test_parse_time_forms():
    assert pods.parse_time("2026-12-07T10:00:01Z") == 1796637601000
    assert pods.parse_time("2026-12-07T10:00:01.123456789Z") == 1796637601123
    assert pods.parse_time("2026-12-07T10:00:01+01:00") == 1796637601000 - 3600_000
    assert pods.parse_time("garbage") is None


# ---- configuration -----------------------------------------------------------------------

def test_make_runner_names_a_bad_kubeconfig(tmp_path):
    from batchemu.config import Config
    from batchemu.runners.select import make_runner

    with pytest.raises(SystemExit, match="--runner kubernetes: cannot load the cluster configuration"):
        make_runner(Config(runner="kubernetes", kubeconfig=str(tmp_path / "missing"), ephemeral=True), "s")


def test_make_runner_reads_namespace_from_context(tmp_path):
    from batchemu.config import Config
    from batchemu.runners.select import make_runner

    path = tmp_path / "kubeconfig"
    path.write_text("""apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: a, context: {cluster: c, user: u, namespace: ns-a}}, {name: b, context: {cluster: c, user: u}}]
users: [{name: u, user: {token: t}}]
current-context: a
""")
    runner = make_runner(Config(runner="kubernetes", kubeconfig=str(path), ephemeral=True), "s")
    try:
        assert runner.name == "kubernetes" and runner.namespace == "ns-a"
    finally:
        runner.close()
    runner = make_runner(Config(runner="kubernetes", kubeconfig=str(path), kube_context="b",
                                kube_namespace="", ephemeral=True), "s")
    try:
        assert runner.namespace == "default"
    finally:
        runner.close()


def test_job_endpoint_for_pods_is_the_bound_address():
    from batchemu.config import Config
    from batchemu.job_endpoint import JobEndpoint

    endpoint = JobEndpoint(Config(runner="kubernetes", host="10.231.0.254", port=8123))
    assert endpoint.url() == "http://10.231.0.254:8123"
    advertised = JobEndpoint(Config(runner="kubernetes", advertise_url="http://h:1/", port=8123))
    assert advertised.url() == "http://h:1"


# ---- what the nodes can hold -------------------------------------------------------------

def node(cpu, memory, ready="True", **spec):
    return {"spec": spec, "status": {"allocatable": {"cpu": cpu, "memory": memory},
                                     "conditions": [{"type": "Ready", "status": ready}]}}


def test_quantities_as_nodes_report_them():
    assert pods.quantity("2") == 2 and pods.quantity("1500m") == 1.5
    assert pods.quantity("16318284Ki") == 16318284 * 1024 and pods.quantity("8Gi") == 8 * 2 ** 30
    assert pods.quantity("lots") == 0 and pods.quantity(None) == 0


def test_room_counts_ready_schedulable_nodes_only():
    nodes = [node("2", "4Gi"), node("3500m", "2Gi"),
             node("64", "256Gi", ready="False"),                          # NotReady
             node("64", "256Gi", unschedulable=True),                     # cordoned
             node("64", "256Gi", taints=[{"key": "k", "effect": "NoSchedule"}])]
    assert pods.room(nodes) == Room(vcpus=5.5, memory_mib=6144, node_vcpus=3.5, node_memory_mib=4096)
    assert pods.room([node("64", "1Gi", ready="False")]) is None


def test_runner_reads_the_nodes_at_most_every_few_seconds(runner, api, monkeypatch):
    reads = []
    monkeypatch.setattr(api, "list_node", lambda _preload_content=True: reads.append(1) or types.SimpleNamespace(
        data=json.dumps({"items": [node("4", "8Gi"), node("2", "2Gi")]})))
    assert runner.room() == Room(vcpus=6, memory_mib=10240, node_vcpus=4, node_memory_mib=8192)
    assert runner.room() is runner.room() and len(reads) == 1
    monkeypatch.setattr(api, "list_node", lambda _preload_content=True: (_ for _ in ()).throw(ApiError(403)))
    runner._room_read -= 60                     # the cached answer is old now
    assert runner.room() is None                # no RBAC on nodes: no bound
