"""Store: one SQLite connection guarded by a lock, WAL mode, migrations on open.

Every write happens inside `transaction()` (BEGIN IMMEDIATE ... COMMIT), so a SIGKILL leaves
either the whole change or none of it. Committed data survives a process kill (WAL with
synchronous=NORMAL is durable against process crashes; only an OS crash can lose the last
commits).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from pathlib import Path

from batchemu.store import checkpoint, documents
from batchemu.store.migrations import MIGRATIONS


class Store:
    def __init__(self, path: str = ":memory:"):
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._checkpointer = None
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            # Checkpoints happen on their own thread (store.checkpoint); this is the backstop.
            self._conn.execute(f"PRAGMA wal_autocheckpoint={checkpoint.BACKSTOP_PAGES}")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._depth = 0
        # Called as observer(new_job_doc, old_status) after every job status change
        # (engine.states.transition); e.g. the EventBridge "Batch Job State Change" events.
        self.job_observers: list = []
        # The same for service jobs' status changes (store.service_jobs): their events.
        self.service_job_observers: list = []
        # Called as observer(job_doc, kind) when a RUNNABLE job at the head of its queue is blocked
        # with a new reason (engine.time_limits.note): the "Batch Job Queue Blocked" events.
        self.blocked_observers: list = []
        # doc -> the job's JobDetail text to keep with the row, or None (batch.job_views.
        # keep_on_write); None here: views are kept only once a reader renders them.
        self.detail_on_write = None
        self._migrate()
        if path != ":memory:":
            self._checkpointer = checkpoint.Checkpointer(path)

    # -- plumbing ---------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._lock:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                with self.transaction():
                    if callable(script):  # a repair SQL cannot express (migrations.py)
                        script(self._conn)
                    else:
                        for statement in script.split(";"):
                            if statement.strip():
                                self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version={number}")

    @property
    def schema_version(self) -> int:
        with self._lock:
            return self._conn.execute("PRAGMA user_version").fetchone()[0]

    @contextlib.contextmanager
    def transaction(self):
        """Nestable: the outermost block commits (or rolls back on an exception)."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")
                self._wrote()

    @contextlib.contextmanager
    def consistent(self):
        """Several reads that see one state: no write (all go through this connection) lands
        between them. Cheaper than a transaction, which would take SQLite's write lock."""
        with self._lock:
            yield self

    def execute(self, sql: str, args=()):
        with self._lock:
            cursor = self._conn.execute(sql, args)
            if not self._depth:  # committed on its own
                self._wrote()
            return cursor

    def executemany(self, sql: str, rows) -> None:
        with self._lock:
            self._conn.executemany(sql, rows)
            if not self._depth:
                self._wrote()

    def _wrote(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.wrote()

    def query(self, sql: str, args=()) -> list:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def tuples(self, sql: str, args=()) -> list:
        """Like query, but rows as plain tuples: cheaper where a query returns thousands."""
        with self._lock:
            cursor = self._conn.cursor()
            cursor.row_factory = None
            return cursor.execute(sql, args).fetchall()

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        with self._lock:
            self._conn.close()

    def clear(self, keep: tuple = ("meta",)) -> None:
        """Delete every row of every table but `keep` (the server's own settings: its id, the
        job signing key), in one transaction: a reset (Emulator.reset) leaves no half-cleared
        state. Every table, so tables later migrations add are cleared too."""
        with self.transaction():
            tables = [r["name"] for r in self.query(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
            for table in tables:
                if table not in keep:
                    self.execute(f'DELETE FROM "{table}"')  # names from sqlite_master, not from a user

    def meta(self, key: str, default_factory) -> str:
        """A persistent server setting (e.g. the server id), created on first use."""
        with self.transaction():
            rows = self.query("SELECT value FROM meta WHERE key=?", (key,))
            if rows:
                return rows[0]["value"]
            value = default_factory()
            self.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
            return value

    # -- control-plane resources ------------------------------------------------------------

    def get(self, account: str, region: str, kind: str, key: str) -> dict | None:
        rows = self.query("SELECT doc FROM resources WHERE account=? AND region=? AND kind=? AND key=?",
                          (account, region, kind, key))
        return json.loads(rows[0]["doc"]) if rows else None

    def get_by_arn(self, arn: str) -> tuple[str, dict] | None:
        """(kind, doc) of the resource with this ARN, or None."""
        rows = self.query("SELECT kind, doc FROM resources WHERE arn=?", (arn,))
        return (rows[0]["kind"], json.loads(rows[0]["doc"])) if rows else None

    def list(self, account: str, region: str, kind: str, key_prefix: str | None = None) -> list[dict]:
        """Documents of one kind in creation order."""
        sql = "SELECT doc FROM resources WHERE account=? AND region=? AND kind=?"
        args = [account, region, kind]
        if key_prefix is not None:
            sql += " AND substr(key, 1, ?) = ?"
            args += [len(key_prefix), key_prefix]
        return [json.loads(r["doc"]) for r in self.query(sql + " ORDER BY seq", args)]

    def list_every_scope(self, kind: str) -> list[tuple[str, str, dict]]:
        """(account, region, document) of every document of one kind, in creation order."""
        rows = self.query("SELECT account, region, doc FROM resources WHERE kind=? ORDER BY seq", (kind,))
        return [(r["account"], r["region"], json.loads(r["doc"])) for r in rows]

    def put(self, account: str, region: str, kind: str, key: str, arn: str, doc: dict) -> None:
        """Insert or replace; a replaced document keeps its place in creation order."""
        text = documents.dump(doc)
        with self.transaction():
            updated = self.execute(
                "UPDATE resources SET arn=?, doc=? WHERE account=? AND region=? AND kind=? AND key=?",
                (arn, text, account, region, kind, key)).rowcount
            if not updated:
                self.execute("INSERT INTO resources (account, region, kind, key, arn, doc) "
                             "VALUES (?,?,?,?,?,?)", (account, region, kind, key, arn, text))

    def delete(self, account: str, region: str, kind: str, key: str) -> None:
        self.execute("DELETE FROM resources WHERE account=? AND region=? AND kind=? AND key=?",
                     (account, region, kind, key))

    # -- bytes kept by content (blobs: Lambda code zips) ----------------------------------------

    def put_blob(self, key: str, data: bytes) -> None:
        """Keep `data` under `key` (a content hash: an existing key already holds these bytes)."""
        self.execute("INSERT OR IGNORE INTO blobs (key, data) VALUES (?, ?)", (key, sqlite3.Binary(data)))

    def has_blob(self, key: str) -> bool:
        return bool(self.query("SELECT 1 FROM blobs WHERE key=?", (key,)))

    def get_blob(self, key: str) -> bytes | None:
        rows = self.query("SELECT data FROM blobs WHERE key=?", (key,))
        return bytes(rows[0]["data"]) if rows else None

    def blob_keys(self, prefix: str) -> set[str]:
        rows = self.query("SELECT key FROM blobs WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))
        return {r["key"] for r in rows}

    def delete_blob(self, key: str) -> None:
        self.execute("DELETE FROM blobs WHERE key=?", (key,))
