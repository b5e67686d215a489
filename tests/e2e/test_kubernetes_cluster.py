"""The Kubernetes runner against a real two-node cluster (scripts/k8s-cluster.sh up): an array
job of 20 children runs on both nodes under the compute environment's maxvCpus, a timeout ends
a pod, a server killed with SIGKILL while pods run comes back to every job in its right
final state with no pod left behind, and OOMKilled / a missing image end jobs as on AWS. Each test works in a namespace of its own.

Skips without a cluster (BATCHEMU_TEST_KUBECONFIG, default /tmp/batchemu-k8s/kubeconfig); fails
instead when BATCHEMU_REQUIRE_KUBERNETES=1 (scripts/test.sh sets it when it brought one up)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import boto3
import pytest

from tests.e2e.support import CE_RESOURCES, IMAGE, describe, make_definition, make_queue, new_account, wait_done, wait_until

pytestmark = pytest.mark.kubernetes

REPO = Path(__file__).resolve().parents[2]
KUBECONFIG = os.environ.get("BATCHEMU_TEST_KUBECONFIG", "/tmp/batchemu-k8s/kubeconfig")
HOST_IP = os.environ.get("BATCHEMU_K8S_HOST_IP", "10.231.0.254")   # the host's leg on the cluster's bridge


@pytest.fixture(scope="module")
def core():
    if not os.path.exists(KUBECONFIG):
        if os.environ.get("BATCHEMU_REQUIRE_KUBERNETES") == "1":
            pytest.fail(f"no cluster: {KUBECONFIG} is missing (BATCHEMU_REQUIRE_KUBERNETES=1)")
        pytest.skip(f"no cluster: {KUBECONFIG} is missing (run scripts/k8s-cluster.sh build && up)")
    from kubernetes import client, config
    return client.CoreV1Api(config.new_client_from_config(config_file=KUBECONFIG))


@pytest.fixture()
def namespace(core):
    name = f"bt-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def pods_in(core, namespace: str) -> list:
    return core.list_namespaced_pod(namespace).items


class PodSpy:
    """Polls the namespace's pods while a test runs: which node each ran on, and the most that
    were Running at once."""

    def __init__(self, core, namespace):
        self.core, self.namespace = core, namespace
        self.nodes, self.most_running = {}, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.wait(0.2):
            try:
                items = pods_in(self.core, self.namespace)
            except Exception:
                continue
            for pod in items:
                if pod.spec.node_name:
                    self.nodes[pod.metadata.name] = pod.spec.node_name
            self.most_running = max(self.most_running, sum(p.status.phase == "Running" for p in items))

    def stop(self):
        self._stop.set()
        self._thread.join(5)


class ServerProcess:
    """`python -m batchemu --runner kubernetes`, bound to the host's address on the cluster's
    bridge so hostNetwork pods reach it (AWS_ENDPOINT_URL)."""

    def __init__(self, data_dir: Path, log: Path, namespace: str, port: int, *extra):
        self.url = f"http://{HOST_IP}:{port}"
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "batchemu", "--host", HOST_IP, "--port", str(port),
                 "--data-dir", str(data_dir), "--runner", "kubernetes", "--kubeconfig", KUBECONFIG,
                 "--kube-namespace", namespace, "--stop-grace-seconds", "2", *extra],
                cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=str(REPO)))
        wait_until(self._answers, 60, f"the server to answer on {self.url}")

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"the server exited ({self.proc.returncode}):\n{self.log.read_text()}")
        try:
            self.client("000000000000").list_scheduling_policies()
            return True
        except Exception:
            return False

    def client(self, account: str, service: str = "batch"):
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=account, aws_secret_access_key="test")

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        self.proc.wait(timeout=30)


def host_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind((HOST_IP, 0))
        return s.getsockname()[1]


def log_lines(server, account, job) -> list:
    logs = server.client(account, "logs")
    events = logs.get_log_events(logGroupName="/aws/batch/job",
                                 logStreamName=job["container"]["logStreamName"], startFromHead=True)["events"]
    return [e["message"] for e in events]


@pytest.fixture()
def server(tmp_path, namespace):
    started = []

    def make(*extra, data_dir=None):
        s = ServerProcess(data_dir or tmp_path / "data", tmp_path / "server.log", namespace,
                          started[0].port if started else host_port(), *extra)
        s.port = int(s.url.rsplit(":", 1)[1])
        started.append(s)
        return s

    yield make
    for s in started:
        s.kill(signal.SIGTERM)


def test_array_of_20_runs_on_both_nodes_under_capacity(core, namespace, server):
    srv = server()
    account = new_account()
    batch = srv.client(account)
    make_queue(batch, "q", max_vcpus=4)
    # The child reaches the server from inside its pod (AWS_ENDPOINT_URL) and prints its index.
    make_definition(batch, "echo", ["sh", "-c", "sleep 1; echo child $AWS_BATCH_JOB_ARRAY_INDEX via ${AWS_ENDPOINT_URL}"],
                    memory="32")
    spy = PodSpy(core, namespace)
    try:
        job_id = batch.submit_job(jobName="arr", jobQueue="q", jobDefinition="echo",
                                  arrayProperties={"size": 20})["jobId"]
        parent = wait_done(batch, job_id, timeout=240)
    finally:
        spy.stop()
    if parent["status"] != "SUCCEEDED":
        children = [describe(batch, f"{job_id}:{i}") for i in range(20)]
        pytest.fail(f"{parent['statusReason']}: " + "; ".join(
            f"{c['jobId']} {c['status']} {c.get('statusReason')} {c.get('attempts')}"
            for c in children if c["status"] != "SUCCEEDED")[:3000])
    assert parent["arrayProperties"]["statusSummary"]["SUCCEEDED"] == 20
    child = describe(batch, f"{job_id}:7")
    assert log_lines(srv, account, child) == [f"child 7 via {srv.url}"]
    assert set(spy.nodes.values()) == {"dsim-k1", "dsim-k2"}, spy.nodes
    assert len(spy.nodes) == 20
    assert 1 <= spy.most_running <= 4          # maxvCpus 4, one vCPU each
    wait_until(lambda: not pods_in(core, namespace), 30, "every pod to be deleted")


def test_timeout_ends_the_pod(core, namespace, server):
    # --time-scale 30: attemptDurationSeconds 60 lasts 2 s.
    srv = server("--time-scale", "30")
    account = new_account()
    batch = srv.client(account)
    make_queue(batch, "q", max_vcpus=2)
    make_definition(batch, "sleeper", ["sh", "-c", "echo started; sleep 600"], memory="32")
    job_id = batch.submit_job(jobName="slow", jobQueue="q", jobDefinition="sleeper",
                              timeout={"attemptDurationSeconds": 60})["jobId"]
    job = wait_done(batch, job_id, timeout=90)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Job attempt duration exceeded timeout"
    # Kubernetes 1.20 never reports the exit code of a container its deadline stopped.
    assert job["attempts"][0]["container"].get("exitCode") in (None, 137, 143)
    assert log_lines(srv, account, job) == ["started"]
    wait_until(lambda: not pods_in(core, namespace), 30, "the pod to be deleted")


def test_kill_9_and_restart(core, namespace, server, tmp_path):
    first = server()
    account = new_account()
    batch = first.client(account)
    make_queue(batch, "q", max_vcpus=4)
    make_definition(batch, "long", ["sh", "-c", "echo begin; sleep 12; echo end"], memory="32")
    make_definition(batch, "short", ["sh", "-c", "echo quick; sleep 2; exit 3"], memory="32")
    make_definition(batch, "later", ["sh", "-c", "echo later"], memory="32")
    long_id = batch.submit_job(jobName="long", jobQueue="q", jobDefinition="long")["jobId"]
    short_id = batch.submit_job(jobName="short", jobQueue="q", jobDefinition="short")["jobId"]
    wait_until(lambda: all(describe(batch, j)["status"] == "RUNNING" for j in (long_id, short_id)), 90,
               "both jobs to run")
    first.kill()                                   # SIGKILL: no clean-up at all
    # The short one ends while nobody watches; the long one still runs at the restart.
    wait_until(lambda: any(p.status.phase == "Failed" for p in pods_in(core, namespace)), 60,
               "the short pod to end while the server is down")
    second = server()
    batch = second.client(account)
    later_id = batch.submit_job(jobName="later", jobQueue="q", jobDefinition="later")["jobId"]
    short = wait_done(batch, short_id, timeout=60)
    assert short["status"] == "FAILED" and short["attempts"][0]["container"]["exitCode"] == 3
    assert log_lines(second, account, short) == ["quick"]
    long = wait_done(batch, long_id, timeout=90)
    assert long["status"] == "SUCCEEDED", long.get("statusReason")
    assert log_lines(second, account, long) == ["begin", "end"]   # nothing lost, nothing twice
    assert len(long["attempts"]) == 1
    assert wait_done(batch, later_id, timeout=60)["status"] == "SUCCEEDED"
    wait_until(lambda: not pods_in(core, namespace), 30, "no pod left behind")


def test_out_of_memory_and_missing_image(core, namespace, server):
    srv = server("--pull-policy", "never")
    account = new_account()
    batch = srv.client(account)
    make_queue(batch, "q", max_vcpus=2)
    make_definition(batch, "hog", ["sh", "-c", "x=a; while true; do x=\"$x$x\"; done"], memory="32")
    make_definition(batch, "missing", ["true"], memory="32", image="batchemu-test/no-such-image:1")
    hog = batch.submit_job(jobName="hog", jobQueue="q", jobDefinition="hog")["jobId"]
    missing = batch.submit_job(jobName="missing", jobQueue="q", jobDefinition="missing")["jobId"]
    job = wait_done(batch, hog, timeout=90)
    assert job["status"] == "FAILED"
    assert job["container"]["exitCode"] == 137
    assert job["container"]["reason"] == "OutOfMemoryError: Container killed due to memory usage"
    job = wait_done(batch, missing, timeout=90)
    assert job["status"] == "FAILED" and job["statusReason"] == "Task failed to start"
    assert job["container"]["reason"].startswith("CannotPullContainerError: "), job["container"]
    assert "exitCode" not in job["container"]
    wait_until(lambda: not pods_in(core, namespace), 30, "every pod to be deleted")


def test_a_three_node_job_spans_both_nodes_and_talks_over_tcp(core, namespace, server):
    """One pod per node of a multi-node job, spread over the cluster's nodes; the main node's
    pod reports its address, the workers (started after it) connect to it over TCP and the job's
    result is the main node's (ref §12)."""
    srv = server()
    account = new_account()
    batch = srv.client(account)
    make_queue(batch, "q", max_vcpus=4)

    def node(command):
        return {"image": IMAGE, "command": ["sh", "-c", command],
                "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "32"}]}

    main = 'for i in 1 2; do nc -l -p 5000; done'
    worker = ('echo hello-from-$AWS_BATCH_JOB_NODE_INDEX > /tmp/m; for i in $(seq 1 150); do '
              'nc $AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS 5000 < /tmp/m && exit 0; sleep 0.2; done; exit 1')
    batch.register_job_definition(jobDefinitionName="mnp", type="multinode", nodeProperties={
        "numNodes": 3, "mainNode": 0,
        "nodeRangeProperties": [{"targetNodes": "0:0", "container": node(main)},
                                {"targetNodes": "1:", "container": node(worker)}]})
    spy = PodSpy(core, namespace)
    try:
        job_id = batch.submit_job(jobName="mnp", jobQueue="q", jobDefinition="mnp")["jobId"]
        job = wait_done(batch, job_id, timeout=180)
        nodes = [wait_done(batch, f"{job_id}#{i}", timeout=60) for i in range(3)]
    finally:
        spy.stop()
    assert job["status"] == "SUCCEEDED", (job.get("statusReason"), [n.get("statusReason") for n in nodes])
    assert sorted(log_lines(srv, account, nodes[0])) == ["hello-from-1", "hello-from-2"]
    assert len(set(spy.nodes.values())) == 2, spy.nodes   # the nodes' pods ran on both cluster nodes
    address = nodes[0]["container"]["networkInterfaces"][0]["privateIpv4Address"]
    assert address.startswith("10.231.0."), address       # the main node's pod, on the host network
    wait_until(lambda: not pods_in(core, namespace), 60, "every pod to be removed")


def task_lines(server, account, stream: str) -> list:
    logs = server.client(account, "logs")
    events = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True)["events"]
    return [e["message"] for e in events]


