"""Multi-container jobs' launcher (engine.attempts.Launcher): an `ecsProperties` job runs one
ECS task of several containers, an `eksProperties` job one pod (init containers, then
containers). One attempt is one runner task (runners.task_spec.TaskSpec); the runner reports
each container's exit with the attempt's EXITED event, and this module writes them where the
API shows them: `ecsProperties.taskProperties[0].containers[]` and `attempts[].taskProperties`
(ref §6.4), or `eksProperties.podProperties` and `eksAttempts` (model: EksAttemptDetail).

These jobs are SubmitJob jobs like container jobs: the same table, statuses, transition(),
placement and attempt lifecycle (engine.attempts: supervise, finish, retry, restart). Only the
launch and what an attempt records differ. The result: ECS, the essential container whose exit
stopped the task (model: TaskContainerProperties.essential); EKS, every container exits 0 (a
pod with restartPolicy Never). No Docker and no Batch validation here.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid

from batchemu.engine import attempts, states
from batchemu.engine.container_jobs import ContainerJobs
from batchemu.engine.launch import DEFAULT_LOG_GROUP, kept_place, launch_spec, place_of
from batchemu.runners.base import Mount
from batchemu.runners.task_spec import (ALL_ZERO, FIRST_ESSENTIAL, INIT, MAIN, TaskMember, TaskSpec, TaskVolume,
                                        VolumeMount)
from batchemu.vocabulary.reasons import CONTAINER_EXITED, FAILED_TO_START, OUT_OF_MEMORY

log = logging.getLogger("batchemu.scheduler")

ECS, EKS = "ecs", "eks"
NAMESPACE = "default"   # the pod namespace when the compute environment names none
# A Kubernetes container's imagePullPolicy as the runner's pull policy (None: the runner's own).
PULL_POLICIES = {"Always": "always", "IfNotPresent": "missing", "Never": "never"}


def kind(job: dict) -> str | None:
    """ECS or EKS for a multi-container job, None for any other."""
    return (job.get("_task") or {}).get("kind")


class TaskJobs(ContainerJobs):
    """A container job's lifecycle (the same store, attempts and retry rules) whose attempt is a
    task of several containers: every Launcher step is its own."""
    alone = False   # True for a multi-node job's node: a simulated instance of its own (engine.instances)

    def begin(self, job: dict, ce: dict, now: int) -> dict | None:
        """RUNNABLE -> STARTING on `ce`: the attempt's task ARN (ECS) or pod and node names
        (EKS), and a log stream per container."""
        return self.to_starting(job, now, **self.attempt_changes(job, ce, job["_attempt"] + 1, now))

    def attempt_changes(self, job: dict, ce: dict, attempt: int, now: int) -> dict:
        """The changes of a job starting attempt `attempt` on `ce` (also a multi-node job's task
        node's: engine.task_nodes)."""
        task_id = uuid.uuid4().hex
        cluster = (ce.get("ecsClusterArn") or ce["computeEnvironmentName"]).rsplit("/", 1)[-1]
        prefix = f"arn:aws:ecs:{job['_region']}:{job['_account']}"
        place = _pod_place(job, ce)
        node_uid = str(uuid.uuid5(uuid.NAMESPACE_URL, ce["computeEnvironmentArn"]))
        # A pod as AWS Batch names it (user guide, "Map a running pod back to its job").
        pod_name = f"aws-batch.{uuid.uuid4()}"
        # The simulated instance it lands on (engine.instances), as for a single container: the
        # instance's container-instance ARN, and a fault (Spot reclaim, lost host) reaches it.
        instance = self.faults.instances.place(job, ce, alone=self.alone) if self.faults else {
            "containerInstanceArn": f"{prefix}:container-instance/{cluster}/"
                                    f"{(ce.get('uuid') or task_id).replace('-', '')}"}
        record = {"taskArn": f"{prefix}:task/{cluster}/{task_id}", **instance,
                  "podName": pod_name,
                  "nodeName": f"ip-10-0-{int(node_uid[:2], 16)}-{int(node_uid[2:4], 16)}.ec2.internal",
                  "nodeUid": node_uid,
                  "eksClusterArn": (ce.get("eksConfiguration") or {}).get("eksClusterArn"),
                  "podNamespace": place["namespace"] if place else NAMESPACE,
                  "streams": {c["name"]: _log_names(job, c, task_id if kind(job) == ECS else pod_name)
                              for c in _all_containers(job)}}
        first = record["streams"][_all_containers(job)[0]["name"]]
        record["logGroup"], record["logStreamName"] = first   # engine.output_marks reads these
        tasks = dict(job.get("_tasks") or {})
        tasks[str(attempt)] = record
        changes = {"_attempt": attempt, "_tasks": tasks, "_ce": ce["computeEnvironmentArn"],
                   "_ceName": ce["computeEnvironmentName"], "_place": place, "statusReason": None,
                   "_blocked": None,
                   "scheduledAt": now}
        if kind(job) == ECS:
            changes["ecsProperties"] = _with_task(job, **_drop_none({
                "taskArn": record["taskArn"], "containerInstanceArn": record.get("containerInstanceArn")}))
        else:
            changes["eksProperties"] = _with_pod(job, podName=record["podName"], nodeName=record["nodeName"])
        return changes

    # -- engine.attempts.Launcher ----------------------------------------------------------

    def launch(self, job: dict, now: int) -> None:
        start = getattr(self.runner, "start_task", None)
        if start is None:
            self.attempts.finish(job, now, None, f"CannotStartContainerError: the {self.runner.name} runner runs "
                                 "single-container jobs only; run ecsProperties/eksProperties jobs with Docker or Kubernetes",
                                 FAILED_TO_START)
            return
        try:
            spec = task_spec(job, self.extra_env(job))
        except ValueError as exc:   # e.g. a secret volume Docker can't provide
            self.attempts.finish(job, now, None, f"CannotStartContainerError: {exc}", FAILED_TO_START)
            return
        for member in spec.members if self.faults else ():
            failure = self.faults.pull_failure(job["_account"], member.spec.image)
            if failure:  # injected (engine.faults): the pull fails as Docker's would
                self.attempts.finish(job, now, None, failure, FAILED_TO_START)
                return
        try:
            start(spec)
        except Exception as exc:
            log.exception("runner refused %s", job["jobId"])
            self.attempts.finish(job, now, None, f"CannotStartContainerError: {exc}", FAILED_TO_START)

    def to_running(self, job: dict, at: int) -> dict | None:
        record = job["_tasks"][str(job["_attempt"])]
        changes = {}
        if kind(job) == ECS:
            changes["ecsProperties"] = _with_task(job, containers=[
                dict(c, logStreamName=record["streams"][c["name"]][1]) for c in _task(job)["containers"]])
        return states.transition(self.jobs, job, states.RUNNING, at, startedAt=at, **changes)

    def exit_reason(self, reason, oom: bool):
        return OUT_OF_MEMORY if oom and not reason else reason

    def status_reason(self, job: dict, exit_code, reason, oom: bool) -> str:
        return CONTAINER_EXITED   # ref §6.5; for a pod too (AWS words EKS attempts alike)

    def attempts_field(self, job: dict) -> str:
        return "eksAttempts" if kind(job) == EKS else "attempts"

    def record(self, job: dict, exit_code, reason, status_reason: str, now: int) -> dict:
        record = job["_tasks"][str(job["_attempt"])]
        results = _results(job, reason)
        ran = job["status"] == states.RUNNING
        if kind(job) == EKS:
            pod = _pod(job)
            return _drop_none({
                "containers": [_eks_attempt_container(c, results) for c in pod.get("containers") or []],
                "initContainers": [_eks_attempt_container(c, results) for c in pod.get("initContainers") or []],
                "eksClusterArn": record.get("eksClusterArn"), "podName": record["podName"],
                "podNamespace": record.get("podNamespace"), "nodeName": job.get("_node") or record["nodeName"],
                "startedAt": job.get("startedAt"), "stoppedAt": now, "statusReason": status_reason})
        containers = []
        for c in _task(job)["containers"]:
            result = results.get(c["name"]) or {}
            containers.append(_drop_none({"name": c["name"], "exitCode": result.get("exit_code"),
                                          "reason": _reason(result),
                                          "logStreamName": record["streams"][c["name"]][1] if ran else None,
                                          "networkInterfaces": []}))
        return _drop_none({"taskProperties": [_drop_none({"containerInstanceArn": record.get("containerInstanceArn"),
                                                          "taskArn": record["taskArn"], "containers": containers})],
                           "startedAt": job.get("startedAt"), "stoppedAt": now, "statusReason": status_reason})

    def ended(self, job: dict, exit_code, reason) -> dict:
        results = _results(job, reason)
        if kind(job) == EKS:
            pod = _pod(job)
            node = {"nodeName": job["_node"]} if job.get("_node") else {}
            return {"eksProperties": _with_pod(job, **node, **{
                group: [_with_result(c, results) for c in pod.get(group) or []]
                for group in ("containers", "initContainers") if pod.get(group) is not None})}
        return {"ecsProperties": _with_task(job, containers=[_with_result(c, results)
                                                             for c in _task(job)["containers"]])}

    def retried(self, job: dict) -> dict:
        self.on_retry()
        if kind(job) == EKS:
            pod = {k: v for k, v in _pod(job).items() if k not in ("podName", "nodeName")}
            for group in ("containers", "initContainers"):
                if pod.get(group) is not None:
                    pod[group] = [_without_result(c) for c in pod[group]]
            return {"eksProperties": dict(job["eksProperties"], podProperties=pod), "_ce": None, "_results": None,
                    "_node": None}
        task = {k: v for k, v in _task(job).items() if k not in ("taskArn", "containerInstanceArn")}
        task["containers"] = [_without_result(c) for c in task["containers"]]
        return {"ecsProperties": dict(job["ecsProperties"], taskProperties=[task]), "_ce": None, "_results": None}

    def retry_on(self, exit_code, reason) -> tuple:
        return exit_code, reason


# -- the runner's task -----------------------------------------------------------------------

def task_spec(job: dict, extra_env: dict) -> TaskSpec:
    """The TaskSpec of a STARTING job's attempt."""
    ce_name = job["_ceName"]
    limits = (job.get("_task") or {}).get("limits") or {}
    labels = {"batchemu.job-name": job["jobName"][:128], "batchemu.account": job["_account"]}
    if kind(job) == ECS:
        task = _task(job)
        volumes, scratch = [], {}
        for v in task.get("volumes") or []:
            if v.get("name") and not (v.get("host") or {}).get("sourcePath") and v.get("efsVolumeConfiguration") is None:
                volumes.append(TaskVolume(v["name"], "scratch"))   # a Docker-managed volume, shared
                scratch[v["name"]] = True
        members = []
        for c in task["containers"]:
            spec = _member_launch(job, dict(c, volumes=task.get("volumes") or []), limits.get(c["name"]),
                                  ce_name, extra_env, {})
            mounts = tuple(VolumeMount(m["sourceVolume"], m["containerPath"], bool(m.get("readOnly")))
                           for m in c.get("mountPoints") or [] if m.get("sourceVolume") in scratch)
            members.append(TaskMember(c["name"], spec, essential=c.get("essential", True) is not False,
                                      depends_on=tuple((d["containerName"], d["condition"])
                                                       for d in c.get("dependsOn") or []),
                                      volume_mounts=mounts, stop_timeout=c.get("stopTimeout")))
        return TaskSpec(job["jobId"], job["_attempt"], f"batchemu-{job['jobName']}", tuple(members),
                        tuple(volumes), FIRST_ESSENTIAL, labels, job.get("_network"), job.get("_groupNetwork"),
                        place=place_of(job))
    pod = _pod(job)
    record = job["_tasks"][str(job["_attempt"])]
    volumes, hosts, secrets = [], {}, []
    for v in pod.get("volumes") or []:
        if v.get("emptyDir") is not None:
            empty = v["emptyDir"]
            volumes.append(TaskVolume(v["name"], "scratch", memory=empty.get("medium") == "Memory",
                                      size_mib=(job.get("_task") or {}).get("sizes", {}).get(v["name"])))
        elif v.get("hostPath") is not None:
            hosts[v["name"]] = v["hostPath"].get("path")
        elif v.get("secret") is not None:
            # Docker has no secrets: it refuses a required one and mounts an optional one empty.
            secrets.append((v["name"], v["secret"].get("secretName"), bool(v["secret"].get("optional"))))
            volumes.append(TaskVolume(v["name"], "scratch"))
        else:
            raise ValueError(f"volume {v['name']!r}: only emptyDir, hostPath and secret volumes run on Docker")
    eks_env = {"AWS_BATCH_JOB_KUBERNETES_NODE_UID": record["nodeUid"]}   # ref §6.9: EKS jobs only
    members = []
    for stage, group in ((INIT, "initContainers"), (MAIN, "containers")):
        for c in pod.get(group) or []:
            security = c.get("securityContext") or {}
            user = str(security["runAsUser"]) if security.get("runAsUser") is not None else None
            if user and security.get("runAsGroup") is not None:
                user += f":{security['runAsGroup']}"
            container = {"image": c["image"], "environment": c.get("env") or [], "user": user,
                         "privileged": (c.get("securityContext") or {}).get("privileged"),
                         "readonlyRootFilesystem": (c.get("securityContext") or {}).get("readOnlyRootFilesystem")}
            # Kubernetes: command replaces the image's entrypoint, args its CMD.
            container["command"] = list(c.get("args") or [])
            host_mounts = tuple(Mount(hosts[m["name"]], m["mountPath"], bool(m.get("readOnly")))
                                for m in c.get("volumeMounts") or [] if m.get("name") in hosts)
            spec = _member_launch(job, container, limits.get(f"{group}/{c['name']}"), ce_name, extra_env, eks_env)
            spec = dataclasses.replace(spec, mounts=host_mounts, name=f"batchemu-{job['jobName']}-{c['name']}",
                                       pull_policy=PULL_POLICIES.get(c.get("imagePullPolicy")))
            mounts = tuple(VolumeMount(m["name"], m["mountPath"], bool(m.get("readOnly")) or _is_secret(pod, m))
                           for m in c.get("volumeMounts") or [] if m.get("name") not in hosts)
            members.append(TaskMember(c["name"], spec, stage=stage, volume_mounts=mounts,
                                      entrypoint=tuple(c["command"]) if c.get("command") else None))
    return TaskSpec(job["jobId"], job["_attempt"], f"batchemu-{job['jobName']}", tuple(members),
                    tuple(volumes), ALL_ZERO, labels, job.get("_network"), job.get("_groupNetwork"),
                    pod_name=record.get("podName"), service_account=pod.get("serviceAccountName"),
                    secrets=tuple(secrets), place=place_of(job))


def _member_launch(job: dict, container: dict, need: dict | None, ce_name: str, extra_env: dict, more_env: dict):
    """One member's LaunchSpec, the way a single-container job's is made (engine.launch), with
    the member's own resources."""
    spec = launch_spec(dict(job, container=container, _need=need or {"vcpus": 0, "memory": 0, "gpus": 0}),
                       ce_name, extra_env)
    if more_env:
        spec = dataclasses.replace(spec, environment={**spec.environment, **more_env})
    return spec


def _is_secret(pod: dict, mount: dict) -> bool:
    return any(v.get("name") == mount.get("name") and v.get("secret") is not None for v in pod.get("volumes") or [])


# -- the job document ------------------------------------------------------------------------

def _pod_place(job: dict, ce: dict) -> dict | None:
    """Where the attempt runs (engine.launch.kept_place): an EKS pod in its own
    metadata.namespace when it names one (EksMetadata: it may differ from the compute
    environment's), else in the compute environment's; on a compute environment with no
    eksConfiguration, in the runner's own cluster."""
    place = kept_place(ce)
    namespace = ((_pod(job).get("metadata") or {}).get("namespace")) if kind(job) == EKS else None
    if namespace:
        place = dict(place or {"cluster_arn": ""}, namespace=namespace)
    return place


def _task(job: dict) -> dict:
    return job["ecsProperties"]["taskProperties"][0]


def _pod(job: dict) -> dict:
    return job["eksProperties"]["podProperties"]


def _all_containers(job: dict) -> list:
    if kind(job) == ECS:
        return _task(job)["containers"]
    pod = _pod(job)
    return list(pod.get("initContainers") or []) + list(pod.get("containers") or [])


def _with_task(job: dict, **changes) -> dict:
    return dict(job["ecsProperties"], taskProperties=[dict(_task(job), **changes)])


def _with_pod(job: dict, **changes) -> dict:
    return dict(job["eksProperties"], podProperties=dict(_pod(job), **changes))


def _log_names(job: dict, container: dict, task_id: str) -> list:
    """[group, stream] of one container: ECS names a task container's awslogs stream
    `<prefix>/<container name>/<task id>` (the single-container `default` is that container's
    name), the prefix the definition name (ref §6.10) or awslogs-stream-prefix. An EKS pod's
    output goes to the same group under `<definition>/<container>/<pod name>` (batchemu's
    choice: AWS leaves pod logs to the cluster's own log agent)."""
    config = container.get("logConfiguration") or {}
    options = (config.get("options") or {}) if config.get("logDriver") == "awslogs" else {}
    group = options.get("awslogs-group") or DEFAULT_LOG_GROUP
    prefix = options.get("awslogs-stream-prefix") or job["_definitionName"][:200]
    return [group, f"{prefix}/{container['name']}/{task_id}"]


def _results(job: dict, reason) -> dict:
    """Each container's end as the runner reported it; when the runner reported none (the
    attempt never reached it: a task that could not start), every container ends with the
    attempt's reason. An EC2 host that vanished (engine.faults) reports no exit codes (ref §6.5)."""
    stop = job.get("_stop") or {}
    if stop.get("kind") == attempts.HOST_LOST and stop.get("hostGone"):
        return {c["name"]: {} for c in _all_containers(job)}
    if job.get("_results"):
        return {r["name"]: r for r in job["_results"]}
    return {c["name"]: {"reason": reason} for c in _all_containers(job)}


def _reason(result: dict) -> str | None:
    if result.get("oom") and not result.get("reason"):
        return OUT_OF_MEMORY
    return result.get("reason")


def _with_result(c: dict, results: dict) -> dict:
    result = results.get(c["name"]) or {}
    kept = {k: v for k, v in c.items() if k not in ("exitCode", "reason")}   # logStreamName stays
    return _drop_none(dict(kept, exitCode=result.get("exit_code"), reason=_reason(result)))


def _without_result(c: dict) -> dict:
    return {k: v for k, v in c.items() if k not in ("exitCode", "reason", "logStreamName")}


def _eks_attempt_container(c: dict, results: dict) -> dict:
    result = results.get(c["name"]) or {}
    return _drop_none({"name": c["name"], "containerID": result.get("container_id"),
                       "exitCode": result.get("exit_code"), "reason": _reason(result)})


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}

