"""Typed queries over the jobs table. A job is one JSON document (wire keys plus internal
`_` keys); the columns repeat what queries filter on.

Every update is a compare-and-set on the row's version, so two writers never overwrite each
other silently: the loser gets False and re-reads.
"""

from __future__ import annotations

import json

from batchemu.store.db import Store

TERMINAL = ("SUCCEEDED", "FAILED")
ACTIVE = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
_COLUMNS = "job_id, arn, name, queue_arn, status, parent_id, created_at, share_id, jd_arn, ce_arn, vcpus"


def _values(doc: dict) -> tuple:
    return (doc["jobId"], doc["jobArn"], doc["jobName"], doc["jobQueue"], doc["status"],
            doc.get("_parent"), doc["createdAt"], doc.get("shareIdentifier"), doc["jobDefinition"],
            doc.get("_ce"), float((doc.get("_need") or {}).get("vcpus") or 0))


def _dump(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"))


class Jobs:
    def __init__(self, store: Store):
        self.store = store

    def insert(self, doc: dict) -> None:
        doc["_v"] = 0
        self.store.execute(
            f"INSERT INTO jobs (account, region, {_COLUMNS}, version, doc) "
            f"VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (doc["_account"], doc["_region"], *_values(doc), 0, _dump(doc)))

    def insert_many(self, docs: list) -> None:
        with self.store.transaction():
            for doc in docs:
                self.insert(doc)

    def update(self, doc: dict) -> bool:
        """Write `doc` if nobody wrote the job since it was read (doc['_v'] matches)."""
        expected = doc["_v"]
        new = dict(doc, _v=expected + 1)
        values = _values(new)
        count = self.store.execute(
            "UPDATE jobs SET arn=?, name=?, queue_arn=?, status=?, parent_id=?, created_at=?, "
            "share_id=?, jd_arn=?, ce_arn=?, vcpus=?, version=?, doc=? WHERE job_id=? AND version=?",
            (*values[1:], expected + 1, _dump(new), doc["jobId"], expected)).rowcount
        if count:
            doc["_v"] = expected + 1
        return bool(count)

    def get(self, job_id: str) -> dict | None:
        rows = self.store.query("SELECT doc FROM jobs WHERE job_id=?", (job_id,))
        return json.loads(rows[0]["doc"]) if rows else None

    def get_many(self, account: str, region: str, job_ids: list) -> list:
        if not job_ids:
            return []
        marks = ",".join("?" * len(job_ids))
        rows = self.store.query(
            f"SELECT doc FROM jobs WHERE account=? AND region=? AND job_id IN ({marks})",
            (account, region, *job_ids))
        return [json.loads(r["doc"]) for r in rows]

    def active(self, but: str | None = None) -> list:
        """Every job not yet SUCCEEDED/FAILED (nor in status `but`), oldest first (the
        scheduler's snapshot)."""
        # Statuses named (IN, not NOT IN) so SQLite reads them through jobs_by_status instead of
        # scanning every finished job on every tick.
        wanted = tuple(s for s in ACTIVE if s != but)
        rows = self.store.query(f"SELECT doc FROM jobs WHERE status IN ({','.join('?' * len(wanted))}) "
                                "ORDER BY created_at, seq", wanted)
        return [json.loads(r["doc"]) for r in rows]

    def in_status_outside(self, status: str, queue_arns) -> list:
        """Jobs in `status` whose queue is none of `queue_arns`, oldest first."""
        rows = self.store.query("SELECT doc FROM jobs WHERE status=? AND queue_arn NOT IN "
                                "(SELECT value FROM json_each(?)) ORDER BY created_at, seq",
                                (status, json.dumps(list(queue_arns))))
        return [json.loads(r["doc"]) for r in rows]

    def children(self, parent_id: str) -> list:
        rows = self.store.query("SELECT doc FROM jobs WHERE parent_id=? ORDER BY seq", (parent_id,))
        return [json.loads(r["doc"]) for r in rows]

    def child_counts(self, parent_id: str) -> dict:
        rows = self.store.query("SELECT status, COUNT(*) AS n FROM jobs WHERE parent_id=? GROUP BY status",
                                (parent_id,))
        return {r["status"]: r["n"] for r in rows}

    def vcpus_in_use(self) -> dict:
        """ce_arn -> vCPUs held by STARTING/RUNNING jobs."""
        rows = self.store.query("SELECT ce_arn, SUM(vcpus) AS v FROM jobs "
                                "WHERE status IN ('STARTING','RUNNING') AND ce_arn IS NOT NULL "
                                "GROUP BY ce_arn")
        return {r["ce_arn"]: r["v"] for r in rows}

    def select(self, account: str, region: str, where: str, args: tuple, order: str, limit: int) -> list:
        """A filtered page of one account's jobs; `where`/`order` are fixed SQL from the caller."""
        rows = self.store.query(
            f"SELECT doc FROM jobs WHERE account=? AND region=? AND ({where}) ORDER BY {order} LIMIT ?",
            (account, region, *args, limit))
        return [json.loads(r["doc"]) for r in rows]

    def select_fields(self, account: str, region: str, fields: tuple, where: str, args: tuple, order: str,
                      limit: int) -> list:
        """Like select, but each job as a partial document of only `fields` (dotted paths, at
        least two; a missing one reads None), extracted by SQLite: a ListJobs page then never
        decodes whole documents in Python, which was most of its time (bench/)."""
        paths = ",".join("'$." + f + "'" for f in fields)
        rows = self.store.query(
            f"SELECT json_extract(doc,{paths}) AS v FROM jobs WHERE account=? AND region=? AND ({where}) "
            f"ORDER BY {order} LIMIT ?", (account, region, *args, limit))
        split = [field.partition(".")[::2] for field in fields]
        out = []
        for row in rows:
            doc = {}
            for (head, rest), value in zip(split, json.loads(row["v"])):
                if rest:
                    doc.setdefault(head, {})[rest] = value
                else:
                    doc[head] = value
            out.append(doc)
        return out

    def exists_in_queue(self, queue_arn: str) -> bool:
        return bool(self.store.query("SELECT 1 FROM jobs WHERE queue_arn=? AND status NOT IN "
                                     "('SUCCEEDED','FAILED') LIMIT 1", (queue_arn,)))
