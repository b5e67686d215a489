"""The Kubernetes runner and the real `kubernetes` client against a fake API server over HTTP
(tests/runners/fake_kube_api.py): the requests the runner sends (paths, namespaces, label
selectors, content types, bodies), its watch (list, then watch from the list's version; an
expired watch makes it list again and catch up with what it missed) and each compute
environment's cluster picked from a kubeconfig with one context per fake server."""

from __future__ import annotations

import time

import pytest

from batchemu.runners import kube_pods as pods
from batchemu.runners.base import EXITED, RUNNING, ClusterPlace, LaunchSpec, Room
from batchemu.runners.kube_clusters import connect
from batchemu.runners.kubernetes import KubernetesRunner
from tests.runners.events import EventLog
from tests.runners.fake_kube_api import FakeKubeApi, kubeconfig

SPEC = LaunchSpec(job_id="job-1", attempt=1, name="batchemu-x", image="busybox:1", command=["echo", "hi"],
                  environment={"AWS_BATCH_JOB_ID": "job-1"}, vcpus=1, memory_mib=64)
EKS_ARN = "arn:aws:eks:us-east-1:123456789012:cluster/team"
NOW = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))


@pytest.fixture()
def fake():
    api = FakeKubeApi()
    yield api
    api.close()


@pytest.fixture()
def runner_of(tmp_path):
    made = []

    def make(contexts: dict, current: str, **kwargs):
        path = kubeconfig(tmp_path / "kubeconfig", contexts, current)
        runner = KubernetesRunner("srv", clusters=connect(path), log_interval=0.2, **kwargs)
        made.append(runner)
        return runner
    yield make
    for runner in made:
        runner.close()


