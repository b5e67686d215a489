"""The scheduler's read-only view of the control plane: compute environments, service
environments, job queues, scheduling policies and quota shares of every account and region,
with their asynchronous status settled. One view for every kind of job."""

from __future__ import annotations

import collections
import json

from batchemu.vocabulary import arns, lifecycle

_GONE = ("DELETING", "DELETED")


class World:
    def __init__(self, store, now_ms: int):
        self.ces, self.environments, self.queues, self.policies, shares = {}, {}, {}, {}, {}
        target = {arns.COMPUTE_ENVIRONMENT: self.ces, arns.SERVICE_ENVIRONMENT: self.environments,
                  arns.JOB_QUEUE: self.queues, arns.SCHEDULING_POLICY: self.policies, arns.QUOTA_SHARE: shares}
        rows = store.query(f"SELECT kind, arn, doc FROM resources WHERE kind IN ({','.join('?' * len(target))})",
                           tuple(target))
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
        self.shares = collections.defaultdict(dict)  # queue ARN -> {share name: live quota share}
        for doc in shares.values():
            queue = self.queues.get(doc["jobQueueArn"])
            if doc.get("status") not in _GONE and queue is not None \
                    and doc["createdAt"] >= (queue.get("createdAt") or 0):
                self.shares[doc["jobQueueArn"]][doc["quotaShareName"]] = doc

    @classmethod
    def of(cls, ces=(), queues=(), policies=()) -> "World":
        """A settled view of given documents, no store (decision tests)."""
        world = cls.__new__(cls)
        world.ces = {d["computeEnvironmentArn"]: d for d in ces}
        world.queues = {d["jobQueueArn"]: d for d in queues}
        world.policies = {d["arn"]: d for d in policies}
        world.environments, world.shares, world.next_settle = {}, collections.defaultdict(dict), None
        return world

    def queue(self, arn: str) -> dict | None:
        doc = self.queues.get(arn)
        if doc is None or doc.get("status") in _GONE:
            return None
        return doc

    def queues_by_priority(self, job_queue_type: str | None = None) -> list:
        """Live queues (of one jobQueueType, if given) in dispatch order."""
        live = [q for q in self.queues.values() if q.get("status") not in _GONE
                and (job_queue_type is None or q.get("jobQueueType") == job_queue_type)]
        # ref §11.1: descending priority; ties in creation order.
        return sorted(live, key=lambda q: (-(q.get("priority") or 0), q.get("createdAt") or 0))

    def compute_environments_of(self, queue: dict) -> list:
        order = sorted(queue.get("computeEnvironmentOrder") or [], key=lambda o: o["order"])
        return [self.ces[o["computeEnvironment"]] for o in order if o["computeEnvironment"] in self.ces]

    def environment_of(self, queue: dict) -> dict | None:
        """A service-job queue's first live service environment."""
        for entry in sorted(queue.get("serviceEnvironmentOrder") or [], key=lambda o: o["order"]):
            doc = self.environments.get(entry["serviceEnvironment"])
            if doc is not None:
                return doc
        return None

    def _policy(self, queue: dict) -> dict:
        return self.policies.get(queue.get("schedulingPolicyArn") or "") or {}

    def fairshare_policy(self, queue: dict) -> dict | None:
        return self._policy(queue).get("fairsharePolicy")

    def quota_managed(self, queue: dict) -> bool:
        return bool(self._policy(queue).get("quotaSharePolicy"))
