"""Engine: runs the scheduler on one thread that wakes when something happens (a submit, a
runner event, a resource change) or at the scheduler's next deadline. No polling loop, no
thread per job. Tests drive `Scheduler.tick()` directly instead.
"""

from __future__ import annotations

import logging
import threading

from batchemu.engine.scheduler import Scheduler

log = logging.getLogger("batchemu.engine")


class Engine:
    def __init__(self, scheduler: Scheduler, clock):
        self.scheduler = scheduler
        self.clock = clock
        self._wake = threading.Condition()
        self._dirty = True
        self._stopping = False
        self._thread = None
        if scheduler.runner is not None:
            scheduler.runner.set_listener(self.on_runner_event)

    def wake(self) -> None:
        with self._wake:
            self._dirty = True
            self._wake.notify()

    def fault(self, ctx, kind: str, timeout: float = 10.0, **args) -> dict:
        """Inject a fault (engine.faults: "reclaim-spot", "lose-instance") and wait for the tick
        that applies it; raises engine.faults.FaultError for a target that does not exist."""
        future = self.scheduler.faults.post(ctx, kind, **args)
        self.wake()
        return future.result(timeout)

    def on_runner_event(self, event) -> None:
        self.scheduler.post(event)
        self.wake()

    def start(self) -> "Engine":
        self.scheduler.recover()
        self._thread = threading.Thread(target=self._loop, name="batchemu-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread:
            self._thread.join(10)
        if self.scheduler.runner is not None:
            self.scheduler.runner.close()

    def _loop(self) -> None:
        deadline = None
        while True:
            with self._wake:
                while not self._dirty and not self._stopping:
                    timeout = None if deadline is None else max(0.0, (deadline - self.clock()) / 1000.0)
                    if timeout == 0.0:
                        break
                    if not self._wake.wait(timeout):
                        break  # the deadline has come
                if self._stopping:
                    return
                self._dirty = False
            try:
                deadline = self.scheduler.tick()
            except Exception:
                log.exception("scheduler tick failed")
                deadline = self.clock() + 1000  # try again shortly rather than stall
