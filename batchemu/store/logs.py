"""Log storage: SQL over the CloudWatch Logs tables log_groups, log_streams (migration 3) and
log_events. Job output is written here durably the moment a runner reports it (the engine), and
the Logs API (logs/) reads and writes the same rows. Rows in, dicts out; no Logs rule here
beyond what a query needs (ordering, cascades on delete). Must not import engine/ or logs/:
both sit above the store."""

from __future__ import annotations

import json


class LogTables:
    def __init__(self, store):
        self.store = store

    # -- groups ------------------------------------------------------------------------------

    def group(self, account: str, region: str, name: str) -> dict | None:
        rows = self.store.query("SELECT * FROM log_groups WHERE account=? AND region=? AND name=?",
                                (account, region, name))
        return _group(rows[0]) if rows else None

    def groups(self, account: str, region: str) -> list[dict]:
        rows = self.store.query("SELECT * FROM log_groups WHERE account=? AND region=? ORDER BY name",
                                (account, region))
        return [_group(r) for r in rows]

    def create_group(self, account: str, region: str, name: str, created: int, kms_key_id=None,
                     group_class: str = "STANDARD", deletion_protection: bool = False,
                     tags: dict | None = None) -> bool:
        """False when the group exists already."""
        return bool(self.store.execute(
            "INSERT OR IGNORE INTO log_groups (account, region, name, created, kms_key_id, group_class, "
            "deletion_protection, tags) VALUES (?,?,?,?,?,?,?,?)",
            (account, region, name, created, kms_key_id, group_class, int(deletion_protection),
             json.dumps(tags or {}))).rowcount)

    def update_group(self, account: str, region: str, name: str, **columns) -> None:
        """columns: retention_days, deletion_protection, tags (a dict)."""
        if "tags" in columns:
            columns["tags"] = json.dumps(columns["tags"])
        sets = ", ".join(f"{c}=?" for c in columns)
        self.store.execute(f"UPDATE log_groups SET {sets} WHERE account=? AND region=? AND name=?",
                           (*columns.values(), account, region, name))

    def delete_group(self, account: str, region: str, name: str) -> None:
        """The group, its streams and their events."""
        with self.store.transaction():
            for table, column in (("log_events", "group_name"), ("log_streams", "group_name"),
                                  ("log_groups", "name")):
                self.store.execute(f"DELETE FROM {table} WHERE account=? AND region=? AND {column}=?",
                                   (account, region, name))

    def stored_bytes(self, account: str, region: str, group: str) -> int:
        rows = self.store.query(
            "SELECT COALESCE(SUM(length(CAST(message AS BLOB))), 0) AS n FROM log_events "
            "WHERE account=? AND region=? AND group_name=?", (account, region, group))
        return rows[0]["n"]

    # -- streams -----------------------------------------------------------------------------

    def stream(self, account: str, region: str, group: str, name: str) -> dict | None:
        rows = self.store.query("SELECT * FROM log_streams WHERE account=? AND region=? AND group_name=? "
                                "AND name=?", (account, region, group, name))
        return dict(rows[0]) if rows else None

    def streams(self, account: str, region: str, group: str) -> list[dict]:
        """Every stream of a group by name, with firstEvent/lastEvent/lastIngestion from its
        stored events (None when it has none)."""
        rows = self.store.query(
            "SELECT s.*, e.first_ts, e.last_ts, e.last_ingested FROM log_streams AS s LEFT JOIN "
            "(SELECT stream_name, MIN(ts) AS first_ts, MAX(ts) AS last_ts, MAX(ingested) AS last_ingested "
            " FROM log_events WHERE account=? AND region=? AND group_name=? GROUP BY stream_name) AS e "
            "ON e.stream_name = s.name WHERE s.account=? AND s.region=? AND s.group_name=? ORDER BY s.name",
            (account, region, group, account, region, group))
        return [dict(r) for r in rows]

    def create_stream(self, account: str, region: str, group: str, name: str, created: int,
                      job_id: str | None = None, attempt: int | None = None) -> bool:
        """False when the stream exists already."""
        return bool(self.store.execute(
            "INSERT OR IGNORE INTO log_streams (account, region, group_name, name, created, job_id, attempt) "
            "VALUES (?,?,?,?,?,?,?)", (account, region, group, name, created, job_id, attempt)).rowcount)

    def delete_stream(self, account: str, region: str, group: str, name: str) -> None:
        with self.store.transaction():
            self.store.execute("DELETE FROM log_events WHERE account=? AND region=? AND group_name=? "
                               "AND stream_name=?", (account, region, group, name))
            self.store.execute("DELETE FROM log_streams WHERE account=? AND region=? AND group_name=? "
                               "AND name=?", (account, region, group, name))

    def next_upload_seq(self, account: str, region: str, group: str, name: str) -> int:
        with self.store.transaction():
            self.store.execute("UPDATE log_streams SET upload_seq = upload_seq + 1 WHERE account=? "
                               "AND region=? AND group_name=? AND name=?", (account, region, group, name))
            rows = self.store.query("SELECT upload_seq FROM log_streams WHERE account=? AND region=? "
                                    "AND group_name=? AND name=?", (account, region, group, name))
            return rows[0]["upload_seq"] if rows else 0

    # -- events ------------------------------------------------------------------------------

    def append(self, account: str, region: str, group: str, stream: str, lines, ingested: int) -> None:
        """Events `(ts, text)` at the end of a stream, in one transaction."""
        rows = [(account, region, group, stream, int(ts), ingested, text) for ts, text in lines]
        if not rows:
            return
        with self.store.transaction():
            self.store.executemany(
                "INSERT INTO log_events (account, region, group_name, stream_name, ts, ingested, message) "
                "VALUES (?,?,?,?,?,?,?)", rows)

    def tail(self, account: str, region: str, group: str, stream: str) -> tuple[int, list] | None:
        """(newest timestamp, [texts at it in arrival order]) of a stream, None when empty:
        where a re-attached container's output resumes (runners.base.OutputMark)."""
        where = "account=? AND region=? AND group_name=? AND stream_name=?"
        key = (account, region, group, stream)
        rows = self.store.query(f"SELECT ts, message FROM log_events WHERE {where} AND ts = "
                                f"(SELECT MAX(ts) FROM log_events WHERE {where}) ORDER BY seq", key + key)
        return (rows[0]["ts"], [r["message"] for r in rows]) if rows else None

    def read(self, account: str, region: str, group: str, stream: str) -> list:
        """Every event of a stream as `(ts, text)`, in stream order."""
        rows = self.store.query(
            "SELECT ts, message FROM log_events WHERE account=? AND region=? AND group_name=? "
            "AND stream_name=? ORDER BY ts, seq", (account, region, group, stream))
        return [(r["ts"], r["message"]) for r in rows]

    def events(self, account: str, region: str, group: str, stream: str | None, lo_ts: int, hi_ts: int,
               descending: bool = False, limit: int = -1) -> list:
        """Rows (stream_name, ts, ingested, message) with lo_ts <= ts <= hi_ts, in stream order
        (ts, then arrival), of one stream or (stream None) of the whole group."""
        order = "DESC" if descending else ""
        where = "account=? AND region=? AND group_name=? AND ts >= ? AND ts <= ?"
        args = [account, region, group, lo_ts, hi_ts]
        if stream is not None:
            where += " AND stream_name=?"
            args.append(stream)
        return self.store.query(
            f"SELECT stream_name, ts, ingested, message FROM log_events WHERE {where} "
            f"ORDER BY ts {order}, seq {order} LIMIT ?", (*args, limit))

    def group_events(self, account: str, region: str, group: str, lo_ts: int, hi_ts: int,
                     chunk: int = 1000):
        """Rows (stream_name, ts, ingested, message) of a whole group with lo_ts <= ts <= hi_ts,
        ordered by (ts, stream, arrival), fetched lazily in growing chunks (a page that stops
        early reads little)."""
        where, args = "ts >= ?", (lo_ts,)
        while True:
            rows = self.store.query(
                "SELECT stream_name, ts, ingested, message, seq FROM log_events WHERE account=? AND region=? "
                f"AND group_name=? AND ts <= ? AND {where} ORDER BY ts, stream_name, seq LIMIT ?",
                (account, region, group, hi_ts, *args, chunk))
            yield from rows
            if len(rows) < chunk:
                return
            last = rows[-1]
            where = "(ts > ? OR (ts = ? AND (stream_name > ? OR (stream_name = ? AND seq > ?))))"
            args = (last["ts"], last["ts"], last["stream_name"], last["stream_name"], last["seq"])
            chunk = min(chunk * 4, 64_000)

    def count_at(self, account: str, region: str, group: str, stream: str, ts: int) -> int:
        rows = self.store.query("SELECT COUNT(*) AS n FROM log_events WHERE account=? AND region=? "
                                "AND group_name=? AND stream_name=? AND ts=?",
                                (account, region, group, stream, ts))
        return rows[0]["n"]


def _group(row) -> dict:
    out = dict(row)
    out["tags"] = json.loads(out["tags"])
    out["deletion_protection"] = bool(out["deletion_protection"])
    return out
