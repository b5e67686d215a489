"""Schema versions. Each entry upgrades the database by one version (PRAGMA user_version).

Never edit a released migration; append a new one. An entry is SQL (statements separated by
`;`) or, for a repair SQL cannot express, a function of the sqlite3 connection, run in the
same transaction.
"""

import json
import math
import time

from batchemu.store import documents


# -- repairs (Python migrations, listed in MIGRATIONS below) ---------------------------------

# JSON-text columns and a cheap pre-filter for rows that may need repair (LIKE ignores case:
# `nan` and `infinity` inside strings pass it too, and are then left as they are).
_JSON_COLUMNS = (("resources", "doc"), ("jobs", "doc"), ("service_jobs", "doc"), ("log_groups", "tags"))
_SUSPECT = "({col} LIKE '%NaN%' OR {col} LIKE '%Infinity%' OR {col} LIKE '%\\ud%')"
_REPAIRED_REASON = ("batchemu: this job held a value that is not a finite number (accepted by an "
                    "earlier version, which AWS Batch refuses); it was failed when the store was "
                    "repaired")


def repair_non_json(conn) -> None:
    """Rewrite every stored JSON text that holds NaN, Infinity or a lone surrogate: a member whose
    value is not a finite number is dropped (as if never sent; in a list it becomes null), a lone
    surrogate becomes U+FFFD. A job that held such a number and had not finished is FAILED with a
    statusReason saying why: it could never have been scheduled (AWS would have refused it), and
    its row's vcpus column is recomputed. Cached wire views of a repaired job are dropped."""
    now_ms = int(time.time() * 1000)
    for table, column in _JSON_COLUMNS:
        rows = conn.execute(f"SELECT rowid, {column} FROM {table} WHERE "
                            + _SUSPECT.format(col=column)).fetchall()
        for rowid, text in rows:
            doc = json.loads(text)  # Python reads NaN/Infinity and lone surrogate escapes
            fixed, lost_number = _repaired(doc)
            if fixed == doc and not lost_number:
                continue  # the words were inside strings: nothing to repair
            if table == "jobs":
                if lost_number and fixed.get("status") not in ("SUCCEEDED", "FAILED"):
                    fixed.update(status="FAILED", statusReason=_REPAIRED_REASON, stoppedAt=now_ms)
                vcpus = (fixed.get("_need") or {}).get("vcpus") or 0
                conn.execute("UPDATE jobs SET doc=?, status=?, vcpus=?, summary_json=NULL, "
                             "detail_json=NULL, version=version+1 WHERE rowid=?",
                             (documents.dump(fixed), fixed["status"], float(vcpus), rowid))
            else:
                conn.execute(f"UPDATE {table} SET {column}=? WHERE rowid=?",
                             (documents.dump(fixed), rowid))
    # A vcpus column of infinity (REAL accepts it) whose document was already repaired above.
    conn.execute("UPDATE jobs SET vcpus=0 WHERE vcpus > 1e308 OR vcpus < -1e308")


