"""'Batch Job State Change' events (EventBridge shape, ref §14.1) for every committed job status
change, and 'Batch Job Queue Blocked' events (ref §14.2) when a job at the head of its queue is
blocked with a new reason (store.blocked_observers); service jobs' 'Batch Service Job State
Change' and 'Batch Service Job Queue Blocked' likewise (ref §14.2): delivered to the rules of the account's default event bus in moto's EventBridge, and
streamed as Server-Sent Events on GET /batchemu/events for local tools, scoped to the caller's
account (every account only with the operator's option).

One worker thread per server does the work, in commit order, so a slow moto never delays the
scheduler (the observer only enqueues). Must not change jobs or decide anything about them.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
import weakref

from flask import Response

from batchemu import services
from batchemu.batch.job_views import detail as job_detail
from batchemu.store.jobs import Jobs
from batchemu.store.service_jobs import ServiceJobs
from batchemu.vocabulary.job_states import CONTAINER as JOB_KIND
from batchemu.wire import render
from batchemu.wire import spec as wire_spec
from batchemu.wire.auth import identify
from batchemu.wire.guard import ACCESS_DENIED, refusal

log = logging.getLogger("batchemu.events")

STATE_CHANGE = "Batch Job State Change"
QUEUE_BLOCKED = "Batch Job Queue Blocked"
SERVICE_STATE_CHANGE = "Batch Service Job State Change"
SERVICE_QUEUE_BLOCKED = "Batch Service Job Queue Blocked"
SERVICE_EVENTS = (SERVICE_STATE_CHANGE, SERVICE_QUEUE_BLOCKED)
# ref §14.2: a service job's detail is DescribeServiceJob's answer without these.
SERVICE_DETAIL_LEFT_OUT = ("tags", "serviceRequestPayload")
SOURCE = "aws.batch"
SSE_PATH = "/batchemu/events"
KEEPALIVE_SECONDS = 15.0
# Events a slow SSE client may fall behind by before it is disconnected (it can reconnect).
SUBSCRIBER_BACKLOG = 10_000

_hubs: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # store -> Hub


def iso_seconds(epoch_s: float) -> str:
    """EventBridge's `time`: ISO-8601 UTC to the second, `YYYY-MM-DDTHH:MM:SSZ` (ref §14.1)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def state_change_event(jobs: Jobs, doc: dict, at_s: float, detail_type: str = STATE_CHANGE) -> dict:
    """The EventBridge envelope for `doc`'s new status (ref §14.1), or for its being blocked at
    the head of its queue (QUEUE_BLOCKED, ref §14.2: the queue's ARN is a resource too, the
    detail's statusReason says why): `detail` is the job as DescribeJobs shows it, reduced to
    the model's JobDetail shape. A service job's (SERVICE_EVENTS, ref §14.2): its ARN alone, the
    detail as DescribeServiceJob shows it without SERVICE_DETAIL_LEFT_OUT."""
    model = wire_spec.load("batch").model
    if detail_type in SERVICE_EVENTS:
        shape = model.operation_model("DescribeServiceJob").output_shape
        detail = render.to_shape({k: v for k, v in doc.items() if k not in SERVICE_DETAIL_LEFT_OUT}, shape)
        resources = [doc["jobArn"]]
    else:
        detail = render.to_shape(job_detail(jobs, doc), model.shape_for("JobDetail"))
        resources = [doc["jobArn"]] + ([doc["jobQueue"]] if detail_type == QUEUE_BLOCKED else [])
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": SOURCE,
        "account": doc["_account"],
        "time": iso_seconds(at_s),
        "region": doc["_region"],
        "resources": resources,
        "detail": detail,
    }


