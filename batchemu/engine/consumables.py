"""Consumable resources in scheduling (ref §13.1): whether a RUNNABLE job's resources are free,
can never be, or must be waited for; and the durable consumption of NON_REPLENISHABLE ones.

What is in use is never stored: it is the sum of the quantities (`_consumables`, {arn: n}) of
STARTING/RUNNING jobs, read from the jobs table, so a crash can't make it drift; a job that ends
or goes back to RUNNABLE releases what it held by that fact alone. A NON_REPLENISHABLE quantity
is subtracted from the resource's total in the transaction that moves the job to STARTING.
"""

from __future__ import annotations

import json

from batchemu.vocabulary import arns

REPLENISHABLE, NON_REPLENISHABLE = "REPLENISHABLE", "NON_REPLENISHABLE"
# AWS documents no blocked reason for consumable resources (ref §11.5, §13.1); these follow the
# documented MISCONFIGURATION:<CAUSE> - <sentence> form so jobStateTimeLimitActions can match them.
NOT_ENOUGH = ("MISCONFIGURATION:CONSUMABLE_RESOURCE_MAX_QUANTITY - The job requires more of consumable "
              "resource(s) {} than their total quantity.")
MISSING = ("MISCONFIGURATION:CONSUMABLE_RESOURCE_NOT_FOUND - Consumable resource(s) {} required by the "
           "job don't exist.")

_HELD = ("SELECT e.key AS arn, SUM(e.value) AS quantity FROM jobs, json_each(jobs.doc, '$._consumables') AS e "
         "WHERE jobs.status IN ('STARTING','RUNNING') AND e.key IS NOT NULL{} GROUP BY e.key")


def held(store, account: str | None = None, region: str | None = None) -> dict:
    """arn -> quantity held by STARTING/RUNNING jobs (of one account and region, or of all)."""
    if account is None:
        rows = store.query(_HELD.format(""))
    else:
        rows = store.query(_HELD.format(" AND jobs.account=? AND jobs.region=?"), (account, region))
    return {r["arn"]: int(r["quantity"]) for r in rows}


def jobs_requiring(store, arn: str) -> list:
    """Every job (any status) that requires the resource with this ARN."""
    parsed = arns.parse(arn)
    rows = store.query("SELECT jobs.doc FROM jobs, json_each(jobs.doc, '$._consumables') AS e "
                       "WHERE jobs.account=? AND jobs.region=? AND e.key=?", (parsed[2], parsed[1], arn))
    return [json.loads(r["doc"]) for r in rows]


class ConsumableStock:
    """The consumable resources as one placement pass sees them: each resource's total and what
    STARTING/RUNNING jobs hold; `take` records a job the pass has just started, so the next job
    in the same pass sees it. Read once per pass, never written back."""

    def __init__(self, store):
        rows = store.query("SELECT arn, doc FROM resources WHERE kind=?", (arns.CONSUMABLE_RESOURCE,))
        self.resources = {r["arn"]: json.loads(r["doc"]) for r in rows}
        self.held = held(store) if self.resources else {}  # no resource, nothing to sum (a cheap tick)

    @classmethod
    def of(cls, resources: dict, held_now: dict) -> "ConsumableStock":
        """A stock of given resources {arn: doc} and holdings {arn: quantity}, no store (tests)."""
        ledger = cls.__new__(cls)
        ledger.resources, ledger.held = resources, dict(held_now)
        return ledger

    def available(self, arn: str) -> int:
        doc = self.resources[arn]
        if doc["resourceType"] == NON_REPLENISHABLE:
            return doc["totalQuantity"]  # already net of what started jobs consumed
        return doc["totalQuantity"] - self.held.get(arn, 0)

    def never_reason(self, job: dict) -> str | None:
        """The blocked reason when the job's resources can't ever suffice as things stand (a
        resource is gone, or the job needs more than its total), else None."""
        need = job.get("_consumables") or {}
        missing = [a for a in need if a not in self.resources]
        if missing:
            return MISSING.format(", ".join(_name(a) for a in missing))
        short = [a for a, n in need.items() if n > self.resources[a]["totalQuantity"]]
        if short:
            return NOT_ENOUGH.format(", ".join(_name(a) for a in short))
        return None

    def free_for(self, job: dict) -> bool:
        """All of the job's resources are available now (ref §13.1: all or nothing)."""
        return all(n <= self.available(a) for a, n in (job.get("_consumables") or {}).items())

    def take(self, job: dict) -> None:
        for arn, n in (job.get("_consumables") or {}).items():
            self.held[arn] = self.held.get(arn, 0) + n
            if self.resources[arn]["resourceType"] == NON_REPLENISHABLE:
                self.resources[arn]["totalQuantity"] -= n


def consume(store, job: dict) -> None:
    """Subtract the job's NON_REPLENISHABLE quantities from their totals, for good (ref §13.1).
    Call inside the transaction that moves the job to STARTING, so both happen or neither."""
    for arn, n in (job.get("_consumables") or {}).items():
        rows = store.query("SELECT account, region, kind, key, doc FROM resources WHERE arn=? AND kind=?",
                           (arn, arns.CONSUMABLE_RESOURCE))
        if not rows:
            continue  # deleted in between; nothing left to consume
        doc = json.loads(rows[0]["doc"])
        if doc["resourceType"] != NON_REPLENISHABLE:
            continue
        doc["totalQuantity"] = max(doc["totalQuantity"] - n, 0)
        r = rows[0]
        store.put(r["account"], r["region"], r["kind"], r["key"], arn, doc)


def _name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]
