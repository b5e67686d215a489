"""Which RUNNABLE container jobs start where, decided from a snapshot by a pure function
(DESIGN "Decide, apply, run"; nomad's plan/apply): `decide(snapshot)` reads no store, calls no
runner and writes nothing; it returns a `Plan` the scheduler applies in one transaction and then
hands the launches to the runner.

Rules: queues by priority (ref §11.1); in a queue FIFO or fair share (ref §11.3, §11.4), compute
environments in order, capacity (vCPU, memory, GPUs; ref §11.2) and consumable resources (ref
§13.1) permitting, a fair-share computeReservation kept free (ref §11.4); the head of a queue
waits for capacity and holds the rest back; a head that can never start is blocked with a
reason, and a jobStateTimeLimitAction may cancel it (ref §11.5), making the next job the head.
A multi-node parallel job is placed as one gang (ref §12): its `_need` is all its nodes' together,
so every node fits one compute environment at once or the job waits; only CEs that can run
multi-node jobs count (engine.multinode.eligible), and a queue with none blocks it. Its nodes
are never placed: they start with their job (engine.multinode).
"""

from __future__ import annotations

import dataclasses

from batchemu.engine import capacity, multinode, ordering, states, time_limits

PRE_START = (states.SUBMITTED, states.PENDING, states.RUNNABLE)


@dataclasses.dataclass
class Snapshot:
    """Everything one placement decision reads."""
    world: object                # engine.world.World: queues, compute environments, policies
    active: list                 # active jobs but PENDING ones (RUNNABLE ones are the candidates)
    ledger: object               # engine.consumables.ConsumableStock: consumable resources' totals and use
    host_gpus: int
    pending_shares: dict         # queue ARN -> shareIdentifiers of its PENDING jobs (fair share)
    now: int
    time_scale: float = 1.0      # --time-scale: divides jobStateTimeLimitActions' maxTimeSeconds
    room: object = None          # runners.base.Room: what the runner's nodes hold (None: no bound)


@dataclasses.dataclass
class Plan:
    """What to do, in order: ("block", job, reason) records why a head job waits; ("cancel",
    job, reason) ends it by a time limit; ("start", job, ce) starts it on a compute environment."""
    steps: list = dataclasses.field(default_factory=list)
    deadlines: list = dataclasses.field(default_factory=list)   # when a time limit falls due


def apply(store, jobs, plan: Plan, now: int, end, begin) -> tuple:
    """Apply a plan of either kind in one transaction: note blocked heads, end those a time limit
    ended (`end(job, action reason)`), begin starts (`begin(job, where)`: the new document, or
    None when the job changed since the snapshot). Returns (anything changed, the begun jobs to
    hand to the runner after the commit)."""
    changed, begun = False, []
    with store.transaction():
        for step, job, what in plan.steps:
            if step == "block":
                time_limits.note(jobs, job, what, now)
            elif step == "start":
                new = begin(job, what)
                if new is not None:
                    begun.append(new)
            else:  # "cancel" (container jobs) or "terminate" (service jobs)
                changed |= bool(end(job, what))
    return changed or bool(begun), begun


def decide(snap: Snapshot) -> Plan:
    plan = Plan()
    # Nodes of multi-node jobs hold nothing of their own (their job holds the gang's capacity)
    # and are never placed: they are not jobs of the queue for this decision.
    snap = dataclasses.replace(snap, active=[j for j in snap.active if not multinode.is_node(j)])
    usage = capacity.Usage(j for j in snap.active if j["status"] in (states.STARTING, states.RUNNING))
    runnable = {}
    for job in snap.active:
        if job["status"] == states.RUNNABLE:
            runnable.setdefault(job["jobQueue"], []).append(job)
    started = set()
    for queue in snap.world.queues_by_priority():
        waiting = runnable.get(queue["jobQueueArn"])
        if not waiting or queue.get("state") != "ENABLED":
            continue  # a DISABLED queue holds its jobs RUNNABLE
        ces = snap.world.compute_environments_of(queue)
        fairshare = snap.world.fairshare_policy(queue)
        order = ordering.dispatch_order(waiting, snap.active, queue, fairshare,
                                        placed=lambda j: j["jobId"] in started)
        for job in order:
            outcome = _fit(snap, job, ces, usage, queue, fairshare)
            if isinstance(outcome, dict):
                plan.steps.append(("start", job, outcome))
                started.add(job["jobId"])
                usage.add(outcome["computeEnvironmentArn"], job["_need"])
                snap.ledger.take(job)
                continue
            if outcome is None:
                break  # head of line waits for capacity (ref §11.1, §11.3)
            plan.steps.append(("block", job, outcome))
            ended, deadlines = time_limits.verdict(job, outcome, queue, snap.now, snap.time_scale)
            plan.deadlines.extend(deadlines)
            if ended:
                plan.steps.append(("cancel", job, ended))
                continue  # cancelled by a time limit: the next job is the head now
            break
    return plan


def _fit(snap: Snapshot, job: dict, ces: list, usage, queue: dict, fairshare):
    """A CE to start on, None to wait for capacity, or a blocked-reason string."""
    need = job["_need"]
    if multinode.is_multinode(job):  # ref §11.2, §12: the gang, on CEs that run multi-node jobs
        unsupported = multinode.unsupported_reason(ces)
        if unsupported:
            return unsupported
        ces = [ce for ce in ces if multinode.eligible(ce)]
    # A multi-node job's need is its gang's: each node is a pod of its own, checked by the cluster.
    one_pod = None if multinode.is_multinode(job) else snap.room
    reason = capacity.never_fits_reason(ces, need, snap.host_gpus, one_pod) or snap.ledger.never_reason(job)
    if reason:
        return reason
    if not snap.ledger.free_for(job):
        return None  # waits at the head for its consumable resources (ref §13.1)
    for ce in ces:
        if capacity.usable(ce) and usage.fits_now(ce, need, snap.host_gpus, snap.room):
            if fairshare is not None and not _within_reservation(snap, ce, need, usage, fairshare, queue):
                return None
            return ce
    return None


def needs_pending_shares(policy: dict | None) -> bool:
    """Whether a queue's decision reads the shares of its PENDING jobs (Snapshot.pending_shares)."""
    return bool(policy and policy.get("computeReservation"))


def _within_reservation(snap: Snapshot, ce: dict, need: dict, usage, policy: dict, queue: dict) -> bool:
    """computeReservation keeps (reservation/100)^active-shares of the CE for shares that are
    not active yet (ref §11.4)."""
    reservation = policy.get("computeReservation") or 0
    if not reservation:
        return True
    shares = {j.get("shareIdentifier") for j in snap.active
              if j["jobQueue"] == queue["jobQueueArn"] and j["status"] in PRE_START + (
                  states.STARTING, states.RUNNING)}
    shares |= snap.pending_shares.get(queue["jobQueueArn"], set())
    reserved = capacity.vcpu_capacity(ce) * (reservation / 100.0) ** max(len(shares), 1)
    in_use = usage.vcpus.get(ce["computeEnvironmentArn"], 0.0)
    return in_use + need["vcpus"] <= capacity.vcpu_capacity(ce) - reserved + 1e-9
