"""Where the Kubernetes runner puts pods (runners.kube_clusters), without a cluster: the
kubeconfig context an EKS cluster ARN names, one Target per (context, namespace), and the
runner creating, reading, finding after a restart and deleting each pod in its own namespace
of its own cluster. Fake CoreV1Apis record the calls; the real cluster's test is in
tests/e2e/test_kubernetes_cluster.py."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest

from batchemu.runners import kube_pods as pods
from batchemu.runners.base import EXITED, LOG, ClusterPlace
from batchemu.runners.kube_clusters import Clusters, connect, context_for
from batchemu.runners.kubernetes import KubernetesRunner
from tests.runners.events import EventLog
from tests.runners.test_kubernetes_unit import SPEC, FakeApi, settle, term, with_status

ARN = "arn:aws:eks:us-east-1:123456789012:cluster/batch-eks"
CONTEXTS = [{"name": "laptop", "context": {"cluster": "laptop"}},
            {"name": ARN, "context": {"cluster": ARN}},
            {"name": "kind-batch", "context": {"cluster": "kind-batch"}},
            {"name": "admin@other", "context": {"cluster": "other"}}]


class NamespacedApi(FakeApi):
    """FakeApi whose pods live in namespaces: each call sees only its namespace's pods."""

    def __init__(self, name):
        super().__init__()
        self.name = name

    def create_namespaced_pod(self, namespace, body):
        body = dict(body, metadata=dict(body["metadata"], namespace=namespace))
        super().create_namespaced_pod(namespace, body)

    def list_namespaced_pod(self, namespace, label_selector=None, _preload_content=True, **kwargs):
        listing = json.loads(super().list_namespaced_pod(namespace, label_selector).data)
        listing["items"] = [p for p in listing["items"] if p["metadata"].get("namespace") == namespace]
        return type("R", (), {"data": json.dumps(listing)})()

    def delete_namespaced_pod(self, name, namespace, grace_period_seconds=None):
        self.calls.append(("delete-in", namespace, name))
        pod = self.pods.get(name)
        if pod is not None and pod["metadata"].get("namespace") != namespace:
            raise AssertionError(f"pod {name} is in {pod['metadata']['namespace']}, deleted in {namespace}")
        super().delete_namespaced_pod(name, namespace, grace_period_seconds)

    def read_namespaced_pod_log(self, name, namespace, **kwargs):
        self.calls.append(("log-in", namespace, name))
        return super().read_namespaced_pod_log(name, namespace, **kwargs)


@pytest.fixture()
def apis():
    made = {"laptop": NamespacedApi("laptop")}

    def api_for(context):
        made[context] = NamespacedApi(context)
        return made[context]
    return made, api_for


def clusters_of(apis):
    made, api_for = apis
    return Clusters(made["laptop"], "jobs", "laptop", CONTEXTS, api_for)


def test_a_cluster_arn_names_its_context_by_arn_then_by_cluster_name():
    assert context_for(ARN, CONTEXTS) == ARN                              # aws eks update-kubeconfig
    assert context_for("arn:aws:eks:eu-west-1:123456789012:cluster/kind-batch", CONTEXTS) == "kind-batch"
    assert context_for("arn:aws:eks:us-east-1:123456789012:cluster/other", CONTEXTS) == "admin@other"
    assert context_for("arn:aws:eks:us-east-1:123456789012:cluster/nowhere", CONTEXTS) is None
    by_cluster = [{"name": "short", "context": {"cluster": ARN}}]
    assert context_for(ARN, by_cluster) == "short"


def test_one_target_per_context_and_namespace(apis, caplog):
    made, _ = apis
    clusters = clusters_of(apis)
    assert clusters.target(None) is clusters.default
    assert (clusters.default.api, clusters.default.namespace) == (made["laptop"], "jobs")
    eks = clusters.target(ClusterPlace(ARN, "batch"))
    assert (eks.context, eks.namespace, eks.api) == (ARN, "batch", made[ARN])
    assert clusters.target(ClusterPlace(ARN, "batch")) is eks                 # one client, one target
    other_ns = clusters.target(ClusterPlace(ARN, "batch-b"))
    assert other_ns is not eks and other_ns.api is eks.api
    with caplog.at_level(logging.WARNING, logger="batchemu.runners.kube_clusters"):
        unknown = clusters.target(ClusterPlace("arn:aws:eks:us-east-1:123456789012:cluster/nowhere", "batch"))
        clusters.target(ClusterPlace("arn:aws:eks:us-east-1:123456789012:cluster/nowhere", "batch"))
    # An ARN no context names: the runner's own context, in the place's namespace, said once.
    assert (unknown.context, unknown.namespace, unknown.api) == ("laptop", "batch", made["laptop"])
    assert len([r for r in caplog.records if "nowhere" in r.getMessage()]) == 1
    own = clusters.target(ClusterPlace("", "team-a"))                      # a pod's own namespace
    assert (own.context, own.namespace) == ("laptop", "team-a")
    assert set(map(id, clusters.known())) == {id(t) for t in (clusters.default, eks, other_ns, unknown, own)}


