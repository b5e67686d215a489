"""The nodes of a multi-node job whose node range has `ecsProperties` or `eksProperties` (ref
§12; model: NodeRangeProperty): each such node's attempt is its range's multi-container task
(ECS task containers, or a pod: init containers then containers), run on the job's own network.

`TaskNodeLauncher` is engine.task_jobs.TaskJobs (the same task spec, the same per-container
record and result: the essential containers of an ECS task, every container of a pod) with a
node's place in its job (engine.multinode.NodeLauncher's): its store is the nodes', its attempts
end through engine.multinode.NodeAttempts (the main node's end ends the job's attempt), it is
never retried on its own, and the main node running starts the others, told its address (the
address of the task's network namespace on the group network, runners.docker_task).

Owns no placement, no node creation (engine.multinode) and no Docker.
"""

from __future__ import annotations

from batchemu.engine import task_jobs
from batchemu.engine.task_jobs import TaskJobs
from batchemu.vocabulary.reasons import LOST_ON_RESTART


class TaskNodeLauncher(TaskJobs):
    """engine.attempts.Launcher of one node whose attempt is a task of several containers."""
    label = "node"
    timeout_field = "_timeout"        # never set: a node has no timeout of its own (ref §10)
    lost_on_restart = LOST_ON_RESTART
    alone = True                      # AWS runs one node per instance

    def __init__(self, owner, runner, extra_env, faults=None):
        # Not TaskJobs.__init__: a node's lifecycle is engine.multinode's NodeAttempts (set by
        # the owner), on the nodes' store.
        self.owner = owner
        self.store = owner.store
        self.jobs = owner.nodes
        self.runner = runner
        self.extra_env = extra_env
        self.faults = faults
        self.on_retry = lambda: None
        self.attempts = None

    def to_running(self, node: dict, at: int) -> dict | None:
        if node.get("_address") and task_jobs.kind(node) == task_jobs.ECS:
            # ref §12: a node shows its private address; a task's containers share the node's.
            interfaces = [{"privateIpv4Address": node["_address"]}]
            task = node["ecsProperties"]["taskProperties"][0]
            node = dict(node, ecsProperties=dict(node["ecsProperties"], taskProperties=[dict(task, containers=[
                dict(c, networkInterfaces=interfaces) for c in task["containers"]])]))
        new = super().to_running(node, at)
        if new is not None and new["nodeDetails"]["isMainNode"]:
            self.owner.main_running(new, at)
        return new

    def reset(self, node: dict) -> dict:
        """What the node's last attempt added that its next one must not show."""
        changes = self.retried(node)
        changes.pop("_ce", None)
        if "ecsProperties" in changes:   # the address to_running showed
            task = changes["ecsProperties"]["taskProperties"][0]
            task["containers"] = [{k: v for k, v in c.items() if k != "networkInterfaces"} for c in task["containers"]]
        return changes