def _repaired(value):
    """(value without non-finite numbers and lone surrogates, whether a number was dropped)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None, True
    if isinstance(value, str):
        return value if _encodes(value) else "".join(
            "\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value), False
    if isinstance(value, list):
        items = [_repaired(v) for v in value]
        return [v for v, _ in items], any(lost for _, lost in items)
    if isinstance(value, dict):
        out, lost_any = {}, False
        for key, item in value.items():
            fixed, lost = _repaired(item)
            lost_any |= lost
            if fixed is None and lost:
                continue  # a member that was not a number is a member not sent
            out[_repaired(key)[0]] = fixed
        return out, lost_any
    return value, False


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


MIGRATIONS = [
    # 1: control-plane resources (compute environments, job queues, job definitions,
    #    scheduling policies, ...) as JSON documents, unique per account/region/kind/key.
    """
    CREATE TABLE resources (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        account TEXT NOT NULL,
        region  TEXT NOT NULL,
        kind    TEXT NOT NULL,
        key     TEXT NOT NULL,
        arn     TEXT NOT NULL,
        doc     TEXT NOT NULL,
        UNIQUE (account, region, kind, key)
    );
    CREATE INDEX resources_by_arn ON resources (arn);
    """,
    # 2: jobs (one row per job, array child or parent), captured job output, server metadata.
    """
    CREATE TABLE jobs (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        account     TEXT NOT NULL,
        region      TEXT NOT NULL,
        job_id      TEXT NOT NULL UNIQUE,
        arn         TEXT NOT NULL,
        name        TEXT NOT NULL,
        queue_arn   TEXT NOT NULL,
        status      TEXT NOT NULL,
        parent_id   TEXT,
        created_at  INTEGER NOT NULL,
        share_id    TEXT,
        jd_arn      TEXT NOT NULL,
        ce_arn      TEXT,
        vcpus       REAL NOT NULL DEFAULT 0,
        version     INTEGER NOT NULL DEFAULT 0,
        doc         TEXT NOT NULL
    );
    CREATE INDEX jobs_by_queue ON jobs (account, region, queue_arn, status, created_at);
    CREATE INDEX jobs_by_parent ON jobs (parent_id, status);
    CREATE INDEX jobs_by_status ON jobs (status);
    CREATE INDEX jobs_by_ce ON jobs (ce_arn, status);
    CREATE TABLE log_events (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        account     TEXT NOT NULL,
        region      TEXT NOT NULL,
        group_name  TEXT NOT NULL,
        stream_name TEXT NOT NULL,
        ts          INTEGER NOT NULL,
        ingested    INTEGER NOT NULL,
        message     TEXT NOT NULL
    );
    CREATE INDEX log_events_by_stream ON log_events (account, region, group_name, stream_name, ts, seq);
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 3: CloudWatch Logs groups and streams (batchemu.logs). A job's stream remembers its job id
    #    and attempt, so reads can add a running container's output. Groups and streams that
    #    already have events (job output stored before this version) and streams named by
    #    existing jobs' attempts are registered, so nothing written earlier disappears.
    """
    CREATE TABLE log_groups (
        seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
        account             TEXT NOT NULL,
        region              TEXT NOT NULL,
        name                TEXT NOT NULL,
        created             INTEGER NOT NULL,
        retention_days      INTEGER,
        kms_key_id          TEXT,
        group_class         TEXT NOT NULL DEFAULT 'STANDARD',
        deletion_protection INTEGER NOT NULL DEFAULT 0,
        tags                TEXT NOT NULL DEFAULT '{}',
        UNIQUE (account, region, name)
    );
    CREATE TABLE log_streams (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        account     TEXT NOT NULL,
        region      TEXT NOT NULL,
        group_name  TEXT NOT NULL,
        name        TEXT NOT NULL,
        created     INTEGER NOT NULL,
        job_id      TEXT,
        attempt     INTEGER,
        upload_seq  INTEGER NOT NULL DEFAULT 0,
        UNIQUE (account, region, group_name, name)
    );
    INSERT OR IGNORE INTO log_streams (account, region, group_name, name, created, job_id, attempt)
        SELECT j.account, j.region, json_extract(t.value, '$.logGroup'),
               json_extract(t.value, '$.logStreamName'), j.created_at, j.job_id, CAST(t.key AS INTEGER)
        FROM jobs AS j, json_each(j.doc, '$._tasks') AS t
        WHERE json_extract(t.value, '$.logGroup') IS NOT NULL
          AND json_extract(t.value, '$.logStreamName') IS NOT NULL;
    INSERT OR IGNORE INTO log_streams (account, region, group_name, name, created)
        SELECT account, region, group_name, stream_name, MIN(ingested) FROM log_events
        GROUP BY account, region, group_name, stream_name;
    INSERT OR IGNORE INTO log_groups (account, region, name, created)
        SELECT account, region, group_name, MIN(created) FROM log_streams
        GROUP BY account, region, group_name;
    """,
    # 4: service jobs (SubmitServiceJob, ref §13.3): one row per job, a JSON document plus the
    #    columns queries filter on, like jobs.
    """
    CREATE TABLE service_jobs (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        account     TEXT NOT NULL,
        region      TEXT NOT NULL,
        job_id      TEXT NOT NULL UNIQUE,
        arn         TEXT NOT NULL,
        name        TEXT NOT NULL,
        queue_arn   TEXT NOT NULL,
        status      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        share_id    TEXT,
        quota_share TEXT,
        version     INTEGER NOT NULL DEFAULT 0,
        doc         TEXT NOT NULL
    );
    CREATE INDEX service_jobs_by_queue ON service_jobs (account, region, queue_arn, status, created_at);
    CREATE INDEX service_jobs_by_status ON service_jobs (status);
    """,
    # 5: log events of a whole group in time order (FilterLogEvents pages through a group by
    #    timestamp, then stream, then arrival).
    """
    CREATE INDEX log_events_by_group_time ON log_events (account, region, group_name, ts, stream_name, seq);
    """,
    # 6: each job's JobSummary and JobDetail as the wire sends them, kept from the last read
    #    until the job next changes (NULL until then), so ListJobs/DescribeJobs of unchanged
    #    jobs neither decode documents nor encode answers (batch.job_views).
    """
    ALTER TABLE jobs ADD COLUMN summary_json TEXT;
    ALTER TABLE jobs ADD COLUMN detail_json TEXT
    """,
    # 7: the listing indexes end in ListJobs' order (created_at, job_id) and hold parent_id, so
    #    a page is read in order straight off the index and stops at its limit, instead of
    #    sorting every match.
    """
    DROP INDEX jobs_by_queue;
    CREATE INDEX jobs_by_queue ON jobs (account, region, queue_arn, status, parent_id, created_at, job_id);
    DROP INDEX jobs_by_parent;
    CREATE INDEX jobs_by_parent ON jobs (parent_id, status, created_at, job_id)
    """,
    # 8: documents stored before the wire and the store refused values JSON cannot carry
    #    (SubmitJob VCPU "1e999" stored Infinity, a tag value "\ud800" a lone surrogate) are
    #    repaired: SQLite's JSON functions failed on them, so ListJobs and its filters answered
    #    500 for good.
    repair_non_json,
    # 9 (after 8, whose repair makes every document readable by json_each): who waits on whom. One row per dependency of a job (dependsOn, array children's
    #    N_TO_N and SEQUENTIAL links), so when a job ends the scheduler reads just its dependants
    #    instead of every PENDING job on every tick (bench/scale.py "dependants"). Filled from the
    #    jobs that can still wait; finished jobs never look at their dependencies again. The
    #    status index gains queue_arn, so the scheduler's search for jobs of deleted queues reads
    #    the index alone instead of every RUNNABLE row (restart with 100,000 jobs).
    """
    CREATE TABLE job_deps (
        dep_id  TEXT NOT NULL,
        job_id  TEXT NOT NULL,
        PRIMARY KEY (dep_id, job_id)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO job_deps (dep_id, job_id)
        SELECT json_extract(d.value, '$.jobId'), j.job_id
        FROM jobs AS j, json_each(j.doc, '$.dependsOn') AS d
        WHERE j.status IN ('SUBMITTED', 'PENDING') AND json_extract(d.value, '$.jobId') IS NOT NULL;
    DROP INDEX jobs_by_status;
    CREATE INDEX jobs_by_status ON jobs (status, queue_arn)
    """,
    # 10: bytes kept by content (pipelines.durable_functions: the code zip of a Lambda function
    #     moto accepted, "lambda:<sha256>"), apart from the JSON documents that name them, so a
    #     configuration change rewrites a small document and never the zip.
    """
    CREATE TABLE IF NOT EXISTS blobs (
        key   TEXT PRIMARY KEY,
        data  BLOB NOT NULL
    )
    """,
]
