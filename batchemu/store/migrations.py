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
]
