"""Job attempts as log streams: when a job enters STARTING, its attempt's group (created if
missing) and stream (`<prefix>/default/<task id>`, ref §6.10) are registered, so they are in
DescribeLogGroups/DescribeLogStreams before the job prints anything. Reads no job output."""

from __future__ import annotations

import logging

from batchemu.vocabulary import job_states

log = logging.getLogger("batchemu.logs")


def stream_observer(tables, clock):
    """A store.job_observers entry: observer(new_job_doc, old_status)."""

    def observe(job: dict, old_status: str) -> None:
        if job["status"] != job_states.STARTING or old_status == job_states.STARTING:
            return
        if job.get("nodeProperties") and not job.get("nodeDetails"):
            return  # a multi-node job: each of its nodes has a stream of its own (ref §12)
        attempt = job["_attempt"]
        task = (job.get("_tasks") or {}).get(str(attempt)) or {}
        # A multi-container job (engine.task_jobs) has a stream per container.
        names = list((task.get("streams") or {}).values()) or [(task.get("logGroup"), task.get("logStreamName"))]
        if not all(group and stream for group, stream in names):
            log.warning("job %s attempt %s has no log stream name", job["jobId"], attempt)
            return
        now = clock()
        with tables.store.transaction():
            for group, stream in names:
                # AWS fails a task whose custom awslogs-group is missing unless awslogs-create-group
                # is set; here the group is created, so output is never lost.
                tables.create_group(job["_account"], job["_region"], group, now)
                tables.create_stream(job["_account"], job["_region"], group, stream, now,
                                     job_id=job["jobId"], attempt=attempt)
    return observe