def deliver_to_eventbridge(event: dict, at_s: float) -> None:
    """Match `event` against the rules of its account/region's default bus in moto and send it
    to their targets. Rules are walked here rather than through moto's put_events so the
    event keeps its id (the SSE copy has the same one) and DISABLED rules stay silent."""
    if not services.moto_loaded():
        return  # no request ever reached moto, so no rule can exist (its state is in memory)
    from moto.events.models import events_backends  # lazy for start-up time (services.moto_dispatcher)

    try:
        backend = events_backends[event["account"]][event["region"]]
    except KeyError:
        return  # a region moto does not know: nobody can have made rules there either
    bus = backend.describe_event_bus("default")
    # moto wants `time` as epoch seconds and formats it per target; ingestion-time is what
    # its input transformers may reference.
    message = dict(event, time=int(at_s), **{"ingestion-time": time.time()})
    for rule in list(bus.rules.values()):
        if rule.state != "ENABLED":
            continue
        try:
            rule.send_to_targets(dict(message))
        except Exception:  # a broken target (deleted queue, ...) loses this delivery only, as in AWS
            log.warning("EventBridge rule %s could not deliver a %s event", rule.name, event["detail-type"],
                        exc_info=True)


class _Subscriber:
    def __init__(self, account: str | None, region: str | None):
        self.account = account
        self.region = region
        self.queue: queue.Queue = queue.Queue(SUBSCRIBER_BACKLOG)

    def end(self) -> None:
        """Make the stream finish at its next read, dropping whatever it had not sent."""
        self.queue = queue.Queue()
        self.queue.put(None)

    def wants(self, event: dict) -> bool:
        return (self.account in (None, event["account"])) and (self.region in (None, event["region"]))


