"""A thread-safe collector of RunnerEvents for runner tests: waits on a condition variable
(with a timeout), never in a sleep loop."""

from __future__ import annotations

import threading

from batchemu.runners.base import EXITED, LOG, RUNNING


class EventLog:
    def __init__(self):
        self._cond = threading.Condition()
        self.events = []

    def __call__(self, event) -> None:          # the runner's listener
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = 20.0):
        """The first event matching predicate, waiting up to timeout seconds for it."""
        with self._cond:
            found = []

            def match():
                found[:] = [e for e in self.events if predicate(e)][:1]
                return bool(found)

            if not self._cond.wait_for(match, timeout):
                raise AssertionError(f"no matching event within {timeout}s; got {self.events}")
            return found[0]

    def wait_kind(self, kind: str, job_id: str, attempt: int = 1, timeout: float = 20.0):
        return self.wait_for(lambda e: e.kind == kind and e.job_id == job_id and e.attempt == attempt,
                             timeout)

    def exited(self, job_id: str, attempt: int = 1, timeout: float = 20.0):
        return self.wait_kind(EXITED, job_id, attempt, timeout)

    def running(self, job_id: str, attempt: int = 1, timeout: float = 20.0):
        return self.wait_kind(RUNNING, job_id, attempt, timeout)

    def of(self, job_id: str, attempt: int = 1) -> list:
        with self._cond:
            return [e for e in self.events if e.job_id == job_id and e.attempt == attempt]

    def lines(self, job_id: str, attempt: int = 1) -> list:
        """The text of every LOG line reported for the attempt, in order."""
        return [text for e in self.of(job_id, attempt) if e.kind == LOG for _, text in e.lines]

    def kinds(self, job_id: str, attempt: int = 1) -> list:
        return [e.kind for e in self.of(job_id, attempt)]
