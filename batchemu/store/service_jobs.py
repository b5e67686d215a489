"""Typed queries over the service_jobs table (SageMaker training jobs queued by Batch, ref
§13.3). A service job is one JSON document (wire keys plus internal `_` keys); the columns
repeat what queries filter on. The insert and the compare-and-set update with the status guard
are store.versioned's, shared with container jobs.
"""

from __future__ import annotations

import json

from batchemu.vocabulary import job_states
from batchemu.store.versioned import VersionedDocs


class ServiceJobs(VersionedDocs):
    table = "service_jobs"
    kind = job_states.SERVICE
    columns = ("job_id", "arn", "name", "queue_arn", "status", "created_at", "share_id", "quota_share")

    @property
    def observers(self) -> list:
        return self.store.service_job_observers  # the "Batch Service Job State Change" events

    def values(self, doc: dict) -> tuple:
        return (doc["jobId"], doc["jobArn"], doc["jobName"], doc["jobQueue"], doc["status"], doc["createdAt"],
                doc.get("shareIdentifier"), doc.get("quotaShareName"))

    def get_own(self, account: str, region: str, job_id: str) -> dict | None:
        rows = self.store.query("SELECT doc FROM service_jobs WHERE account=? AND region=? AND job_id=?",
                                (account, region, job_id))
        return json.loads(rows[0]["doc"]) if rows else None

    def active(self) -> list:
        """Every service job not yet SUCCEEDED/FAILED, oldest first (the scheduler's snapshot)."""
        rows = self.store.query("SELECT doc FROM service_jobs WHERE status NOT IN ('SUCCEEDED','FAILED') "
                                "ORDER BY created_at, seq")
        return [json.loads(r["doc"]) for r in rows]

    def select(self, account: str, region: str, where: str, args: tuple, order: str,
               limit: int = -1) -> list:
        """One account's service jobs; `where`/`order` are fixed SQL from the caller."""
        rows = self.store.query(
            f"SELECT doc FROM service_jobs WHERE account=? AND region=? AND ({where}) ORDER BY {order} LIMIT ?",
            (account, region, *args, limit))
        return [json.loads(r["doc"]) for r in rows]