def test_an_eks_pod_with_an_init_container_runs_as_one_pod(core, namespace, server):
    srv = server()
    account = new_account()
    batch = srv.client(account)
    make_queue(batch, "q", max_vcpus=2)
    limits = {"limits": {"cpu": "250m", "memory": "32Mi"}}
    mount = [{"name": "work", "mountPath": "/work"}]
    batch.register_job_definition(jobDefinitionName="pod", type="container", eksProperties={"podProperties": {
        "volumes": [{"name": "work", "emptyDir": {}}],
        "initContainers": [{"name": "init", "image": IMAGE, "command": ["sh", "-c", "echo from-init > /work/file; echo init done"],
                            "resources": limits, "volumeMounts": mount}],
        "containers": [{"name": "main", "image": IMAGE, "command": ["sh", "-c"],
                        "args": ["cat /work/file; echo uid $(id -u); echo $GREETING"],
                        "env": [{"name": "GREETING", "value": "hello"}],
                        "securityContext": {"runAsUser": 1234}, "resources": limits, "volumeMounts": mount}]}})
    spy = PodSpy(core, namespace)
    try:
        job_id = batch.submit_job(jobName="pod", jobQueue="q", jobDefinition="pod")["jobId"]
        job = wait_done(batch, job_id, timeout=120)
    finally:
        spy.stop()
    assert job["status"] == "SUCCEEDED", (job.get("statusReason"), job.get("eksAttempts"))
    props = job["eksProperties"]["podProperties"]
    (attempt,) = job["eksAttempts"]
    # One pod, named as the job shows it, on a real node of the cluster.
    assert list(spy.nodes) == [props["podName"]] == [attempt["podName"]]
    assert attempt["nodeName"] == props["nodeName"] == spy.nodes[props["podName"]]
    assert attempt["nodeName"] in ("dsim-k1", "dsim-k2")
    assert [(c["name"], c["exitCode"]) for c in attempt["initContainers"]] == [("init", 0)]
    assert [(c["name"], c["exitCode"]) for c in attempt["containers"]] == [("main", 0)]
    assert attempt["containers"][0]["containerID"]
    assert task_lines(srv, account, f"pod/init/{props['podName']}") == ["init done"]
    assert task_lines(srv, account, f"pod/main/{props['podName']}") == ["from-init", "uid 1234", "hello"]
    wait_until(lambda: not pods_in(core, namespace), 30, "the pod to be deleted")


