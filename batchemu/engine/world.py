"""The scheduler's read-only view of the control plane: compute environments, job queues and
scheduling policies of every account and region, with their asynchronous status settled."""

from __future__ import annotations

import json

from batchemu.vocabulary import arns, lifecycle


class World:
    def __init__(self, store, now_ms: int):
        self.ces, self.queues, self.policies = {}, {}, {}
        rows = store.query("SELECT kind, arn, doc FROM resources WHERE kind IN (?,?,?)",
                           (arns.COMPUTE_ENVIRONMENT, arns.JOB_QUEUE, arns.SCHEDULING_POLICY))
        target = {arns.COMPUTE_ENVIRONMENT: self.ces, arns.JOB_QUEUE: self.queues,
                  arns.SCHEDULING_POLICY: self.policies}
        self.next_settle = None
        for row in rows:
            doc = json.loads(row["doc"])
            if lifecycle.is_gone(doc, now_ms):
                continue
            pending = doc.get("_settle")
            lifecycle.settle(doc, now_ms)
            if doc.get("_settle"):  # still settling: look again when it settles
                at = pending["at"]
                self.next_settle = at if self.next_settle is None else min(self.next_settle, at)
            target[row["kind"]][row["arn"]] = doc

    def queue(self, arn: str) -> dict | None:
        doc = self.queues.get(arn)
        if doc is None or doc.get("status") in ("DELETING", "DELETED"):
            return None
        return doc

    def queues_by_priority(self) -> list:
        live = [q for q in self.queues.values() if q.get("status") not in ("DELETING", "DELETED")]
        # ref §11.1: descending priority; ties in creation order.
        return sorted(live, key=lambda q: (-(q.get("priority") or 0), q.get("createdAt") or 0))

    def compute_environments_of(self, queue: dict) -> list:
        order = sorted(queue.get("computeEnvironmentOrder") or [], key=lambda o: o["order"])
        return [self.ces[o["computeEnvironment"]] for o in order if o["computeEnvironment"] in self.ces]

    def fairshare_policy(self, queue: dict) -> dict | None:
        policy = self.policies.get(queue.get("schedulingPolicyArn") or "")
        return (policy or {}).get("fairsharePolicy")
