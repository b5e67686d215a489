"""S3 -> EventBridge: a bucket whose notification configuration has EventBridgeConfiguration puts
"Object Created" / "Object Deleted" (and moto's other detail types) events of AWS's shape on
its region's default event bus (S3 User Guide, "EventBridge message structure").

moto 5.2 sends such events (moto.s3.notifications._send_event_bridge_message) but not as AWS
does: `reason` is "Put" rather than "PutObject", `eTag` is misspelt, deletions carry no
`deletion-type`, the object's size is sent for deletions, `time` and `ingestion-time` are
wrong or missing (so every InputTransformer failed, silently), every bus gets the event rather
than the default one, the requester and sequencer are constants, and every PutObject, copy and
multipart upload also sends "Object Tags Added" (moto tags new objects internally); in a
versioned bucket a delete marker sends nothing and deleting a version sends an event only when
it was the last one. `install()` replaces that function at runtime (no fork) and wraps
DeleteObject for versioned buckets; S3's SQS/SNS/Lambda notifications stay moto's (a delete
marker still sends them nothing: moto's message builder cannot describe one).
Knows no HTTP of its own (reads the caller's address from moto's request when there is one)
and no Batch.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid

log = logging.getLogger("batchemu.pipelines")

# AWS's `reason` per S3 notification event name (S3 User Guide, EventBridge event detail).
REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "POST Object",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
    "s3:ObjectRemoved:Delete": "DeleteObject",
    "s3:ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
    "s3:LifecycleExpiration:Delete": "Lifecycle Expiration",
    "s3:LifecycleExpiration:DeleteMarkerCreated": "Lifecycle Expiration",
}
_sequence = itertools.count(int(time.time() * 1000) << 20)  # grows per event, as S3's sequencers do

_original = {}


_quiet = threading.local()  # moto's own event for a versioned delete is being replaced


def install() -> None:
    """Put batchemu's S3 -> EventBridge event in place of moto's, and the versioned deletes'
    events moto gets wrong (moto must be loaded)."""
    # lazy for start-up time (called once moto is loaded)
    from moto.s3 import notifications
    from moto.s3.models import S3Backend

    if "send" not in _original:
        _original["send"] = notifications._send_event_bridge_message
        notifications._send_event_bridge_message = send_event_bridge_message
        _original["send_event"] = notifications.send_event
        notifications.send_event = _send_event
        _original["delete_object"] = S3Backend.delete_object
        S3Backend.delete_object = _delete_object


def _send_event(*args, **kwargs):
    if not getattr(_quiet, "on", False):
        _original["send_event"](*args, **kwargs)


def _delete_object(backend, bucket_name, key_name, version_id=None, bypass=False):
    """moto's DeleteObject; in a versioned bucket, the events S3 sends: "Delete Marker Created"
    for a delete without a version id (moto sends none), and a permanent delete of the version
    named (moto sends one only when the last version goes, about the latest one)."""
    # lazy for start-up time (moto is loaded)
    from moto.s3 import notifications
    from moto.s3.models import FakeKey

    bucket = backend.get_bucket(bucket_name)
    if not bucket.is_versioned:
        return _original["delete_object"](backend, bucket_name, key_name, version_id, bypass)
    target = None
    if version_id is not None:
        target = next((k for k in bucket.keys.getlist(key_name, []) if str(k.version_id) == str(version_id)), None)
    _quiet.on = True
    try:
        deleted, meta = _original["delete_object"](backend, bucket_name, key_name, version_id, bypass)
    finally:
        _quiet.on = False
    if deleted and version_id is None and meta.get("delete-marker") == "true":
        config = bucket.notification_configuration
        if config is not None and config.event_bridge is not None:
            # Only EventBridge: moto's SQS/SNS message builder cannot describe a marker.
            send_event_bridge_message(backend.account_id, bucket, "s3:ObjectRemoved:DeleteMarkerCreated",
                                      bucket.keys.get(key_name))
    elif deleted and isinstance(target, FakeKey):
        notifications.send_event(backend.account_id, notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_EVENT,
                                 bucket, target)
    return deleted, meta


def s3_event(account: str, bucket, event_name: str, key, now: float, caller: tuple[str, str] = ("", "")) -> dict:
    """The EventBridge event for `event_name` on `key` (moto objects), `time` in epoch seconds
    as moto's rules expect it."""
    # lazy for start-up time (moto is loaded)
    from moto.s3.notifications import _detail_type

    deleted = "ObjectRemoved" in event_name or "LifecycleExpiration" in event_name
    marker = type(key).__name__ == "FakeDeleteMarker"
    obj = {"key": key.name}
    if not deleted:
        obj["size"] = key.size
    etag = getattr(key, "etag", None)
    if etag and not marker:
        obj["etag"] = etag.replace('"', "")
    version = getattr(key, "version_id", None)
    if version and version != "null":
        obj["version-id"] = version
    obj["sequencer"] = f"{next(_sequence):018X}"
    ip, request_id = caller
    detail = {
        "version": "0",
        "bucket": {"name": bucket.name},
        "object": obj,
        "request-id": request_id or uuid.uuid4().hex[:16].upper(),
        "requester": account,
        "source-ip-address": ip or "127.0.0.1",
        "reason": REASONS.get(event_name, event_name.split(":")[1]),
    }
    if deleted:
        detail["deletion-type"] = "Delete Marker Created" if marker else "Permanently Deleted"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": _detail_type(event_name),
        "source": "aws.s3",
        "account": account,
        "time": int(now),
        "region": bucket.region_name,
        "resources": [f"arn:aws:s3:::{bucket.name}"],
        "detail": detail,
        "ingestion-time": now,
    }


def send_event_bridge_message(account_id: str, bucket, event_name: str, key) -> None:
    """What S3 does for a bucket with EventBridge enabled: the event on the default bus of the
    bucket's region, to every rule there (each rule decides whether it matches)."""
    if "ObjectTagging" in event_name and _request_query() is not None and "tagging" not in _request_query():
        return  # moto tags every new object internally; S3 sends "Object Tags Added" only for ?tagging
    try:
        # lazy for start-up time (moto is loaded)
        from moto.events.models import events_backends

        event = s3_event(account_id, bucket, event_name, key, time.time(), _caller())
        bus = events_backends[account_id][bucket.region_name].describe_event_bus("default")
        for rule in list(bus.rules.values()):
            rule.send_to_targets(dict(event))
    except Exception:  # asynchronous in AWS: never fails the S3 request
        log.warning("could not put the S3 event %s for s3://%s/%s on EventBridge", event_name,
                    getattr(bucket, "name", "?"), getattr(key, "name", "?"), exc_info=True)


def _request_query():
    """The query parameters of the S3 request moto is answering, or None outside one."""
    try:
        # lazy for start-up time: Flask is moto's, present whenever moto serves a request
        from flask import has_request_context, request
    except ImportError:
        return None
    return request.args if has_request_context() else None


def _caller() -> tuple[str, str]:
    """(source IP, request id) of the S3 request being answered, when moto answers one."""
    try:
        # lazy for start-up time: Flask is moto's, present whenever moto serves a request
        from flask import has_request_context, request
    except ImportError:
        return "", ""
    if not has_request_context():
        return "", ""
    return request.remote_addr or "", request.headers.get("x-amz-request-id", "")