def test_an_ecs_task_runs_as_one_pod_with_dependencies_and_essential_exits(core, namespace, server):
    srv = server()
    account = new_account()
    batch = srv.client(account)
    make_queue(batch, "q", max_vcpus=4)
    res = [{"type": "MEMORY", "value": "32"}]   # the task's one vCPU is main's
    mount = [{"sourceVolume": "shared", "containerPath": "/shared"}]

    def register(name, main_script):
        batch.register_job_definition(jobDefinitionName=name, type="container", ecsProperties={"taskProperties": [{
            "volumes": [{"name": "shared"}],
            "containers": [
                {"name": "sidecar", "image": IMAGE, "essential": False, "stopTimeout": 1, "resourceRequirements": res,
                 "command": ["sh", "-c", "echo side; sleep 600"]},
                {"name": "prep", "image": IMAGE, "essential": False, "resourceRequirements": res, "mountPoints": mount,
                 "command": ["sh", "-c", "echo prepared > /shared/x; echo prep done"]},
                {"name": "main", "image": IMAGE, "resourceRequirements": res + [{"type": "VCPU", "value": "1"}],
                 "mountPoints": mount,
                 "dependsOn": [{"containerName": "prep", "condition": "SUCCESS"},
                               {"containerName": "sidecar", "condition": "START"}],
                 "command": ["sh", "-c", main_script]}]}]})

    register("good", "cat /shared/x")
    register("bad", "cat /shared/x; exit 3")
    good = batch.submit_job(jobName="good", jobQueue="q", jobDefinition="good")["jobId"]
    bad = batch.submit_job(jobName="bad", jobQueue="q", jobDefinition="bad")["jobId"]
    for job_id, status in ((good, "SUCCEEDED"), (bad, "FAILED")):
        job = wait_done(batch, job_id, timeout=120)
        assert job["status"] == status, (job.get("statusReason"), job.get("attempts"))
        assert job["statusReason"] == "Essential container in task exited"
        task = job["ecsProperties"]["taskProperties"][0]
        exits = {c["name"]: c.get("exitCode") for c in task["containers"]}
        assert exits["prep"] == 0 and exits["main"] == (0 if status == "SUCCEEDED" else 3)
        # The sidecar was stopped with the task (1.20 never reports a deadline-stopped exit).
        assert exits["sidecar"] in (None, 137, 143)
        (attempt,) = job["attempts"]
        assert {c["name"]: c.get("exitCode") for c in attempt["taskProperties"][0]["containers"]} == exits
        streams = {c["name"]: c["logStreamName"] for c in task["containers"]}
        assert task_lines(srv, account, streams["prep"]) == ["prep done"]
        assert task_lines(srv, account, streams["main"]) == ["prepared"]
        assert task_lines(srv, account, streams["sidecar"]) == ["side"]
    wait_until(lambda: not pods_in(core, namespace), 30, "every pod to be deleted")


