"""Engine: runs the scheduler on one thread that wakes when something happens (a submit, a
runner event, a resource change) or at the scheduler's next deadline. No polling loop, no
thread per job. Tests drive `Scheduler.tick()` directly instead.

`reset()` (Emulator.reset, the reset routes) runs on this thread between two ticks, so no tick
ever sees a half-reset world and no request thread calls the runner (Docker) itself.
"""

from __future__ import annotations

import collections
import logging
import threading
from concurrent.futures import Future

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
        self._calls = collections.deque()  # (fn, Future) to run on the engine thread, guarded by _wake
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

    def reset(self, timeout: float = 120.0) -> None:
        """Forget every job and resource (Scheduler.reset: the runner's containers and
        processes killed and removed, the store's tables emptied in one transaction), on the
        engine thread between two ticks; returns when it is done."""
        self.call(self.scheduler.reset, timeout)

    def call(self, fn, timeout: float = 120.0):
        """Run `fn()` on the engine thread between two ticks and return its result (raises what
        it raises). Before start() or after stop() there is no tick to race: run it here."""
        future = Future()
        with self._wake:
            running = self._thread is not None and self._thread.is_alive() and not self._stopping
            if running:
                self._calls.append((fn, future))
                self._dirty = True
                self._wake.notify()
        if not running:
            return fn()
        return future.result(timeout)

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

    def _fail_calls(self) -> None:
        """Calls left when the engine stops (with _wake held): their callers get an error."""
        while self._calls:
            _, future = self._calls.popleft()
            if future.set_running_or_notify_cancel():
                future.set_exception(RuntimeError("the engine stopped"))

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
                    self._fail_calls()
                    return
                self._dirty = False
                calls, self._calls = self._calls, collections.deque()
            for fn, future in calls:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn())
                    except Exception as exc:  # handed to the caller, who raises it
                        future.set_exception(exc)
            try:
                deadline = self.scheduler.tick()
            except Exception:
                log.exception("scheduler tick failed")
                deadline = self.clock() + 1000  # try again shortly rather than stall
