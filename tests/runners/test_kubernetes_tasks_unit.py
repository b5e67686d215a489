"""Multi-container attempts on the Kubernetes runner without a cluster: the one Pod of a
TaskSpec (init containers in order, containers, volumes, resources, security context, service
account; an ECS task's dependsOn mapped to init containers and container order, shapes a pod
cannot express refused), and pod statuses -> per-container exits (EXITED with `containers`,
LOG with `container`, as the Docker runner reports them), the pod stopped when an essential
container ended. A fake CoreV1Api (test_kubernetes_unit) serves pods; events go through on_pod."""

from __future__ import annotations

import json
import time

import pytest

from batchemu.runners import kube_pods as pods
from batchemu.runners import kube_task_pods as task_pods
from batchemu.runners.base import EXITED, LOG, RUNNING, LaunchSpec, Mount, OutputMark
from batchemu.runners.kubernetes import KubernetesRunner
from batchemu.runners.task_spec import (ALL_ZERO, COMPLETE, FIRST_ESSENTIAL, INIT, START, SUCCESS, TaskMember,
                                        TaskSpec, TaskVolume, VolumeMount)
from tests.runners.events import EventLog
from tests.runners.test_kubernetes_unit import RUN, FakeApi, at, settle


def launch(name, **more):
    return LaunchSpec(job_id="job-1", attempt=1, name=name, image=f"img-{name}", command=["sh", "-c", f"echo {name}"],
                      environment={"AWS_BATCH_JOB_ID": "job-1", "AWS_BATCH_JOB_KUBERNETES_NODE_UID": "uid-1"},
                      vcpus=0.25, memory_mib=32, **more)


POD = TaskSpec("job-1", 1, "batchemu-pod", (
    TaskMember("first", launch("first"), stage=INIT, volume_mounts=(VolumeMount("work", "/work"),)),
    TaskMember("second", launch("second"), stage=INIT),
    TaskMember("main", launch("main", user="1234:99", privileged=True, readonly_root=True,
                              mounts=(Mount("/data", "/in", True),)),
               volume_mounts=(VolumeMount("work", "/work"), VolumeMount("creds", "/creds", True)),
               entrypoint=("sh", "-c")),
    TaskMember("side", launch("side")),
), volumes=(TaskVolume("work"), TaskVolume("mem", memory=True, size_mib=16), TaskVolume("creds")),
    result=ALL_ZERO, labels={"batchemu.job-name": "pod"}, pod_name="aws-batch.0000-1111",
    service_account="reader", secrets=(("creds", "db-creds", False),))


def ecs(*members):
    return TaskSpec("job-1", 1, "batchemu-task", tuple(members), result=FIRST_ESSENTIAL)


def test_an_eks_pod_manifest():
    layout = task_pods.layout_of(POD)
    pod = task_pods.task_pod_manifest(POD, layout, "srv1", grace_seconds=2)
    spec = pod["spec"]
    assert pod["metadata"]["name"] == "aws-batch.0000-1111"
    assert [c["name"] for c in spec["initContainers"]] == ["first", "second"]   # in order
    assert [c["name"] for c in spec["containers"]] == ["main", "side"]
    main = spec["containers"][0]
    assert main["image"] == "img-main" and main["command"] == ["sh", "-c"] and main["args"] == ["sh", "-c", "echo main"]
    assert main["resources"] == {"requests": {"cpu": "250m", "memory": "32Mi"}, "limits": {"cpu": "250m", "memory": "32Mi"}}
    assert main["securityContext"] == {"privileged": True, "readOnlyRootFilesystem": True,
                                       "runAsUser": 1234, "runAsGroup": 99}
    assert {"name": "v-work", "mountPath": "/work", "readOnly": False} in main["volumeMounts"]
    assert {"name": "v-creds", "mountPath": "/creds", "readOnly": True} in main["volumeMounts"]
    host = next(m for m in main["volumeMounts"] if m["mountPath"] == "/in")
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes[host["name"]]["hostPath"] == {"path": "/data"} and host["readOnly"] is True
    assert volumes["v-work"] == {"name": "v-work", "emptyDir": {}}
    assert volumes["v-mem"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "16Mi"}
    assert volumes["v-creds"] == {"name": "v-creds", "secret": {"secretName": "db-creds", "optional": False}}
    assert spec["serviceAccountName"] == "reader" and spec["automountServiceAccountToken"] is True
    assert spec["restartPolicy"] == "Never" and spec["terminationGracePeriodSeconds"] == 2
    env = {e["name"]: e["value"] for e in spec["initContainers"][0]["env"]}
    assert env["AWS_BATCH_JOB_KUBERNETES_NODE_UID"] == "uid-1"   # the job's, in every container
    assert task_pods.layout_from_pod(pod) == layout


