"""Timers: one thread that runs callbacks at deadlines. The Docker runner uses it for the
SIGKILL that follows a stop's grace period. Owns only the waiting: a callback's work should be
short (hand real work to a pool) and its failure is logged, never raised.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time

log = logging.getLogger(__name__)


class Timers:
    """One thread that runs callbacks at deadlines (SIGKILL after a stop's grace period), so a
    stop never holds a pool worker for its grace period and no thread is made per stop."""

    def __init__(self):
        self._heap = []
        self._seq = 0
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="batchemu-docker-timers", daemon=True)
        self._thread.start()

    def call_later(self, delay: float, fn) -> None:
        with self._cond:
            self._seq += 1
            heapq.heappush(self._heap, (time.monotonic() + max(0.0, delay), self._seq, fn))
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._closed:
                    return
                _, _, fn = heapq.heappop(self._heap)
            try:
                fn()
            except Exception:
                log.exception("timer callback failed")
