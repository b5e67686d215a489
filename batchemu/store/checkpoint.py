"""WAL checkpoints off the request path: a thread with its own connection copies committed pages
from the write-ahead log into the database file shortly after writes.

SQLite's automatic checkpoint runs inside the commit that fills the log past 1,000 pages, so
every so often one request pays for copying (and syncing) up to 1,000 pages scattered over a
large file: 30-100 ms with 100,000 jobs, when DescribeJobs of 100 array children keeps ~100
pages of views per call (bench/scale.py "arrays"). Here no request waits for it. The store's
own automatic checkpoint stays, at a higher mark, as a backstop should this thread fall behind.
Owns no data and takes no lock of the store: a PASSIVE checkpoint never blocks readers or
writers of the other connection.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

log = logging.getLogger("batchemu.store")

BACKSTOP_PAGES = 10_000  # the store connection checkpoints itself past this (~40 MB of log)
GATHER_SECONDS = 0.2     # a burst of writes ends before its pages are copied, in one checkpoint


class Checkpointer:
    def __init__(self, path: str):
        self._wrote = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, args=(path,), name="batchemu-checkpoint", daemon=True)
        self._thread.start()

    def wrote(self) -> None:
        """Called after a write committed: a checkpoint follows soon."""
        self._wrote.set()

    def close(self) -> None:
        self._closed = True
        self._wrote.set()
        self._thread.join(10)

    def _run(self, path: str) -> None:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")  # as the store's: sync at checkpoints only
            while True:
                self._wrote.wait()  # sleeps while nothing is written: no polling
                if self._closed:
                    return
                time.sleep(GATHER_SECONDS)
                self._wrote.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    log.exception("WAL checkpoint failed; the store's own checkpoint takes over")
        finally:
            conn.close()