def test_an_ecs_task_maps_dependencies_to_init_containers_and_order():
    spec = ecs(TaskMember("main", launch("main"), depends_on=(("prep", SUCCESS), ("server", START))),
               TaskMember("server", launch("server"), essential=False),
               TaskMember("setup", launch("setup"), essential=False),
               TaskMember("prep", launch("prep"), essential=False, depends_on=(("setup", COMPLETE),)))
    layout = task_pods.layout_of(spec)
    assert layout.members == (("setup", INIT, False), ("prep", INIT, False),
                              ("server", "main", False), ("main", "main", True))
    pod = task_pods.task_pod_manifest(spec, layout, "srv1")
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["setup", "prep"]
    assert [c["name"] for c in pod["spec"]["containers"]] == ["server", "main"]   # START target first


@pytest.mark.parametrize("members, words", [
    ((TaskMember("prep", launch("prep")), TaskMember("main", launch("main"), depends_on=(("prep", SUCCESS),))),
     "prep is essential"),
    ((TaskMember("side", launch("side"), essential=False),
      TaskMember("prep", launch("prep"), essential=False, depends_on=(("side", START),)),
      TaskMember("main", launch("main"), depends_on=(("prep", COMPLETE),))), "depends on side"),
    ((TaskMember("a", launch("a"), depends_on=(("b", START),)), TaskMember("b", launch("b"), depends_on=(("a", START),))),
     "cycle"),
    ((TaskMember("a", launch("a"), depends_on=(("b", "HEALTHY"),)), TaskMember("b", launch("b"))), "HEALTHY"),
])
def test_shapes_a_pod_cannot_express_are_refused(members, words):
    with pytest.raises(ValueError, match=words):
        task_pods.layout_of(ecs(*members))


def term(code, started=1, finished=3, reason="Completed"):
    return {"terminated": {"exitCode": code, "reason": reason, "startedAt": at(started), "finishedAt": at(finished),
                           "containerID": f"docker://{code}-{finished}"}}


def status(pod, phase, init=(), main=(), reason=None):
    pod = json.loads(json.dumps(pod))
    pod["spec"]["nodeName"] = "dsim-k2"
    pod["status"] = {"phase": phase, **({"reason": reason} if reason else {}),
                     "initContainerStatuses": [{"name": n, "state": s} for n, s in init],
                     "containerStatuses": [{"name": n, "state": s} for n, s in main]}
    return pod


@pytest.fixture()
def api():
    return FakeApi()


@pytest.fixture()
def runner(api):
    r = KubernetesRunner("srv1", api, "jobs", start_threads=False)
    yield r
    r.close()


def started(runner, api, events, spec):
    runner.set_listener(events)
    runner.start_task(spec)
    deadline = time.time() + 5
    while not api.pods and time.time() < deadline:
        time.sleep(0.01)
    return next(iter(api.pods.values()))


class ContainerLogs(FakeApi):
    def read_namespaced_pod_log(self, name, namespace, container=None, timestamps=False, since_seconds=None):
        self.calls.append(("log", name, container))
        return self.logs.get((name, container), "")


