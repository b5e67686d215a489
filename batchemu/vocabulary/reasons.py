"""The statusReason texts a job ends (or goes back to RUNNABLE) with, as AWS words them. The
engine writes them; Batch operations compare against them (DescribeJobQueues' snapshot skips
jobs that failed on a dependency). Why a RUNNABLE job waits (MISCONFIGURATION:...) is not here:
those texts live with the capacity, consumable and quota rules that decide them."""

from __future__ import annotations

# Container jobs.
DEPENDENCY_FAILED = "Dependent Job failed"                   # ref §8
ARRAY_CHILD_FAILED = "Array Child Job failed"                # ref §7
CONTAINER_EXITED = "Essential container in task exited"       # ref §6.5
TIMED_OUT = "Job attempt duration exceeded timeout"          # ref §10 (service jobs too)
OUT_OF_MEMORY = "OutOfMemoryError: Container killed due to memory usage"  # ref §6.5
QUEUE_DELETED = "JobQueue deleted"                           # ref §6.5 (service jobs too)
LOST_ON_RESTART = ("Host EC2 (batchemu) terminated: the server restarted and the job's container "
                   "was gone")
TIME_LIMIT = "Canceled by JobStateTimeLimit action due to reason: {}"  # ref §11.5
FAILED_TO_START = "Task failed to start"                     # ref §6.5: no container ran

# Service jobs (ref §13.3).
FROM_SAGEMAKER = "Received status from SageMaker: {}"
SERVICE_LOST_ON_RESTART = ("InternalServerError: the training job's container was gone after batchemu "
                           "restarted")
SERVICE_TIME_LIMIT = "Terminated by JobStateTimeLimit action due to reason: {}"  # ref §11.5
