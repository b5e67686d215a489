"""Quota shares in service-job placement (ref §13.4): each share of a quota-management queue is a
virtual queue with its own capacity per instance type. A job fits within its share's capacity;
beyond it, a LEND_AND_BORROW share may borrow (up to borrowLimit % of its own capacity, -1:
no limit) from the idle capacity of LEND / LEND_AND_BORROW shares and from environment capacity
no share claims. RESERVE shares never lend. Idle capacity goes to borrowers FIFO (the only
idleResourceAssignmentStrategy). Preemption is not modelled: lent capacity comes back when the
borrowing jobs end. Decides fit and order only; no store writes.
"""

from __future__ import annotations

import collections

LENDERS = ("LEND", "LEND_AND_BORROW")
BORROWER = "LEND_AND_BORROW"
# ref §11.5 names the reason for service-job queues; the sentence is batchemu's.
LIMIT_EXCEEDED = ("MISCONFIGURATION:QUOTA_MANAGEMENT_LIMIT_EXCEEDED - The job requires more capacity than its "
                  "quota share can ever provide.")
SHARE_GONE = "QuotaShare deleted"


def share_order(waiting: list) -> list:
    """Dispatch order of a quota-management queue: each share is a queue of its own (higher
    schedulingPriority first, then oldest), and the shares' heads are served oldest first."""
    shares = collections.defaultdict(list)
    for job in waiting:
        shares[job.get("quotaShareName")].append(job)
    for jobs in shares.values():
        jobs.sort(key=lambda j: (-(j.get("schedulingPriority") or 0), j["createdAt"]))
    out = []
    while shares:
        name = min(shares, key=lambda s: shares[s][0]["createdAt"])
        out.append(shares[name].pop(0))
        if not shares[name]:
            del shares[name]
    return out


class QuotaShareCapacity:
    """Capacity per (quota share, instance type) of one quota-management queue during one
    placement pass: each share's own, what is in use, what may be borrowed; `take` records a
    job the pass has just placed."""

    def __init__(self, environment: dict, shares: dict, busy: list, cost):
        self.limit = {c["capacityUnit"]: c.get("maxCapacity") or 0 for c in environment.get("capacityLimits") or []}
        self.shares = shares                              # name -> quota share document
        self.own = {name: {c["capacityUnit"]: c["maxCapacity"] for c in doc.get("capacityLimits") or []}
                    for name, doc in shares.items()}
        self.used = collections.defaultdict(float)        # (share, unit) -> instances in use
        for job in busy:
            self.used[(job.get("quotaShareName"), job["_unit"])] += cost(job)

    def _strategy(self, share: str) -> str:
        return (self.shares[share].get("resourceSharingConfiguration") or {}).get("strategy") or "RESERVE"

    def _borrow_cap(self, share: str, unit: str) -> float:
        if self._strategy(share) != BORROWER:
            return 0.0
        percent = self.shares[share]["resourceSharingConfiguration"].get("borrowLimit", -1)
        if percent is None or percent < 0:
            return float("inf")
        return self.own[share].get(unit, 0) * percent / 100.0

    def never_reason(self, share: str, unit: str, need: float) -> str | None:
        """The job can never run in this share as configured (its own capacity plus what it
        may borrow is less than it needs), else None."""
        if share not in self.shares:
            return None  # the share is gone: the engine ends the job
        own = self.own[share].get(unit, 0)
        most = min(own + self._borrow_cap(share, unit), self.limit.get(unit, 0))
        return LIMIT_EXCEEDED if need > most else None

    def fits(self, share: str, unit: str, need: float) -> bool:
        used = self.used[(share, unit)]
        own = self.own[share].get(unit, 0)
        in_use = sum(q for (s, u), q in self.used.items() if u == unit)
        if in_use + need > self.limit.get(unit, 0):
            return False  # the environment is full (lenders' capacity may be out on loan)
        if used + need <= own:
            return True
        extra = used + need - own
        if extra > self._borrow_cap(share, unit):
            return False
        # What this share would borrow must be idle: lenders' unused quota, plus capacity no
        # share claims, less what other borrowers already hold beyond their own quota.
        idle = sum(max(0.0, self.own[s].get(unit, 0) - self.used[(s, unit)])
                   for s in self.shares if s != share and self._strategy(s) in LENDERS)
        unclaimed = max(0.0, self.limit.get(unit, 0) - sum(o.get(unit, 0) for o in self.own.values()))
        lent = sum(max(0.0, self.used[(s, unit)] - self.own[s].get(unit, 0)) for s in self.shares if s != share)
        return extra <= idle + unclaimed - lent

    def take(self, share: str, unit: str, need: float) -> None:
        self.used[(share, unit)] += need

    def usage(self) -> dict:
        """share -> {unit: instances in use}."""
        out = collections.defaultdict(dict)
        for (share, unit), q in self.used.items():
            if q:
                out[share][unit] = q
        return dict(out)
