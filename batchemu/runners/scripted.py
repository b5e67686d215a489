"""ScriptedRunner: a runner for scheduler tests. It runs nothing; it records what the engine
asked for, and the test decides when each attempt runs, writes output and exits. Events go
to the listener synchronously, so a test with a manual clock needs no threads and no sleeps.
"""

from __future__ import annotations

from batchemu.runners import base


class ScriptedRunner:
    name = "scripted"

    def __init__(self, clock, gpus: int = 0):
        self.clock = clock
        self._gpus = gpus
        self.listener = None
        self.started: list[base.LaunchSpec] = []
        self.stopped: list[tuple] = []
        self.live: dict = {}          # job_id -> attempt still "running"
        self.survivors: list = []     # what reattach() reports
        self.stored_output: dict | None = None   # what the last reattach() was told
        self.resets = 0                           # how many times reset() was asked for
        self.followed: list | None = None         # the places the last follow() was told
        self.nodes: base.Room | None = None       # what room() reports (None: no bound, as Docker)

    def set_listener(self, listener) -> None:
        self.listener = listener

    def start(self, spec: base.LaunchSpec) -> None:
        self.started.append(spec)
        self.live[spec.job_id] = spec.attempt

    def stop(self, job_id: str, attempt: int, grace_seconds: float = 30.0) -> None:
        self.stopped.append((job_id, attempt, grace_seconds))

    def room(self) -> base.Room | None:
        return self.nodes

    def follow(self, places: list) -> None:
        self.followed = list(places)

    def reattach(self, wanted: dict, stored_output: dict | None = None) -> list:
        self.stored_output = stored_output
        return [s for s in self.survivors if wanted.get(s.job_id) == s.attempt]

    def reset(self) -> None:
        self.resets += 1
        self.live.clear()

    def gpus(self) -> int:
        return self._gpus

    def close(self) -> None:
        pass

    # -- what the test scripts ---------------------------------------------------------------

    def spec(self, job_id: str) -> base.LaunchSpec:
        return [s for s in self.started if s.job_id == job_id][-1]

    def run(self, job_id: str, address: str | None = None) -> None:
        self._emit(base.RUNNING, job_id, address=address)

    def output(self, job_id: str, *lines: str) -> None:
        now = self.clock()
        self._emit(base.LOG, job_id, lines=tuple((now, line) for line in lines))

    def exit(self, job_id: str, code: int | None, reason=None, status_reason=None, oom=False) -> None:
        self._emit(base.EXITED, job_id, exit_code=code, reason=reason, status_reason=status_reason, oom=oom)
        self.live.pop(job_id, None)

    def _emit(self, kind: str, job_id: str, **fields) -> None:
        attempt = self.live.get(job_id) or self.spec(job_id).attempt
        self.listener(base.RunnerEvent(kind=kind, job_id=job_id, attempt=attempt, at_ms=self.clock(), **fields))
