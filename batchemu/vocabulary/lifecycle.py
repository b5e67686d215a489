"""Asynchronous resource status (ref §1.7, §3.3, §4.3): CREATING/UPDATING -> VALID and
DELETING -> DELETED -> gone, each after `settle_seconds`.

Documents carry the pending change as `_settle = {"status", "at"}`; the current status is
derived on read (no timer thread). `_goneAt` marks when a deleted resource disappears.
Underscore keys never reach the wire (the output shape filter drops them).
"""

from __future__ import annotations

HEALTHY_REASON = {"compute-environment": "ComputeEnvironment Healthy", "job-queue": "JobQueue Healthy"}


def begin(doc: dict, transitional: str, final: str, now_ms: int, settle_ms: int, reason=None) -> dict:
    doc["status"] = transitional
    doc["statusReason"] = None
    doc["_settle"] = {"status": final, "at": now_ms + settle_ms, "reason": reason}
    if final == "DELETED":
        doc["_goneAt"] = now_ms + 2 * settle_ms
    return settle(doc, now_ms)


def settle(doc: dict, now_ms: int) -> dict:
    pending = doc.get("_settle")
    if pending and pending["at"] <= now_ms:
        doc["status"] = pending["status"]
        doc["statusReason"] = pending.get("reason")
        doc.pop("_settle")
    return doc


def is_gone(doc: dict, now_ms: int) -> bool:
    gone_at = doc.get("_goneAt")
    return gone_at is not None and gone_at <= now_ms


def is_settling(doc: dict) -> bool:
    return "_settle" in doc
