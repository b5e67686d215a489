"""Job output, stored durably as CloudWatch-style log events (group, stream, timestamp,
message) the moment a runner reports it. The Logs API reads the same table."""

from __future__ import annotations


class LogSink:
    def __init__(self, store):
        self.store = store

    def append(self, account: str, region: str, group: str, stream: str, lines, ingested_ms: int) -> None:
        rows = [(account, region, group, stream, int(ts), ingested_ms, text) for ts, text in lines]
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
        rows = self.store.query(
            "SELECT ts, message FROM log_events WHERE account=? AND region=? AND group_name=? "
            "AND stream_name=? ORDER BY ts, seq", (account, region, group, stream))
        return [(r["ts"], r["message"]) for r in rows]
