"""Typed queries over the jobs table (container jobs). The document, its insert and its
compare-and-set update with the status guard are store.versioned's, shared with service jobs.

A row also keeps the job's wire views (JobSummary, JobDetail text) once a reader has rendered
them (`keep_views`); every update forgets them, so a kept view is always of the current
version. With a renderer on the store (`store.detail_on_write`), every insert and update keeps
the new version's JobDetail at once, so a first DescribeJobs reads text instead of rendering.
What a view contains is not this module's business (batch.job_views).
"""

from __future__ import annotations

import json
import logging

from batchemu.vocabulary import job_states
from batchemu.store.versioned import VersionedDocs

# A lookup of many ids goes through job_id's unique index: the unary + keeps SQLite from
# choosing jobs_by_queue for account/region instead, which scans every job of the account
# (DescribeJobs of 100 ids among 1,000: 0.50 -> 0.11 ms).
_BY_ID_ONLY = "+account=? AND +region=?"
log = logging.getLogger("batchemu.store")


def _paths(fields: tuple) -> str:
    return ",".join("'$." + f + "'" for f in fields)


def _partial(fields: tuple, values: list) -> dict:
    """The document {head: value | {rest: value}} of dotted `fields` and their values."""
    doc: dict = {}
    for field, value in zip(fields, values):
        head, _, rest = field.partition(".")
        if rest:
            doc.setdefault(head, {})[rest] = value
        else:
            doc[head] = value
    return doc