class Hub:
    """The observer, the worker thread and the SSE subscribers of one store."""

    def __init__(self, store):
        self.jobs = Jobs(store)
        self.service_jobs = ServiceJobs(store)
        self._queue: queue.Queue = queue.Queue()
        self._subscribers: set = set()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="batchemu-events", daemon=True)
        self._thread.start()

    # -- producer side (scheduler and request threads) ----------------------------------------

    def observe(self, doc: dict, old_status: str) -> None:
        """Called after each status write: only enqueue, the scheduler must not wait on us.
        Nothing is built while nobody can receive it (no SSE subscriber, and no EventBridge
        rule can exist before a request reached moto): every job makes several of these."""
        self._changed(doc, old_status, STATE_CHANGE)

    def observe_service(self, doc: dict, old_status: str) -> None:
        """store.service_job_observers entry: the same for a service job."""
        self._changed(doc, old_status, SERVICE_STATE_CHANGE)

    def _changed(self, doc: dict, old_status: str, detail_type: str) -> None:
        if doc["status"] != old_status and (self._subscribers or services.moto_loaded()):
            # The change's own time (the one startedAt/stoppedAt got), not when we queued it.
            self._queue.put((doc, doc.get("_changedAt", time.time() * 1000) / 1000, detail_type))

    def observe_blocked(self, doc: dict, kind: str) -> None:
        """store.blocked_observers entry: a job (or service job) blocked at its queue's head."""
        if self._subscribers or services.moto_loaded():
            detail_type = QUEUE_BLOCKED if kind == JOB_KIND else SERVICE_QUEUE_BLOCKED
            self._queue.put((dict(doc), doc["_blocked"]["since"] / 1000, detail_type))

    # -- worker ----------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            doc, at_s, detail_type = item
            if doc is None:  # drain()'s marker: everything before it is published
                at_s.set()
                continue
            try:
                self._publish(doc, at_s, detail_type)
            except Exception:
                log.exception("could not publish the state change of job %s", doc.get("jobId"))

    def _publish(self, doc: dict, at_s: float, detail_type: str) -> None:
        # The observer may run inside a transaction that later rolls back; reading the job
        # takes the store lock, so this happens after that transaction ended either way.
        current = (self.service_jobs if detail_type in SERVICE_EVENTS else self.jobs).get(doc["jobId"])
        if current is None or current.get("_v", 0) < doc.get("_v", 0):
            return
        event = state_change_event(self.jobs, doc, at_s, detail_type)
        try:
            deliver_to_eventbridge(event, at_s)
        except Exception:
            log.exception("EventBridge delivery failed for job %s", doc["jobId"])
        self._broadcast(event)

    def _broadcast(self, event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            if event is None or sub.wants(event):
                try:
                    sub.queue.put_nowait(event)
                except queue.Full:  # too slow: drop it rather than hold every other client
                    self.unsubscribe(sub)
                    sub.end()

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until every event enqueued so far is published (tests, shutdown)."""
        done = threading.Event()
        self._queue.put((None, done, None))
        done.wait(timeout)

    # -- SSE subscribers ---------------------------------------------------------------------------

    def subscribe(self, account: str | None, region: str | None) -> _Subscriber | None:
        sub = _Subscriber(account, region)
        with self._lock:
            if self._closed:
                return None
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: _Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    @property
    def subscribers(self) -> frozenset:
        with self._lock:
            return frozenset(self._subscribers)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def stream(self, account: str | None, region: str | None):
        """The text/event-stream body: one `data:` line per event, a comment every
        KEEPALIVE_SECONDS; a client that went away is noticed at the next write."""
        sub = self.subscribe(account, region)
        if sub is None:
            return
        try:
            yield ": connected\n\n"  # the subscription is live from here on
            while True:
                try:
                    event = sub.queue.get(timeout=KEEPALIVE_SECONDS)
                except queue.Empty:
                    yield ": keep-alive\n\n"
                    continue
                if event is None:
                    return
                yield f"data: {json.dumps(event, separators=(',', ':'))}\n\n"
        finally:
            self.unsubscribe(sub)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._queue.put(None)
        self._thread.join(5)
        self._broadcast(None)  # ends every open stream


def install(store, config):
    """Register the observer that publishes state-change events; returns a shutdown callable."""
    hub = Hub(store)
    _hubs[store] = hub
    store.job_observers.append(hub.observe)
    store.service_job_observers.append(hub.observe_service)
    store.blocked_observers.append(hub.observe_blocked)

    def shutdown():
        if hub.observe in store.job_observers:
            store.job_observers.remove(hub.observe)
        if hub.observe_service in store.service_job_observers:
            store.service_job_observers.remove(hub.observe_service)
        if hub.observe_blocked in store.blocked_observers:
            store.blocked_observers.remove(hub.observe_blocked)
        hub.close()

    return shutdown


def stream_account(req, config) -> tuple[str | None, str | None]:
    """(account to stream, refusal message): the stream is scoped like the API, to the signer's
    account (or the default account for an unsigned caller), or to an explicit ?account=, which
    a signed caller may only name as its own. Every account (None) only with the operator's
    --events-all-accounts and no ?account=."""
    caller = identify(req.headers, req.args, config.default_account, config.default_region)
    asked = req.args.get("account") or None
    if asked is not None and caller.access_key is not None and asked != caller.account \
            and not config.events_all_accounts:
        return None, (f"Refused: the request is signed for account {caller.account} but asks for the "
                      f"events of account {asked}. Sign with that account's key, or start batchemu "
                      "with --events-all-accounts (BATCHEMU_EVENTS_ALL_ACCOUNTS).")
    if asked is not None:
        return asked, None
    if config.events_all_accounts:
        return None, None
    return caller.account, None


def make_frontend(store, config):
    """The frontend for GET /batchemu/events[?account=...&region=...] (text/event-stream)."""

    def frontend(req):
        if req.path.rstrip("/") != SSE_PATH:
            return None
        hub = _hubs.get(store)
        if hub is None:
            return None
        if req.method != "GET":
            body = json.dumps({"__type": "ClientException",
                               "message": f"{req.method} is not allowed on {SSE_PATH}; use GET"})
            return Response(body, status=405, mimetype="application/json", headers={"Allow": "GET"})
        account, refused = stream_account(req, config)
        if refused:
            return refusal(ACCESS_DENIED, refused)
        body = hub.stream(account, req.args.get("region") or None)
        return Response(body, mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return frontend
