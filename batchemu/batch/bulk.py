"""The bulk job operations' one rule (CancelJobs, TerminateJobs, TerminateServiceJobs): each id
goes through the single operation's own function, and its outcome is reported per job.

Model documentation of the three operations: up to 50 ids; "Jobs that can't be found are
treated as successfully processed"; the call answers 200 "even when some jobs encountered
errors", each reported as {job, code, message}. So a bulk call leaves every job exactly as the
equivalent single calls would (same states, same events): this module only loops and sorts
outcomes; it knows no job states. No HTTP here.
"""

from __future__ import annotations

import re
from typing import Callable

from batchemu.batch.backend import Backend
from batchemu.batch.errors import ClientException, UnknownJob
from batchemu.context import RequestContext

MAX_JOBS = 50        # "An array of up to 50 ... job IDs" (model)
MAX_REASON = 1024    # "This parameter has a limit of 1024 characters" (model; ref §6.7)
# A job id batchemu issues: a UUID, an array child's "<uuid>:<index>". Anything else is
# "malformed or isn't valid" (the model's ValidationException code), not merely unknown.
JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(:[0-9]{1,5})?")


def each(backend: Backend, ctx: RequestContext, params: dict, single: Callable) -> dict:
    """Run `single(backend, ctx, {"jobId", "reason"})` for each id of params["jobs"] (each id once, in
    order) and report {"successful": [...], "errors": [...]}."""
    ids, reason = params["jobs"], params["reason"]
    if not 1 <= len(ids) <= MAX_JOBS:
        raise ClientException(f"jobs must list 1 to {MAX_JOBS} job IDs, got {len(ids)}")
    if len(reason) > MAX_REASON:
        raise ClientException(f"reason must be at most {MAX_REASON} characters, got {len(reason)}")
    successful, errors = [], []
    for job_id in dict.fromkeys(ids):
        if not JOB_ID.fullmatch(job_id):
            errors.append({"job": job_id, "code": "ValidationException",
                           "message": f"Job ID {job_id!r} is malformed: a job ID is a UUID, or "
                                      "<UUID>:<index> for an array child"})
            continue
        try:
            single(backend, ctx, {"jobId": job_id, "reason": reason})
        except UnknownJob:
            pass  # "Jobs that can't be found are treated as successfully processed" (model)
        except ClientException as e:
            errors.append({"job": job_id, "code": e.code, "message": e.message})
            continue
        successful.append(job_id)
    return {"successful": successful, "errors": errors}
