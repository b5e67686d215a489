"""Multi-node parallel jobs (ref §12) on the one engine.

A multi-node job is a container-jobs row (store.jobs) with `nodeProperties`; its nodes
`<jobId>#<n>` are rows of their own kind (store.nodes, vocabulary.job_states.NODE), born when
the job first starts. The job waits (dependencies), is placed and is timed out like any job:
engine.placement.decide places it with the whole gang's need on one compute environment that
can run multi-node jobs (`eligible`), so every node fits at once or the job stays RUNNABLE.

Two engine.attempts Launchers, one lifecycle: the job's attempt (`JobLauncher`) is the main
node's: it starts with the main node, runs when the main node runs and ends when the main node
ends, with the job's retryStrategy and timeout (ref §9, §10, §12). Each node's attempt
(`NodeLauncher`) is one container on a network of the attempt's own (LaunchSpec.group_network),
or its range's multi-container task for an ecsProperties/eksProperties range (engine.task_nodes);
the main node starts first, and the others start once it runs and its address is known (they
get it as AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS, engine.launch). When the main node
exits the other nodes are stopped; a node's own failure changes nothing else (ref §12). Each
node runs on a simulated instance of its own (engine.instances), so a lost instance
(engine.faults) ends its node and the job's attempt.

Decides no placement (engine.placement) and words no API view (batch.job_views).
"""

from __future__ import annotations

import logging
import threading
import uuid

from batchemu.engine import attempts, consumables, states, task_jobs
from batchemu.engine.container_jobs import start_container
from batchemu.engine.launch import log_names
from batchemu.engine.task_nodes import TaskNodeLauncher
from batchemu.store.nodes import Nodes
from batchemu.vocabulary.reasons import CONTAINER_EXITED, LOST_ON_RESTART, OUT_OF_MEMORY

log = logging.getLogger("batchemu.scheduler")

# ref §11.2, §12: not on Spot, Fargate or UNMANAGED compute environments. AWS leaves such a job
# RUNNABLE; batchemu blocks it with the reason AWS gives for a CE that can't run a job's
# instance configuration (ref §11.5), when no CE of the queue can take it.
UNSUPPORTED = ("MISCONFIGURATION:EC2_INSTANCE_CONFIGURATION_UNSUPPORTED - Your compute environment "
               "associated with this job queue has an unsupported instance type configuration.")
_BUSY = (states.STARTING, states.RUNNING)
# What an attempt added to a node's `container` that the next attempt must not show.
_ATTEMPT_KEYS = ("exitCode", "reason", "logStreamName", "taskArn", "containerInstanceArn", "networkInterfaces")


def is_multinode(doc: dict) -> bool:
    """A multi-node job (not one of its nodes)."""
    return bool(doc.get("nodeProperties")) and doc.get("nodeDetails") is None


def is_node(doc: dict) -> bool:
    return doc.get("nodeDetails") is not None


def eligible(ce: dict) -> bool:
    """Can `ce` run multi-node jobs? Only MANAGED EC2 ones (ref §11.2, §12)."""
    return ce.get("type") == "MANAGED" and (ce.get("computeResources") or {}).get("type") == "EC2"


def unsupported_reason(ces: list) -> str | None:
    """The blocked reason when none of a queue's CEs can run multi-node jobs."""
    return UNSUPPORTED if ces and not any(eligible(ce) for ce in ces) else None


def node_range(job: dict, index: int) -> dict:
    """The resolved node range of node `index`: the most specific range that holds it (ref §12:
    nested ranges are allowed, `4:5` wins over `0:10` for nodes 4 and 5)."""
    spans = [r for r in job["_nodeRanges"] if r["first"] <= index <= r["last"]]
    best = min(spans, key=lambda r: r["last"] - r["first"])
    return dict(best, properties=job["nodeProperties"]["nodeRangeProperties"][best["range"]])


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def new_task(node: dict, ce: dict, instance: dict | None = None) -> dict:
    """A node attempt's ECS-like task on `ce`: its task and container-instance ARNs and its log
    group and stream (ref §6.10: each node is a task of its own, with a stream of its own), on
    `instance` (engine.instances) when there is one."""
    task_id = uuid.uuid4().hex
    cluster = (ce.get("ecsClusterArn") or ce["computeEnvironmentName"]).rsplit("/", 1)[-1]
    prefix = f"arn:aws:ecs:{node['_region']}:{node['_account']}"
    group, stream = log_names(node, task_id)
    return {"taskArn": f"{prefix}:task/{cluster}/{task_id}",
            "containerInstanceArn": f"{prefix}:container-instance/{cluster}/{uuid.uuid4().hex}",
            "logGroup": group, "logStreamName": stream, **(instance or {})}