def test_a_pod_lives_its_whole_life_in_its_place(apis):
    made, _ = apis
    runner = KubernetesRunner("srv1", clusters=clusters_of(apis), start_threads=False)
    events = EventLog()
    runner.set_listener(events)
    try:
        runner.start(dataclasses.replace(SPEC, place=ClusterPlace(ARN, "batch")))
        settle(runner)
        eks = made[ARN]
        assert [c[:2] for c in eks.calls if c[0] == "create"] == [("create", "batch")]
        assert not [c for c in made["laptop"].calls if c[0] == "create"]
        pod = next(iter(eks.pods.values()))
        name = pod["metadata"]["name"]
        eks.logs[name] = "2030-01-01T00:00:01Z done\n"
        runner.on_pod("MODIFIED", with_status(pod, "Succeeded", term(0)))
        assert events.wait_kind(EXITED, SPEC.job_id, 2).exit_code == 0
        settle(runner)
        assert ("log-in", "batch", name) in eks.calls and ("delete-in", "batch", name) in eks.calls
        assert [e.lines for e in events.events if e.kind == LOG] == [((pods.parse_time("2030-01-01T00:00:01Z"), "done"),)]
        assert not eks.pods
    finally:
        runner.close()


def test_after_a_restart_pods_are_found_and_cleaned_in_every_followed_place(apis):
    made, _ = apis
    first = KubernetesRunner("srv1", clusters=clusters_of(apis), start_threads=False)
    first.set_listener(EventLog())
    wanted_spec = dataclasses.replace(SPEC, place=ClusterPlace(ARN, "batch"))
    stale_spec = dataclasses.replace(SPEC, job_id="old-job", place=ClusterPlace(ARN, "batch-b"))
    first.start(wanted_spec)
    first.start(stale_spec)
    first.start(dataclasses.replace(SPEC, job_id="default-ns-job"))
    settle(first)
    first.close()                       # pods are left running on purpose
    eks = made[ARN]
    for name, pod in list(eks.pods.items()):
        eks.pods[name] = with_status(pod, "Running", {"running": {"startedAt": "2030-01-01T00:00:00Z"}})
    # A new runner (a restarted server) told where its compute environments put pods.
    made_again = {"laptop": made["laptop"]}
    again = KubernetesRunner("srv1", clusters=Clusters(made["laptop"], "jobs", "laptop", CONTEXTS,
                                                       lambda context: made_again.setdefault(context, eks)),
                             start_threads=False)
    again.set_listener(EventLog())
    try:
        again.follow([ClusterPlace(ARN, "batch"), ClusterPlace(ARN, "batch-b")])
        survivors = again.reattach({SPEC.job_id: SPEC.attempt})
        settle(again)
        assert [(s.job_id, s.running) for s in survivors] == [(SPEC.job_id, True)]
        left = {p["metadata"]["annotations"][pods.ANNOTATION_JOB]: p["metadata"]["namespace"]
                for p in eks.pods.values()}
        assert left == {SPEC.job_id: "batch"}          # the stale pod in batch-b was deleted there
        assert not made["laptop"].pods                  # and the unwanted one in the default namespace
        again.reset()
        assert not eks.pods
    finally:
        again.close()


def test_connect_makes_one_client_per_kubeconfig_context(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(f"""apiVersion: v1
kind: Config
clusters:
- {{name: laptop, cluster: {{server: "https://127.0.0.1:1"}}}}
- {{name: "{ARN}", cluster: {{server: "https://eks.example:443"}}}}
contexts:
- {{name: laptop, context: {{cluster: laptop, user: u, namespace: mine}}}}
- {{name: "{ARN}", context: {{cluster: "{ARN}", user: u}}}}
users: [{{name: u, user: {{token: t}}}}]
current-context: laptop
""")
    clusters = connect(str(path))
    assert (clusters.default.context, clusters.default.namespace) == ("laptop", "mine")
    assert clusters.default.api.api_client.configuration.host == "https://127.0.0.1:1"
    eks = clusters.target(ClusterPlace(ARN, "batch"))
    assert eks.api.api_client.configuration.host == "https://eks.example:443" and eks.namespace == "batch"
    with pytest.raises(ValueError, match="no context 'missing'"):
        connect(str(path), context="missing")