class Jobs(VersionedDocs):
    table = "jobs"
    kind = job_states.CONTAINER
    columns = ("job_id", "arn", "name", "queue_arn", "status", "parent_id", "created_at", "share_id", "jd_arn",
               "ce_arn", "vcpus")
    forget = ", summary_json=NULL"  # a kept view is always of the current version
    kept = ("detail_json",)          # this version's JobDetail, or NULL (rendered on first read)

    @property
    def observers(self) -> list:
        return self.store.job_observers  # events, log streams, the scheduler's wake-ups

    def values(self, doc: dict) -> tuple:
        return (doc["jobId"], doc["jobArn"], doc["jobName"], doc["jobQueue"], doc["status"],
                doc.get("_parent"), doc["createdAt"], doc.get("shareIdentifier"), doc["jobDefinition"],
                doc.get("_ce"), float((doc.get("_need") or {}).get("vcpus") or 0))

    def kept_values(self, doc: dict) -> tuple:
        """The JobDetail text to keep with this version of the job, when the store was given a
        renderer (store.detail_on_write); a failing renderer keeps nothing, the write goes on."""
        render = self.store.detail_on_write
        if render is None:
            return (None,)
        try:
            return (render(doc),)
        except Exception:
            log.exception("rendering the view of job %s failed", doc.get("jobId"))
            return (None,)

    def insert(self, doc: dict) -> None:
        deps = [(d["jobId"], doc["jobId"]) for d in doc.get("dependsOn") or () if d.get("jobId")]
        if not deps:
            super().insert(doc)
            return
        with self.store.transaction():  # the job and who it waits on, or neither
            super().insert(doc)
            self.store.executemany("INSERT OR IGNORE INTO job_deps (dep_id, job_id) VALUES (?,?)", deps)

    def insert_many(self, docs: list) -> None:
        with self.store.transaction():
            for doc in docs:
                self.insert(doc)

    def get_many(self, account: str, region: str, job_ids: list) -> list:
        if not job_ids:
            return []
        marks = ",".join("?" * len(job_ids))
        rows = self.store.query(
            f"SELECT doc FROM jobs WHERE job_id IN ({marks}) AND {_BY_ID_ONLY}",
            (*job_ids, account, region))
        return [json.loads(r["doc"]) for r in rows]

    def details(self, account: str, region: str, job_ids: list) -> list:
        """(job_id, version, kept JobDetail text or None, doc or None) per found job: the document
        is decoded only where no view is kept."""
        if not job_ids:
            return []
        marks = ",".join("?" * len(job_ids))
        rows = self.store.tuples(
            f"SELECT job_id, version, detail_json, CASE WHEN detail_json IS NULL THEN doc END "
            f"FROM jobs WHERE job_id IN ({marks}) AND {_BY_ID_ONLY}", (*job_ids, account, region))
        return [row if row[2] is not None else (*row[:3], json.loads(row[3])) for row in rows]

    def summaries(self, account: str, region: str, fields: tuple, where: str, args: tuple, order: str,
                  limit: int) -> list:
        """A filtered page as (job_id, version, created_at, kept JobSummary text or None, partial
        doc of `fields` or None): fields are extracted only where no view is kept."""
        rows = self.store.tuples(
            f"SELECT job_id, version, created_at, summary_json, CASE WHEN summary_json IS NULL "
            f"THEN json_extract(doc,{_paths(fields)}) END FROM jobs WHERE account=? AND region=? "
            f"AND ({where}) ORDER BY {order} LIMIT ?", (account, region, *args, limit))
        return [row if row[3] is not None else (*row[:4], _partial(fields, json.loads(row[4]))) for row in rows]

    def kept_summaries(self, account: str, region: str, where: str, args: tuple, order: str,
                       limit: int) -> tuple[list, tuple | None] | None:
        """(kept JobSummary texts of a page, (created_at, job_id) of its last row when more rows
        follow, else None), or None when some job of the page has no kept view. The cheap path
        of a listing: one text column and an index-only look past the page, no documents."""
        with self.store.consistent():  # the key past the page must belong to the same page
            texts = [row[0] for row in self.store.tuples(
                f"SELECT summary_json FROM jobs WHERE account=? AND region=? AND ({where}) ORDER BY {order} "
                f"LIMIT ?", (account, region, *args, limit))]
            if None in texts:
                return None
            after = self.store.tuples(
                f"SELECT created_at, job_id FROM jobs WHERE account=? AND region=? AND ({where}) "
                f"ORDER BY {order} LIMIT 2 OFFSET ?", (account, region, *args, max(limit - 1, 0)))
        return texts, (after[0] if len(after) == 2 else None)

    def keep_views(self, kind: str, views: list) -> None:
        """Keep rendered views, `views` = [(text, job_id, version)], kind "summary" or "detail".
        A job that changed since its version was read keeps nothing (the update forgot it)."""
        if views:
            column = {"summary": "summary_json", "detail": "detail_json"}[kind]
            with self.store.transaction():
                self.store.executemany(f"UPDATE jobs SET {column}=? WHERE job_id=? AND version=?", views)

    def forget_views(self) -> None:
        """Drop every kept view (their rendering changed, e.g. a newer botocore model)."""
        self.store.execute("UPDATE jobs SET summary_json=NULL, detail_json=NULL "
                           "WHERE summary_json IS NOT NULL OR detail_json IS NOT NULL")

    def active(self, but=()) -> list:
        """Every job not yet SUCCEEDED/FAILED (nor in the status or statuses `but`), oldest first
        (the scheduler's snapshot)."""
        # Statuses named (IN, not NOT IN) so SQLite reads them through jobs_by_status instead of
        # scanning every finished job on every tick.
        but = (but,) if isinstance(but, str) else tuple(but)
        return self.in_statuses(tuple(s for s in job_states.ACTIVE if s not in but))

    def in_statuses(self, statuses: tuple) -> list:
        """Every job in one of `statuses`, oldest first."""
        rows = self.store.query(f"SELECT doc FROM jobs WHERE status IN ({','.join('?' * len(statuses))}) "
                                "ORDER BY created_at, seq", statuses)
        return [json.loads(r["doc"]) for r in rows]

    def pending_woken(self, ids=(), dependants_of=(), children_of=()) -> list:
        """PENDING jobs among `ids`, waiting on one of `dependants_of` (job_deps), or children of
        one of `children_of`; oldest first. What the scheduler looks at again when jobs end or
        arrays spawn, instead of every PENDING job."""
        # `+status`: through the job_id and parent indexes (one look-up per id), never a scan
        # of every PENDING job through jobs_by_status.
        rows = self.store.query(
            "SELECT doc FROM jobs WHERE +status='PENDING' AND ("
            "job_id IN (SELECT value FROM json_each(?)) "
            "OR job_id IN (SELECT job_id FROM job_deps WHERE dep_id IN (SELECT value FROM json_each(?))) "
            "OR (parent_id IN (SELECT value FROM json_each(?)) AND status='PENDING')) ORDER BY created_at, seq",
            tuple(json.dumps(list(x)) for x in (ids, dependants_of, children_of)))
        return [json.loads(r["doc"]) for r in rows]

    def shares_in(self, status: str, queue_arn: str) -> set:
        """The shareIdentifiers of the jobs of one queue in `status`."""
        rows = self.store.tuples("SELECT DISTINCT share_id FROM jobs WHERE status=? AND queue_arn=?",
                                 (status, queue_arn))
        return {r[0] for r in rows}

    def in_status_outside(self, statuses, queue_arns) -> list:
        """Jobs in `statuses` (one or several) whose queue is none of `queue_arns`, oldest first."""
        statuses = (statuses,) if isinstance(statuses, str) else tuple(statuses)
        # The filter reads jobs_by_status (status, queue_arn) alone: only matches are fetched.
        rows = self.store.query(f"SELECT doc FROM jobs WHERE status IN ({','.join('?' * len(statuses))}) "
                                "AND queue_arn NOT IN (SELECT value FROM json_each(?)) ORDER BY created_at, seq",
                                (*statuses, json.dumps(list(queue_arns))))
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

    def exists_in_queue(self, queue_arn: str) -> bool:
        return bool(self.store.query("SELECT 1 FROM jobs WHERE queue_arn=? AND status NOT IN "
                                     "('SUCCEEDED','FAILED') LIMIT 1", (queue_arn,)))