class GangStopper:
    """The runner as the job's attempt lifecycle sees it: stopping the job's attempt (terminate,
    timeout) stops every node of that attempt."""

    def __init__(self, runner, nodes: Nodes):
        self.runner = runner
        self.nodes = nodes

    def stop(self, job_id: str, attempt: int, grace_seconds: float = 30.0) -> None:
        for node in self.nodes.of(job_id):
            if node["status"] in _BUSY and node["_attempt"] == attempt:
                self.runner.stop(node["jobId"], attempt, grace_seconds)


class JobLauncher:
    """engine.attempts.Launcher of the multi-node job itself: its attempt is the main node's."""
    label = "multi-node job"
    timeout_field = "timeout"         # the timeout applies to the whole job (ref §10)
    lost_on_restart = LOST_ON_RESTART

    def __init__(self, owner: "MultiNode"):
        self.owner = owner
        self.jobs = owner.jobs

    def launch(self, job: dict, now: int) -> None:
        self.owner.launch(job, now)

    def to_running(self, job: dict, at: int) -> dict | None:
        return states.transition(self.jobs, job, states.RUNNING, at, startedAt=at)

    def exit_reason(self, reason, oom: bool):
        return OUT_OF_MEMORY if oom and not reason else reason

    def status_reason(self, job: dict, exit_code, reason, oom: bool) -> str:
        return CONTAINER_EXITED

    def record(self, job: dict, exit_code, reason, status_reason: str, now: int) -> dict:
        """The attempt as the main node ran it (ref §12: the job's exit information is the main
        node's)."""
        main = self.owner.main_node(job) or {}
        task = (main.get("_tasks") or {}).get(str(job["_attempt"])) or {}
        container = {"exitCode": exit_code, "reason": reason, "taskArn": task.get("taskArn"),
                     "containerInstanceArn": task.get("containerInstanceArn"),
                     "networkInterfaces": (main.get("container") or {}).get("networkInterfaces") or []}
        if job["status"] == states.RUNNING:
            container["logStreamName"] = task.get("logStreamName")
        return _drop_none({"container": _drop_none(container), "startedAt": job.get("startedAt"),
                           "stoppedAt": now, "statusReason": status_reason})

    def ended(self, job: dict, exit_code, reason) -> dict:
        return {}

    def retried(self, job: dict) -> dict:
        self.owner.on_retry()
        return {"_ce": None}

    def retry_on(self, exit_code, reason) -> tuple:
        return exit_code, reason


class NodeLauncher:
    """engine.attempts.Launcher of one node: a container on the job's own network."""
    label = "node"
    timeout_field = "_timeout"        # never set: a node has no timeout of its own (ref §10)
    lost_on_restart = LOST_ON_RESTART

    def __init__(self, owner: "MultiNode", runner, extra_env, faults=None):
        self.owner = owner
        self.jobs = owner.nodes
        self.runner = runner
        self.extra_env = extra_env
        self.faults = faults  # engine.faults.Faults: injected pull failures and lost instances reach nodes too

    def launch(self, node: dict, now: int) -> None:
        start_container(self, node, now)

    def to_running(self, node: dict, at: int) -> dict | None:
        task = node["_tasks"][str(node["_attempt"])]
        container = dict(node["container"], logStreamName=task["logStreamName"])
        if node.get("_address"):  # ref §12: a node's container shows its private address
            container["networkInterfaces"] = [{"privateIpv4Address": node["_address"]}]
        new = states.transition(self.jobs, node, states.RUNNING, at, startedAt=at, container=container)
        if new is not None and new["nodeDetails"]["isMainNode"]:
            self.owner.main_running(new, at)
        return new

    def exit_reason(self, reason, oom: bool):
        return OUT_OF_MEMORY if oom and not reason else reason

    def status_reason(self, node: dict, exit_code, reason, oom: bool) -> str:
        return CONTAINER_EXITED

    def record(self, node: dict, exit_code, reason, status_reason: str, now: int) -> dict:
        task = node["_tasks"][str(node["_attempt"])]
        container = {"exitCode": exit_code, "reason": reason, "taskArn": task["taskArn"],
                     "containerInstanceArn": task["containerInstanceArn"],
                     "networkInterfaces": node["container"].get("networkInterfaces") or []}
        if node["status"] == states.RUNNING:
            container["logStreamName"] = task["logStreamName"]
        return _drop_none({"container": _drop_none(container), "startedAt": node.get("startedAt"),
                           "stoppedAt": now, "statusReason": status_reason})

    def ended(self, node: dict, exit_code, reason) -> dict:
        return {"container": _drop_none(dict(node["container"], exitCode=exit_code, reason=reason))}

    def retried(self, node: dict) -> dict:
        return {}  # never: a node has no retryStrategy of its own (ref §12)

    def retry_on(self, exit_code, reason) -> tuple:
        return exit_code, reason


