"""Where each busy job's stored output ends, for the runner's reattach after a restart: a
runner that can read a container's output again (Docker) reports only what comes after it, so
a restart neither loses nor repeats a line of a job that kept running."""

from __future__ import annotations

from batchemu.runners.base import OutputMark
from batchemu.store.logs import LogTables


def stored_output(sink: LogTables, jobs: list) -> dict:
    """job id -> OutputMark of the current attempt's stream, for the jobs with output stored."""
    marks = {}
    for job in jobs:
        task = (job.get("_tasks") or {}).get(str(job.get("_attempt")))
        tail = task and sink.tail(job["_account"], job["_region"], task["logGroup"], task["logStreamName"])
        # A task's containers each have a stream (engine.task_jobs): a mark per container.
        containers = {}
        for name, (group, stream) in ((task or {}).get("streams") or {}).items():
            own = sink.tail(job["_account"], job["_region"], group, stream)
            if own:
                containers[name] = OutputMark(own[0], tuple(own[1]))
        if tail or containers:
            marks[job["jobId"]] = OutputMark(tail[0] if tail else 0, tuple(tail[1]) if tail else (), containers)
    return marks