def test_task_pods_across_a_kill_9(core, namespace, server):
    first = server()
    account = new_account()
    batch = first.client(account)
    make_queue(batch, "q", max_vcpus=4)
    res = [{"type": "MEMORY", "value": "32"}, {"type": "VCPU", "value": "1"}]
    # An ECS task whose essential container fails while the server is down (its sidecar runs on
    # until the restarted server stops the pod), and an EKS pod still running at the restart.
    batch.register_job_definition(jobDefinitionName="task", type="container", ecsProperties={"taskProperties": [{
        "containers": [
            {"name": "sidecar", "image": IMAGE, "essential": False, "stopTimeout": 1,
             "resourceRequirements": res[:1], "command": ["sh", "-c", "echo side; sleep 600"]},
            {"name": "main", "image": IMAGE, "resourceRequirements": res,
             "command": ["sh", "-c", "echo quick; sleep 3; exit 3"]}]}]})
    batch.register_job_definition(jobDefinitionName="pod", type="container", eksProperties={"podProperties": {
        "containers": [{"name": "main", "image": IMAGE, "command": ["sh", "-c", "echo begin; sleep 12; echo end"],
                        "resources": {"limits": {"cpu": "1", "memory": "32Mi"}}}]}})
    task_id = batch.submit_job(jobName="task", jobQueue="q", jobDefinition="task")["jobId"]
    pod_id = batch.submit_job(jobName="pod", jobQueue="q", jobDefinition="pod")["jobId"]
    wait_until(lambda: all(describe(batch, j)["status"] == "RUNNING" for j in (task_id, pod_id)), 90,
               "both jobs to run")
    first.kill()
    time.sleep(5)                                  # main of the task exits meanwhile
    second = server()
    batch = second.client(account)
    task = wait_done(batch, task_id, timeout=60)
    assert task["status"] == "FAILED" and task["statusReason"] == "Essential container in task exited"
    containers = {c["name"]: c for c in task["ecsProperties"]["taskProperties"][0]["containers"]}
    assert containers["main"]["exitCode"] == 3
    assert task_lines(second, account, containers["main"]["logStreamName"]) == ["quick"]
    pod = wait_done(batch, pod_id, timeout=90)
    assert pod["status"] == "SUCCEEDED", pod.get("statusReason")
    assert len(pod["eksAttempts"]) == 1 and pod["eksAttempts"][0]["containers"][0]["exitCode"] == 0
    stream = f"pod/main/{pod['eksProperties']['podProperties']['podName']}"
    assert task_lines(second, account, stream) == ["begin", "end"]   # nothing lost, nothing twice
    wait_until(lambda: not pods_in(core, namespace), 30, "no pod left behind")