def test_a_pod_reports_each_container_and_is_deleted():
    api, events = ContainerLogs(), EventLog()
    runner = KubernetesRunner("srv1", api, "jobs", start_threads=False)
    try:
        pod = started(runner, api, events, POD)
        name = pod["metadata"]["name"]
        init = [("first", term(0, 1, 1.5)), ("second", term(0, 1.5, 2))]
        runner.on_pod("MODIFIED", status(pod, "Pending", init[:1], [("main", {}), ("side", {})]))
        assert not events.events                       # init containers run: not RUNNING yet
        runner.on_pod("MODIFIED", status(pod, "Running", init, [("main", RUN), ("side", RUN)]))
        assert events.wait_kind(RUNNING, "job-1", 1, 2)
        for container in ("first", "main"):
            api.logs[(name, container)] = f"{at(2.5)} out of {container}\n"
        runner.on_pod("MODIFIED", status(pod, "Failed", init, [("main", term(2, 1, 3, "Error")), ("side", term(0))]))
        exited = events.wait_kind(EXITED, "job-1", 1, 2)
        assert exited.exit_code == 2 and exited.node == "dsim-k2"     # the first container that failed
        assert [(c.name, c.exit_code) for c in exited.containers] == [("first", 0), ("second", 0), ("main", 2),
                                                                       ("side", 0)]
        assert exited.containers[2].container_id == "docker://2-3"
        logs = {e.container: [t for _, t in e.lines] for e in events.events if e.kind == LOG}
        assert logs == {"first": ["out of first"], "main": ["out of main"]}
        settle(runner)
        assert name not in api.pods
    finally:
        runner.close()


def test_a_failed_init_container_ends_the_pod_before_its_containers(runner, api):
    events = EventLog()
    pod = started(runner, api, events, POD)
    runner.on_pod("MODIFIED", status(pod, "Failed", [("first", term(4)), ("second", {"waiting": {}})],
                                     [("main", {"waiting": {"reason": "PodInitializing"}}), ("side", {})]))
    exited = events.wait_kind(EXITED, "job-1", 1, 2)
    assert exited.exit_code == 4 and exited.status_reason == "Task failed to start"
    results = {c.name: c for c in exited.containers}
    assert results["first"].exit_code == 4 and results["main"].exit_code is None
    assert "init container first did not succeed" in results["main"].reason
    assert not [e for e in events.events if e.kind == RUNNING]


def test_an_essential_exit_stops_the_pod_and_decides_the_attempt(runner, api):
    events = EventLog()
    spec = ecs(TaskMember("side", launch("side"), essential=False, stop_timeout=1),
               TaskMember("prep", launch("prep"), essential=False),
               TaskMember("main", launch("main"), depends_on=(("prep", SUCCESS),)))
    pod = started(runner, api, events, spec)
    name = pod["metadata"]["name"]
    assert pod["spec"]["terminationGracePeriodSeconds"] == 1
    init = [("prep", term(0, 1, 1.5))]
    runner.on_pod("MODIFIED", status(pod, "Running", init, [("side", RUN), ("main", term(3, 2, 3, "Error"))]))
    settle(runner)
    assert ("patch", name, [{"op": "add", "path": "/spec/activeDeadlineSeconds", "value": 1}]) in api.calls
    assert not [e for e in events.events if e.kind == EXITED]
    # 1.20: the deadline-stopped sidecar still shows running; its exit is unknown.
    runner.on_pod("MODIFIED", status(pod, "Failed", init, [("side", RUN), ("main", term(3, 2, 3, "Error"))],
                                     reason="DeadlineExceeded"))
    exited = events.wait_kind(EXITED, "job-1", 1, 2)
    assert exited.exit_code == 3 and exited.status_reason is None
    assert {c.name: c.exit_code for c in exited.containers} == {"prep": 0, "side": None, "main": 3}


def test_a_non_essential_exit_leaves_the_task_running(runner, api):
    events = EventLog()
    spec = ecs(TaskMember("side", launch("side"), essential=False), TaskMember("main", launch("main")))
    pod = started(runner, api, events, spec)
    runner.on_pod("MODIFIED", status(pod, "Running", (), [("side", term(0)), ("main", RUN)]))
    settle(runner)
    assert not [c for c in api.calls if c[0] in ("patch", "delete")]
    assert not [e for e in events.events if e.kind == EXITED]