def wait(predicate, what: str, timeout: float = 10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def with_state(pod: dict, phase: str, state: dict) -> dict:
    pod = dict(pod, spec=dict(pod["spec"], nodeName="node-a"))
    # Every field the API server always sends (the client's models require them).
    pod["status"] = {"phase": phase, "podIP": "10.0.0.9", "containerStatuses": [{
        "name": pods.CONTAINER, "state": state, "image": "busybox:1", "imageID": "docker://sha256:1",
        "ready": phase == "Running", "restartCount": 0}]}
    return pod


def test_the_requests_the_runner_sends(fake, runner_of):
    runner = runner_of({"local": (fake, "jobs")}, "local")
    events = EventLog()
    runner.set_listener(events)
    runner.start(SPEC)
    (create,) = wait(lambda: fake.calls("POST"), "the pod's creation")
    method, path, query, content_type, body = create
    assert path == "/api/v1/namespaces/jobs/pods"   # (client 37 sends no Content-Type; the API server reads JSON)
    assert body["kind"] == "Pod" and body["metadata"]["labels"][pods.LABEL_SERVER] == "srv"
    assert body["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "1", "memory": "64Mi"}
    lists = fake.calls("GET", "/api/v1/namespaces/jobs/pods")
    assert any(q.get("labelSelector") == f"{pods.LABEL_SERVER}=srv" for _, _, q, _, _ in lists)
    name = body["metadata"]["name"]
    pod = fake.pods[("jobs", name)]
    fake.logs[("jobs", name, pods.CONTAINER)] = f"{NOW} hi\n"
    fake.set_pod(with_state(pod, "Running", {"running": {"startedAt": NOW}}))
    events.wait_kind(RUNNING, "job-1")
    wait(lambda: events.lines("job-1"), "the live log")
    log_reads = fake.calls("GET", f"/pods/{name}/log")
    assert log_reads[0][2]["container"] == pods.CONTAINER and log_reads[0][2]["timestamps"] == "true"
    runner.stop("job-1", 1, grace_seconds=5)
    (patch,) = wait(lambda: fake.calls("PATCH"), "the stop")
    assert patch[1] == f"/api/v1/namespaces/jobs/pods/{name}"
    assert patch[3] == "application/json-patch+json"
    assert patch[4] == [{"op": "add", "path": "/spec/activeDeadlineSeconds", "value": 1}]
    fake.set_pod(with_state(fake.pods[("jobs", name)], "Failed", {"terminated": {
        "exitCode": 143, "reason": "Error", "startedAt": NOW, "finishedAt": NOW}}))
    assert events.wait_kind(EXITED, "job-1").exit_code == 143
    (delete,) = wait(lambda: fake.calls("DELETE"), "the pod's deletion")
    assert delete[1] == f"/api/v1/namespaces/jobs/pods/{name}" and delete[2].get("gracePeriodSeconds") == "0"
    assert events.lines("job-1") == ["hi"]            # read once, not again at the end


def test_an_expired_watch_lists_again_and_catches_up(fake, runner_of):
    runner = runner_of({"local": (fake, "jobs")}, "local")
    events = EventLog()
    runner.set_listener(events)
    for job_id in ("a", "b"):
        runner.start(LaunchSpec(job_id=job_id, attempt=1, name=job_id, image="i", command=[], environment={}))
    wait(lambda: len(fake.calls("POST")) == 2, "both pods")
    pod_a, pod_b = (next(p for p in fake.pods.values() if p["metadata"]["annotations"][pods.ANNOTATION_JOB] == j)
                    for j in ("a", "b"))
    fake.set_pod(with_state(pod_a, "Running", {"running": {"startedAt": NOW}}))
    fake.set_pod(with_state(pod_b, "Running", {"running": {"startedAt": NOW}}))
    events.wait_kind(RUNNING, "a")
    events.wait_kind(RUNNING, "b")
    lists_before = len([r for r in fake.calls("GET", "/namespaces/jobs/pods") if r[2].get("watch") != "true"])
    # While the watch is expired: a ends (no event sent), b's pod is deleted (its node went away).
    fake.expire_watch()
    fake.set_pod(with_state(pod_a, "Succeeded", {"terminated": {"exitCode": 0, "startedAt": NOW, "finishedAt": NOW}}),
                 event=None)
    with fake.lock:
        del fake.pods[("jobs", pod_b["metadata"]["name"])]
    assert events.wait_kind(EXITED, "a", timeout=20).exit_code == 0
    lost = events.wait_kind(EXITED, "b", timeout=20)
    assert lost.exit_code is None and lost.reason == pods.HOST_TERMINATED.format("node-a")
    lists_after = [r for r in fake.calls("GET", "/namespaces/jobs/pods") if r[2].get("watch") != "true"]
    assert len(lists_after) > lists_before             # it listed again
    watches = [r for r in fake.calls("GET", "/namespaces/jobs/pods") if r[2].get("watch") == "true"]
    assert all(r[2].get("resourceVersion") for r in watches)   # each watch from a list's version


def test_each_place_goes_to_its_own_cluster_and_namespace(fake, runner_of):
    other = FakeKubeApi()
    try:
        other.nodes = [{"spec": {}, "status": {"allocatable": {"cpu": "2", "memory": "4Gi"},
                                               "conditions": [{"type": "Ready", "status": "True"}]}}]
        fake.nodes = [{"spec": {}, "status": {"allocatable": {"cpu": "8", "memory": "32Gi"},
                                              "conditions": [{"type": "Ready", "status": "True"}]}}]
        runner = runner_of({"local": (fake, "jobs"), EKS_ARN: (other, None)}, "local")
        runner.set_listener(EventLog())
        runner.start(SPEC)
        runner.start(LaunchSpec(job_id="eks-job", attempt=1, name="e", image="i", command=[], environment={},
                                place=ClusterPlace(EKS_ARN, "team-a")))
        wait(lambda: fake.calls("POST") and other.calls("POST"), "both pods")
        assert [r[1] for r in fake.calls("POST")] == ["/api/v1/namespaces/jobs/pods"]
        assert [r[1] for r in other.calls("POST")] == ["/api/v1/namespaces/team-a/pods"]
        # The eks namespace has a watch of its own on its own server.
        wait(lambda: any(r[2].get("watch") == "true" for r in other.calls("GET", "/namespaces/team-a/pods")),
             "a watch of team-a")
        assert runner.room() == Room(8, 32768, 8, 32768)   # the runner's own cluster's nodes
    finally:
        other.close()
