"""Live output of the Docker runner's containers: one thread reads `docker logs --since` for
every followed container in turn and hands each one's new lines to the runner, which reports
them as LOG events (the engine stores them as they come). So the Logs API reads only the
store, and no request thread ever calls Docker.

Why one polling thread, not one `logs(follow=True)` stream per container: the SDK's follow
stream blocks a thread per container, so many concurrent jobs would mean as many threads. The
poller makes one Docker request at a time whatever the number of containers; a line is reported
at most one round after it was written (the interval plus the time a round takes). The cost:
dockerd filters `since` by reading the container's log file, so a round costs each container a
read of its log file (fine for batch jobs; a job writing gigabytes would want a follow stream).

Exactly once: Docker's `since` is inclusive and stdout and stderr lines can reach the log file a
moment out of timestamp order, so each read starts OVERLAP_NS before the newest line seen and
skips the lines of that window already reported. The read at exit (finish) goes through the
same cursor, so what was reported in all equals `docker logs`. After a restart the engine says
where the store left off (an OutputMark) and reading resumes there.

It never writes the store and knows no Batch rules.
"""

from __future__ import annotations

import collections
import logging
import threading

import docker.errors

from batchemu.runners.base import OutputMark
from batchemu.runners.docker_parse import in_time_order, parse_lines_ns

log = logging.getLogger(__name__)

OVERLAP_NS = 250_000_000       # re-read window: far more than the stdout/stderr write race
_MS = 1_000_000


class _Cursor:
    """How far one container's output has been reported (guarded by its own lock, held for a
    whole read-and-report so a poll and the exit's final read never interleave)."""

    def __init__(self, container_id: str, mark: OutputMark | None):
        self.container_id = container_id
        self.lock = threading.Lock()
        self.done = False
        self.mark = mark               # where the store left off (matters until a first read)
        self.low_ns = mark.ts_ms * _MS if mark else 0   # nothing before it is ever reported
        self.newest_ns = None          # the newest line accounted for
        self.recent = collections.Counter()   # (ns, text) accounted for, ns >= since_ns()

    def since_ns(self) -> int:
        """Where the next read starts (inclusive)."""
        if self.newest_ns is None:
            return self.low_ns
        return max(self.newest_ns - OVERLAP_NS, self.low_ns)

    def take(self, lines: list) -> list:
        """The lines of a read from since_ns() not reported yet, as [(ms, text)] in time order;
        they count as reported from now on."""
        floor = self.since_ns()
        seen = collections.Counter(self.recent)
        if self.newest_ns is None and self.mark is not None:
            # The store keeps milliseconds: what it holds at the mark's one is matched by text.
            seen.update(self.mark.texts)
        fresh, accounted = [], []
        for ns, text in lines:
            if ns < floor:
                continue               # before the window: reported (or stored) before
            at_mark = self.newest_ns is None and self.mark is not None and ns // _MS == self.mark.ts_ms
            key = text if at_mark else (ns, text)
            if seen[key]:
                seen[key] -= 1         # reported (or stored) already
            else:
                fresh.append((ns, text))
            accounted.append((ns, text))
        if accounted:
            self.newest_ns = max(ns for ns, _ in accounted)
            low = self.since_ns()
            self.recent = collections.Counter(line for line in accounted if line[0] >= low)
        return in_time_order(fresh)


class OutputFollower:
    """Follows running containers' output; `report(key, lines)` is called with each container's
    new lines [(epoch_ms, text)], from the poller thread, or from finish's caller."""

    def __init__(self, client, report, interval: float = 0.5):
        self.client = client
        self.report = report
        self.interval = interval
        self._lock = threading.Lock()          # guards _cursors
        self._cursors: dict = {}
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="batchemu-docker-output", daemon=True)
        self._thread.start()

    def follow(self, key, container_id: str, mark: OutputMark | None = None) -> None:
        with self._lock:
            self._cursors.setdefault(key, _Cursor(container_id, mark))

    def forget(self, key) -> None:
        with self._lock:
            cursor = self._cursors.pop(key, None)
        if cursor is not None:
            with cursor.lock:
                cursor.done = True

    def finish(self, key, container_id: str, mark: OutputMark | None = None) -> list:
        """Stop following and return the container's lines not reported yet (all of them, or
        those after `mark`, if it was never followed). Raises docker.errors.NotFound when the
        container is gone."""
        with self._lock:
            cursor = self._cursors.pop(key, None) or _Cursor(container_id, mark)
        with cursor.lock:          # waits for a poll of this container in flight
            cursor.done = True
            return self._read(cursor)

    def close(self) -> None:
        self._closing.set()
        self._thread.join(timeout=10)

    def _read(self, cursor: _Cursor) -> list:
        since = cursor.since_ns()
        kwargs = {}
        if since > _MS:
            # A millisecond early: a float cannot hold every nanosecond, and must not skip one.
            kwargs["since"] = (since - _MS) / 1e9
        raw = self.client.api.logs(cursor.container_id, stdout=True, stderr=True, timestamps=True, **kwargs)
        return cursor.take(parse_lines_ns(raw))

    def _run(self) -> None:
        while not self._closing.wait(self.interval):
            with self._lock:
                cursors = list(self._cursors.items())
            for key, cursor in cursors:
                if self._closing.is_set():
                    return
                self._poll(key, cursor)

    def _poll(self, key, cursor: _Cursor) -> None:
        with cursor.lock:
            if cursor.done:
                return
            try:
                lines = self._read(cursor)
            except docker.errors.NotFound:
                return             # removed: the runner's exit path reports it
            except Exception:
                log.warning("could not read the output of container %s", cursor.container_id, exc_info=True)
                return
            if lines:
                self.report(key, lines)
