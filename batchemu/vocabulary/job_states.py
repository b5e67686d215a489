"""Job statuses (ref §6.2; service jobs ref §13.3), the groups of them every layer asks about,
and the legal moves between them, per kind of job: pure data, imports nothing, so every layer
may read it (the store refuses a status write this table does not allow; the
engine's `transition()` goes through it).

A kind of job is a column of the table, not an engine: container jobs (ref §6.2) and SageMaker
service jobs (ref §13.3, with SCHEDULED between RUNNABLE and STARTING) move through the same
`engine.states.transition()`. Multi-node parallel jobs' nodes are a third column (NODE). A new
kind with statuses of its own adds its table here; ECS task and EKS pod jobs are SubmitJob jobs
and move through the container table.
"""

SUBMITTED, PENDING, RUNNABLE, SCHEDULED, STARTING, RUNNING, SUCCEEDED, FAILED = (
    "SUBMITTED", "PENDING", "RUNNABLE", "SCHEDULED", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
TERMINAL = frozenset({SUCCEEDED, FAILED})

CONTAINER = "container"   # SubmitJob's jobs (store.jobs)
SERVICE = "service"       # SubmitServiceJob's jobs (store.service_jobs)
NODE = "node"             # the nodes `<jobId>#<n>` of a multi-node parallel job (store.nodes)

TRANSITIONS = {
    # ref §6.2 "Allowed transitions". Array parents move SUBMITTED -> PENDING -> SUCCEEDED|FAILED
    # (ref §7), which is why PENDING may end in SUCCEEDED.
    CONTAINER: {
        SUBMITTED: frozenset({PENDING, RUNNABLE, FAILED}),
        PENDING: frozenset({RUNNABLE, FAILED, SUCCEEDED}),
        RUNNABLE: frozenset({STARTING, FAILED}),
        STARTING: frozenset({RUNNING, RUNNABLE, FAILED}),
        RUNNING: frozenset({SUCCEEDED, FAILED, RUNNABLE}),
        SUCCEEDED: frozenset(),
        FAILED: frozenset(),
    },
    # ServiceJobStatus (ref §13.3). Service jobs have no dependencies, so nothing is PENDING; an
    # attempt is SCHEDULED (handed to "SageMaker") before it is STARTING; a failed attempt goes
    # back to RUNNABLE for a retry.
    SERVICE: {
        SUBMITTED: frozenset({RUNNABLE, FAILED}),
        PENDING: frozenset({RUNNABLE, FAILED}),
        RUNNABLE: frozenset({SCHEDULED, FAILED}),
        SCHEDULED: frozenset({STARTING, RUNNABLE, FAILED}),
        STARTING: frozenset({RUNNING, RUNNABLE, FAILED}),
        RUNNING: frozenset({SUCCEEDED, FAILED, RUNNABLE}),
        SUCCEEDED: frozenset(),
        FAILED: frozenset(),
    },
    # The nodes of a multi-node parallel job (ref §12). A node is born RUNNABLE when its job
    # first starts; the main node goes STARTING with the job, the others once the main node
    # runs. A node's end is its own (SUCCEEDED/FAILED by exit code), but a main-node failure
    # gives the whole job another attempt (ref §9, §12), which runs every node again: so a
    # finished node may go back to RUNNABLE (the other nodes) or STARTING (the main node) when
    # its job's next attempt starts. Nodes have no dependencies: nothing is SUBMITTED/PENDING.
    NODE: {
        SUBMITTED: frozenset(),
        PENDING: frozenset(),
        RUNNABLE: frozenset({STARTING, FAILED}),
        STARTING: frozenset({RUNNING, RUNNABLE, FAILED}),
        RUNNING: frozenset({SUCCEEDED, FAILED, RUNNABLE}),
        SUCCEEDED: frozenset({RUNNABLE, STARTING}),
        FAILED: frozenset({RUNNABLE, STARTING}),
    },
}


class IllegalTransition(Exception):
    """A status write the table of the job's kind does not allow."""


def statuses(kind: str) -> tuple:
    """Every status of `kind`, in lifecycle order."""
    return tuple(TRANSITIONS[kind])


def allowed(kind: str, old: str, new: str) -> bool:
    """May a job of `kind` move from `old` to `new`? Staying put (an update that keeps the status)
    always may."""
    return old == new or new in TRANSITIONS[kind][old]


def sources(kind: str, new: str) -> tuple:
    """The statuses a job of `kind` may be in when `new` is written (itself included)."""
    return _SOURCES[kind][new]


_SOURCES = {kind: {new: tuple(old for old, to in table.items() if old == new or new in to) for new in table}
            for kind, table in TRANSITIONS.items()}


def check(kind: str, job_id: str, old: str, new: str) -> None:
    if not allowed(kind, old, new):
        raise IllegalTransition(f"{kind} job {job_id}: {old} -> {new}")


# Container jobs' statuses in lifecycle order (ListJobs' jobStatus values), and those a job can
# still leave.
ALL = statuses(CONTAINER)
ACTIVE = frozenset(ALL) - TERMINAL
