"""Typed queries over the service_jobs table (SageMaker training jobs queued by Batch, ref
§13.3). A service job is one JSON document (wire keys plus internal `_` keys); the columns
repeat what queries filter on. Every update is a compare-and-set on the row's version.
"""

from __future__ import annotations

import json

from batchemu.store import documents
from batchemu.store.db import Store

TERMINAL = ("SUCCEEDED", "FAILED")
_COLUMNS = "job_id, arn, name, queue_arn, status, created_at, share_id, quota_share"


def _values(doc: dict) -> tuple:
    return (doc["jobId"], doc["jobArn"], doc["jobName"], doc["jobQueue"], doc["status"], doc["createdAt"],
            doc.get("shareIdentifier"), doc.get("quotaShareName"))


def _dump(doc: dict) -> str:
    return documents.dump(doc)  # NaN, Infinity, lone surrogates refused


class ServiceJobs:
    def __init__(self, store: Store):
        self.store = store

    def insert(self, doc: dict) -> None:
        doc["_v"] = 0
        self.store.execute(
            f"INSERT INTO service_jobs (account, region, {_COLUMNS}, version, doc) "
            f"VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (doc["_account"], doc["_region"], *_values(doc), 0, _dump(doc)))

    def update(self, doc: dict) -> bool:
        """Write `doc` if nobody wrote the job since it was read (doc['_v'] matches)."""
        expected = doc["_v"]
        new = dict(doc, _v=expected + 1)
        count = self.store.execute(
            "UPDATE service_jobs SET arn=?, name=?, queue_arn=?, status=?, created_at=?, share_id=?, "
            "quota_share=?, version=?, doc=? WHERE job_id=? AND version=?",
            (*_values(new)[1:], expected + 1, _dump(new), doc["jobId"], expected)).rowcount
        if count:
            doc["_v"] = expected + 1
        return bool(count)

    def get(self, job_id: str) -> dict | None:
        rows = self.store.query("SELECT doc FROM service_jobs WHERE job_id=?", (job_id,))
        return json.loads(rows[0]["doc"]) if rows else None

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