def test_a_pull_failure_ends_the_task(runner, api):
    events = EventLog()
    pod = started(runner, api, events, POD)
    name = pod["metadata"]["name"]
    runner.on_pod("MODIFIED", status(pod, "Pending", [("first", {"waiting": {"reason": "ErrImagePull",
                                                                             "message": "no such image"}})]))
    exited = events.wait_kind(EXITED, "job-1", 1, 2)
    assert exited.status_reason == "Task failed to start" and exited.exit_code is None
    assert exited.reason == "CannotPullContainerError: no such image"
    settle(runner)
    assert name not in api.pods


def test_an_unsupported_shape_fails_the_attempt_without_a_pod(runner, api):
    events = EventLog()
    runner.set_listener(events)
    runner.start_task(ecs(TaskMember("prep", launch("prep")),
                          TaskMember("main", launch("main"), depends_on=(("prep", SUCCESS),))))
    exited = events.wait_kind(EXITED, "job-1", 1, 2)
    assert exited.status_reason == "Task failed to start" and "not supported" in exited.reason
    assert exited.reason.startswith("CannotStartContainerError: ")
    assert [c.name for c in exited.containers] == ["prep", "main"] and not api.pods


def test_reattach_adopts_a_task_pod_that_ended_while_away(api):
    events = EventLog()
    first = KubernetesRunner("srv1", api, "jobs", start_threads=False)
    pod = started(first, api, events, POD)
    first.close()
    ended = status(pod, "Succeeded", [("first", term(0)), ("second", term(0))], [("main", term(0)), ("side", term(0))])
    api.pods[pod["metadata"]["name"]] = ended
    again = KubernetesRunner("srv1", api, "jobs", start_threads=False)
    try:
        later = EventLog()
        again.set_listener(later)
        (survivor,) = again.reattach({"job-1": 1})
        assert survivor.running and survivor.started_ms   # its end follows at once, without a watch
        exited = later.wait_kind(EXITED, "job-1", 1, 2)
        assert exited.exit_code == 0 and [c.exit_code for c in exited.containers] == [0, 0, 0, 0]
    finally:
        again.close()


def test_reattach_resumes_each_containers_output_after_its_own_mark():
    api, events = ContainerLogs(), EventLog()
    first = KubernetesRunner("srv1", api, "jobs", start_threads=False)
    pod = started(first, api, events, POD)
    first.close()
    name = pod["metadata"]["name"]
    init = [("first", term(0, 1, 1.5)), ("second", term(0, 1.5, 2))]
    running = status(pod, "Running", init, [("main", RUN), ("side", RUN)])
    api.pods[name] = running
    api.logs[(name, "main")] = f"{at(2)} m1\n{at(3)} m2\n"
    api.logs[(name, "side")] = f"{at(2)} s1\n{at(4)} s2\n"
    stored = OutputMark(pods.parse_time(at(3)), ("m2",), {
        "main": OutputMark(pods.parse_time(at(3)), ("m2",)), "side": OutputMark(pods.parse_time(at(2)), ("s1",))})
    again = KubernetesRunner("srv1", api, "jobs", start_threads=False)
    try:
        later = EventLog()
        again.set_listener(later)
        (survivor,) = again.reattach({"job-1": 1}, {"job-1": stored})
        assert survivor.running
        done = status(pod, "Succeeded", init, [("main", term(0, 1, 5)), ("side", term(0, 1, 5))])
        api.pods[name] = done
        again.on_pod("MODIFIED", done)
        later.wait_kind(EXITED, "job-1", 1, 2)
        logs = {e.container: [t for _, t in e.lines] for e in later.events if e.kind == LOG}
        assert logs == {"side": ["s2"]}            # nothing lost, nothing twice, per container
    finally:
        again.close()