@pytest.fixture()
def more_namespaces(core):
    made = []

    def make():
        name = f"bt-{uuid.uuid4().hex[:8]}"
        core.create_namespace({"metadata": {"name": name}})
        made.append(name)
        return name
    yield make
    for name in made:
        core.delete_namespace(name)


def test_an_eks_compute_environment_runs_pods_in_its_namespace_across_a_kill_9(core, namespace, server,
                                                                               more_namespaces):
    """eksConfiguration picks the cluster (the kubeconfig context whose cluster the ARN names:
    batchemu-k8s) and the namespace; a pod's own metadata.namespace wins over it. A restart
    finds the pods there again, and none is left anywhere."""
    ce_namespace, pod_namespace = more_namespaces(), more_namespaces()
    first = server()
    account = new_account()
    batch = first.client(account)
    eks = {"eksClusterArn": f"arn:aws:eks:us-east-1:{account}:cluster/batchemu-k8s",
           "kubernetesNamespace": ce_namespace}
    batch.create_compute_environment(computeEnvironmentName="eks", type="MANAGED", eksConfiguration=eks,
                                     computeResources=dict(CE_RESOURCES, maxvCpus=4))
    make_queue(batch, "q", max_vcpus=4, ce="eks")
    limits = {"limits": {"cpu": "1", "memory": "32Mi"}}
    main = {"name": "main", "image": IMAGE, "command": ["sh", "-c", "echo begin; sleep 10; echo end"],
            "resources": limits}
    batch.register_job_definition(jobDefinitionName="pod", type="container",
                                  eksProperties={"podProperties": {"containers": [main]}})
    batch.register_job_definition(jobDefinitionName="own", type="container", eksProperties={"podProperties": {
        "metadata": {"namespace": pod_namespace},
        "containers": [dict(main, command=["sh", "-c", "echo own-begin; sleep 10; echo own-end"])]}})
    spies = {ns: PodSpy(core, ns) for ns in (namespace, ce_namespace, pod_namespace)}
    try:
        pod_id = batch.submit_job(jobName="pod", jobQueue="q", jobDefinition="pod")["jobId"]
        own_id = batch.submit_job(jobName="own", jobQueue="q", jobDefinition="own")["jobId"]
        wait_until(lambda: all(describe(batch, j)["status"] == "RUNNING" for j in (pod_id, own_id)), 90,
                   "both pod jobs to run")
        first.kill()                                   # SIGKILL while they run in their namespaces
        second = server()
        batch = second.client(account)
        pod = wait_done(batch, pod_id, timeout=90)
        own = wait_done(batch, own_id, timeout=60)
    finally:
        for spy in spies.values():
            spy.stop()
    assert pod["status"] == "SUCCEEDED" and own["status"] == "SUCCEEDED", (pod.get("statusReason"), own.get("statusReason"))
    assert [a["podNamespace"] for a in pod["eksAttempts"]] == [ce_namespace]
    assert [a["podNamespace"] for a in own["eksAttempts"]] == [pod_namespace]
    assert list(spies[ce_namespace].nodes) == [pod["eksProperties"]["podProperties"]["podName"]]
    assert list(spies[pod_namespace].nodes) == [own["eksProperties"]["podProperties"]["podName"]]
    assert spies[namespace].nodes == {}                # nothing in the runner's own namespace
    # Re-attached where they ran: nothing lost, nothing twice, one attempt each.
    assert task_lines(second, account, f"pod/main/{pod['eksProperties']['podProperties']['podName']}") == [
        "begin", "end"]
    assert task_lines(second, account, f"own/main/{own['eksProperties']['podProperties']['podName']}") == [
        "own-begin", "own-end"]
    assert "no kubeconfig context names" not in first.log.read_text()
    for ns in (ce_namespace, pod_namespace):
        wait_until(lambda: not pods_in(core, ns), 30, f"no pod left behind in {ns}")


def test_a_job_bigger_than_any_node_waits_runnable_and_makes_no_pod(core, namespace, server):
    from batchemu.runners.kube_pods import quantity
    largest = max(quantity(n.status.allocatable["cpu"]) for n in core.list_node().items)
    srv = server()
    account = new_account()
    batch = srv.client(account)
    make_queue(batch, "q", max_vcpus=64)
    make_definition(batch, "huge", ["true"], vcpus=str(int(largest) + 1), memory="32")
    job_id = batch.submit_job(jobName="huge", jobQueue="q", jobDefinition="huge")["jobId"]
    wait_until(lambda: (describe(batch, job_id).get("statusReason") or "").startswith(
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"), 60, "the job to be blocked")
    assert describe(batch, job_id)["status"] == "RUNNABLE"
    assert pods_in(core, namespace) == []