class NodeAttempts(attempts.Attempts):
    """The one attempt lifecycle, told when a node's attempt ended (the main node's ends the job's)."""

    def __init__(self, owner: "MultiNode", *args):
        super().__init__(*args)
        self.owner = owner

    def report(self, job: dict, event, now: int) -> None:
        """A runner event about a node; a RUNNING one carries the node's address (to_running)."""
        if getattr(event, "address", None):
            job["_address"] = event.address
        super().report(job, event, now)

    def finish(self, job: dict, now: int, exit_code, reason=None, status_reason=None,
               oom: bool = False) -> dict | None:
        if (job.get("_stop") or {}).get("kind") == "main-exited":
            # Stopped because the main node exited: it ends by its exit code like any node
            # (ref §12), e.g. SUCCEEDED when it had finished on its own meanwhile.
            job = dict(job, _stop=None)
        new = super().finish(job, now, exit_code, reason, status_reason, oom)
        if new is not None:
            self.owner.node_ended(new, now, exit_code, reason, status_reason, oom)
        return new


class MultiNode:
    """Multi-node jobs and their nodes, for the scheduler: the job's Launcher face (begin, as
    placement's start step; launch; `attempts`) and its nodes' (`node_launcher.attempts`)."""

    def __init__(self, store, jobs, runner, logs, stop_grace_seconds: float, extra_env, on_retry,
                 time_scale: float = 1.0, faults=None):
        self.store = store
        self.jobs = jobs
        self.nodes = Nodes(store)
        self.runner = runner
        self.on_retry = on_retry  # the scheduler's: a retried job's queue may be gone by now
        self.job_launcher = JobLauncher(self)
        self.node_launcher = NodeLauncher(self, runner, extra_env, faults)
        # Nodes of ecsProperties/eksProperties ranges: a task of several containers each.
        self.task_node_launcher = TaskNodeLauncher(self, runner, extra_env, faults)
        self.faults = faults
        stopper = GangStopper(runner, self.nodes) if runner is not None else None
        # The job's lifecycle (the scheduler's `_launcher(job).attempts`), and its nodes'.
        self.attempts = attempts.Attempts(self.job_launcher, stopper, logs, stop_grace_seconds, time_scale)
        self.node_attempts = NodeAttempts(self, self.node_launcher, runner, logs, stop_grace_seconds, time_scale)
        self.node_launcher.attempts = self.node_attempts
        self.task_node_launcher.attempts = NodeAttempts(self, self.task_node_launcher, runner, logs,
                                                        stop_grace_seconds, time_scale)
        self._ended = set()  # multi-node jobs that ended since the last settle() (any thread)
        self._ended_lock = threading.Lock()
        store.job_observers.append(self._observe)

    def _observe(self, doc: dict, old_status: str) -> None:
        """store.job_observers entry: note a multi-node job that ended, for settle()."""
        if doc["status"] in states.TERMINAL and is_multinode(doc):
            with self._ended_lock:
                self._ended.add(doc["jobId"])

    def settle(self, now: int) -> None:
        """Nodes still waiting (RUNNABLE) for a job that ended without its main node's end (a
        cancel while it waited for another attempt, a deleted queue) end with it."""
        with self._ended_lock:
            ended, self._ended = self._ended, set()
        for job_id in ended:
            job = self.jobs.get(job_id)
            for node in self.nodes.of(job_id):
                if node["status"] == states.RUNNABLE:
                    states.transition(self.nodes, node, states.FAILED, now,
                                      statusReason=(job or {}).get("statusReason") or CONTAINER_EXITED)

    def launcher_of(self, node: dict):
        """The Launcher of one node: one container, or its range's task (engine.task_nodes)."""
        return self.task_node_launcher if task_jobs.kind(node) else self.node_launcher

    def main_node(self, job: dict) -> dict | None:
        return self.nodes.get(f"{job['jobId']}#{job['nodeProperties']['mainNode']}")

    # -- starting ---------------------------------------------------------------------------

    def begin(self, job: dict, ce: dict, now: int) -> dict | None:
        """RUNNABLE -> STARTING on `ce`, in one transaction with its nodes: the main node
        STARTING, the others RUNNABLE until it runs. None when the job changed since read."""
        attempt = job["_attempt"] + 1
        props = job["nodeProperties"]
        network = f"batchemu-{job['jobId']}-{attempt}"
        stale = []
        with self.store.transaction():
            new = states.transition(self.jobs, job, states.STARTING, now, _attempt=attempt,
                                    _ce=ce["computeEnvironmentArn"], _ceName=ce["computeEnvironmentName"],
                                    _ceTask={"ecsClusterArn": ce.get("ecsClusterArn"), "uuid": ce.get("uuid")},
                                    statusReason=None, _blocked=None, scheduledAt=now)
            if new is None:
                return None
            consumables.consume(self.store, new)
            nodes = {n["nodeDetails"]["nodeIndex"]: n for n in self.nodes.of(job["jobId"])}
            fresh = [self._node(new, i, now) for i in range(props["numNodes"]) if i not in nodes]
            self.nodes.insert_many(fresh)
            nodes.update({n["nodeDetails"]["nodeIndex"]: n for n in fresh})
            for index, node in sorted(nodes.items()):
                if node["status"] in _BUSY:  # the last attempt's, its stop maybe not sent yet
                    stale.append((node["jobId"], node["_attempt"]))
                changes = {"_attempt": attempt, "_ceName": ce["computeEnvironmentName"], "_groupNetwork": network,
                           "_mainAddress": None, "_address": None, "_stop": None, "statusReason": None,
                           "startedAt": None, "stoppedAt": None}
                if node["status"] in _BUSY:
                    changes.update(self._unreported(node, now))
                if task_jobs.kind(node):
                    changes.update(self.task_node_launcher.reset(node))
                else:
                    changes["container"] = {k: v for k, v in node["container"].items() if k not in _ATTEMPT_KEYS}
                if index == props["mainNode"]:
                    changes.update(self._task(dict(node, **changes), ce, attempt, now))
                    self._move(node, states.STARTING, now, changes)
                else:
                    self._move(node, states.RUNNABLE, now, changes)
        for node_id, old_attempt in stale:
            self.runner.stop(node_id, old_attempt, self.node_attempts.stop_grace)
        return new

    def _unreported(self, node: dict, now: int) -> dict:
        """The last attempt of a node still busy when its job's next attempt starts (its end not
        reported yet: a task stopping takes a moment): recorded as it was stopped, with its
        stop's reason (a lost host's) and no exit code, so the node lists every attempt."""
        launcher = self.launcher_of(node)
        stop = node.get("_stop") or {}
        record = launcher.record(node, None, None, stop.get("reason") or CONTAINER_EXITED, now)
        field = launcher.attempts_field(node) if hasattr(launcher, "attempts_field") else "attempts"
        return {field: list(node.get(field) or []) + [record]}

    def _move(self, node: dict, to: str, now: int, changes: dict) -> None:
        if node["status"] == to:  # a fresh node is born RUNNABLE
            node.update(changes)
            ok = self.nodes.update(node)
        else:
            ok = states.transition(self.nodes, node, to, now, **changes) is not None
        if not ok:  # inside the store's transaction nobody else writes: a bug if it happens
            raise RuntimeError(f"node {node['jobId']} changed while its job was starting")

    def _task(self, node: dict, ce: dict, attempt: int, now: int) -> dict:
        """A node's attempt's task (its ARNs and log streams, the simulated instance it runs on)
        and when it was scheduled."""
        if task_jobs.kind(node):   # its range's task: as an ecsProperties/eksProperties job's
            return dict(self.task_node_launcher.attempt_changes(node, ce, attempt, now), scheduledAt=now)
        # An instance of its own (engine.instances, `alone`): AWS runs one node per instance, and a
        # lost instance (engine.faults) takes that node.
        instance = self.faults.instances.place(node, ce, alone=True) if self.faults else None
        task = new_task(node, ce, instance)
        tasks = dict(node.get("_tasks") or {})
        tasks[str(attempt)] = task
        return {"_tasks": tasks, "scheduledAt": now,
                "container": dict(node["container"], taskArn=task["taskArn"],
                                  containerInstanceArn=task["containerInstanceArn"])}

    def _node(self, job: dict, index: int, now: int) -> dict:
        """Node `index` of `job` as first written: RUNNABLE, its range's container."""
        chosen = node_range(job, index)
        props = job["nodeProperties"]
        range_props = chosen["properties"]
        if chosen.get("task"):   # an ecsProperties/eksProperties range: run as engine.task_nodes
            container = {}
            if chosen["task"]["kind"] == task_jobs.ECS:
                shape = {"ecsProperties": range_props["ecsProperties"]}
            else:
                shape = {"eksProperties": range_props["eksProperties"], "eksAttempts": []}
            shape["_task"] = chosen["task"]
        else:
            container = dict(range_props["container"])
            shape = {"container": container}
        return {**shape,
            "jobId": f"{job['jobId']}#{index}", "jobArn": f"{job['jobArn']}#{index}",
            "jobName": job["jobName"], "jobQueue": job["jobQueue"], "status": states.RUNNABLE,
            "createdAt": now, "jobDefinition": job["jobDefinition"], "parameters": job.get("parameters"),
            "dependsOn": [], "attempts": [], "tags": None,
            "propagateTags": job.get("propagateTags"), "platformCapabilities": job.get("platformCapabilities"),
            "schedulingPriority": job.get("schedulingPriority"), "shareIdentifier": job.get("shareIdentifier"),
            "nodeDetails": {"nodeIndex": index, "isMainNode": index == props["mainNode"]},
            "_account": job["_account"], "_region": job["_region"], "_queueName": job["_queueName"],
            "_definitionName": job["_definitionName"], "_logConfiguration": container.get("logConfiguration"),
            "_need": chosen["need"], "_parent": job["jobId"], "_numNodes": props["numNodes"],
            "_mainNode": props["mainNode"], "_attempt": 0,
        }

    def launch(self, job: dict, now: int) -> None:
        """Hand a STARTING job's main node to the runner (the others follow once it runs)."""
        main = self.main_node(job)
        if main is not None and main["status"] == states.STARTING and main["_attempt"] == job["_attempt"]:
            self.launcher_of(main).launch(main, now)

    def main_running(self, main: dict, at: int) -> None:
        """The main node runs: so does the job (ref §12), and the other nodes start, told its address."""
        job = self.jobs.get(main["_parent"])
        if job is None or job["_attempt"] != main["_attempt"] or job["status"] not in _BUSY:
            return
        if job["status"] == states.STARTING:
            job = self.job_launcher.to_running(job, at) or self.jobs.get(job["jobId"])
        if job.get("_stop"):
            return  # being stopped: the others are never started
        ce = dict(job.get("_ceTask") or {}, computeEnvironmentArn=job["_ce"], computeEnvironmentName=job["_ceName"])
        begun = []
        with self.store.transaction():
            for node in self.nodes.of(job["jobId"]):
                if node["status"] != states.RUNNABLE or node["_attempt"] != main["_attempt"]:
                    continue
                changes = self._task(node, ce, node["_attempt"], at)
                new = states.transition(self.nodes, node, states.STARTING, at,
                                        _mainAddress=main.get("_address") or "", **changes)
                if new is not None:
                    begun.append(new)
        for node in begun:
            self.launcher_of(node).launch(node, at)

    # -- runner reports and ends ------------------------------------------------------------

    def node_ended(self, node: dict, now: int, exit_code, reason, status_reason, oom: bool) -> None:
        """A node's attempt ended. The main node's ends the job's attempt (SUCCEEDED, RUNNABLE for
        a retry, FAILED: ref §12) and stops the other nodes; any other node's changes nothing."""
        if not node["nodeDetails"]["isMainNode"]:
            return
        for _ in range(attempts.RETRIES):
            job = self.jobs.get(node["_parent"])
            if job is None or job["status"] not in _BUSY or job["_attempt"] != node["_attempt"]:
                break
            if self.attempts.finish(job, now, exit_code, reason, status_reason, oom) is not None:
                break
        job = self.jobs.get(node["_parent"])
        done = job is None or job["status"] in states.TERMINAL
        for other in self.nodes.of(node["_parent"]):
            if other["jobId"] == node["jobId"] or other["_attempt"] != node["_attempt"]:
                continue
            if other["status"] in _BUSY:
                attempts.request_stop(self.nodes, other, {"kind": "main-exited"}, _BUSY)
            elif other["status"] == states.RUNNABLE and done:
                states.transition(self.nodes, other, states.FAILED, now,
                                  statusReason=(job or {}).get("statusReason") or CONTAINER_EXITED)
