"""Schema versions. Each entry upgrades the database by one version (PRAGMA user_version).

Never edit a released migration; append a new one.
"""

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
]
