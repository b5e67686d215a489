"""EventBridge rule targets, completed around moto: a rule whose target is a Batch job queue
submits a job through batchemu's own SubmitJob (validated like an API call, in the rule's
account and region), `Input`/`InputPath`/`InputTransformer` shape what every target receives,
and a failed delivery is retried by the target's RetryPolicy, then written to its
DeadLetterConfig queue with EventBridge's message attributes.

moto 5.2 delivers in `Rule.send_to_targets`, which knows no Batch target (NotImplementedError),
ignores Input/InputPath and DISABLED rules, and lets a scheduled rule catch every event;
`install()` replaces that method at runtime with `_send_to_targets` (no fork of moto). SQS
targets are sent here (the body is the target input, MessageGroupId kept), log-group targets
into batchemu's own CloudWatch Logs; event-bus, archive and API destination targets still go
through moto's own code, one target at a time.

A delivery is tried at once in the caller's thread (a PutEvents request, the state-change
event worker, the schedule thread): SubmitJob only writes the store and wakes the engine.
Retries wait in one thread of their own (`Deliveries`), their back-off divided by
--time-scale. Knows no HTTP and no Batch rule: the SubmitJob operation owns every rule.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from batchemu import lambdas
from batchemu.pipelines import inputs
from batchemu.wire import members
from batchemu.wire.errors import ApiError

log = logging.getLogger("batchemu.pipelines")

# EventBridge's defaults for a target's RetryPolicy (API reference, RetryPolicy).
DEFAULT_RETRY_ATTEMPTS = 185
DEFAULT_EVENT_AGE_SECONDS = 86_400
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0
UNIVERSAL_SUBMIT_JOB = "arn:aws:scheduler:::aws-sdk:batch:submitjob"

# Rule targets of other services a part of batchemu delivers itself: ARN service name ->
# `deliver(account, region, target_arn, input_text)`, raising DeliveryFailed when the target
# refuses. Called in the thread that produced the event (a request thread, too), so a target
# that does slow work (a Lambda run in Docker) must only queue it, as AWS invokes asynchronously.
EXTRA_TARGETS: dict = {"lambda": lambdas.invoke_async}  # a rule -> Lambda target (seeds' S3 -> Lambda)


class DeliveryFailed(Exception):
    """A target could not take the event: `code` is one of EventBridge's DLQ ERROR_CODEs;
    `retriable` says whether EventBridge would try again (a missing resource or a refused
    request is not retried: it goes to the dead-letter queue at once).

    The EventBridge User Guide ("Using dead-letter queues to process undelivered events",
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html) lists these as
    examples of ERROR_CODE: CONNECTION_FAILURE, CROSS_ACCOUNT_INGESTION_FAILED,
    CROSS_REGION_INGESTION_FAILED, ERROR_FROM_TARGET, EVENTS_IN_BATCH_REQUEST_REJECTED,
    FAILED_TO_ASSUME_ROLE, INTERNAL_ERROR, INVALID_JSON, INVALID_PARAMETER, NO_PERMISSIONS,
    NO_RESOURCE, RESOURCE_ALREADY_EXISTS, RESOURCE_LIMIT_EXCEEDED,
    RESOURCE_MODIFICATION_COLLISION, SDK_CLIENT_ERROR, THIRD_ACCOUNT_HOP_DETECTED,
    THIRD_REGION_HOP_DETECTED, THROTTLING, TIMEOUT, TRANSIENT_ASSUME_ROLE, UNKNOWN. It does not
    say which one a given target error becomes, so the mapping is batchemu's choice among
    them: NO_RESOURCE (something named does not exist), SDK_CLIENT_ERROR (any other refusal),
    THROTTLING (429, retried), INTERNAL_ERROR (a server error or a bug, retried), INVALID_JSON
    (a Scheduler Input that is not a JSON object). It says a missing permission or a resource
    that no longer exists goes to the DLQ without retries; a throttled or server-side failure
    is retried by the RetryPolicy."""

    def __init__(self, code: str, message: str, retriable: bool):
        super().__init__(message)
        self.code, self.message, self.retriable = code, message, retriable


@dataclass(order=True)
class _Retry:
    due: float
    seq: int
    delivery: "Delivery" = field(compare=False)


@dataclass
class Delivery:
    """One event on its way to one target of one rule."""

    account: str
    region: str
    rule_arn: str
    rule_name: str
    target: dict
    event: dict  # moto's shape: `time` in epoch seconds
    first_at: float
    retries: int = 0
    kind: str = "rule"  # or "schedule": an EventBridge Scheduler schedule (rule_arn is its ARN)


class Deliveries:
    """Sends events to targets, keeps the retries, owns the retry thread. `ops` is
    cloudformation.BatchOperations (the same validation + BatchProvider as an HTTP request)."""

    def __init__(self, ops, time_scale: float = 1.0, clock=time.time, logs_ops=None):
        self.ops = ops
        self.logs_ops = logs_ops  # `ops` over this server's CloudWatch Logs (log-group targets)
        self.time_scale = time_scale
        self.clock = clock
        self._retries: list[_Retry] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the retry thread (until then a failed delivery's retries wait)."""
        self._thread = threading.Thread(target=self._run, name="batchemu-event-retries", daemon=True)
        self._thread.start()

    # -- entry points ------------------------------------------------------------------------

    def send(self, rule, event: dict) -> None:
        """Every target of `rule` gets `event` (the rule has matched, or its schedule is due)."""
        for target in list(rule.targets):
            self.attempt(Delivery(rule.account_id, rule.region_name, rule.arn, rule.name, dict(target),
                                  event, self.clock()))

    def attempt(self, delivery: Delivery) -> None:
        try:
            self._deliver(delivery)
        except DeliveryFailed as failed:
            self._failed(delivery, failed)
        except Exception as exc:  # a bug or moto's: retried like an internal error
            log.warning("event delivery to %s failed", delivery.target.get("Arn"), exc_info=True)
            self._failed(delivery, DeliveryFailed("INTERNAL_ERROR", str(exc) or type(exc).__name__, True))

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5)

    # -- one try ---------------------------------------------------------------------------

    def _deliver(self, d: Delivery) -> None:
        arn = d.target.get("Arn", "")
        parts = arn.split(":", 5)
        service = parts[2] if len(parts) > 2 else ""
        if d.kind == "schedule":
            return self._schedule_target(d, arn, service, parts)
        text = inputs.target_input(d.target, d.event, d.rule_arn, d.rule_name)
        if service == "batch" and len(parts) == 6 and parts[5].startswith("job-queue/"):
            self._submit(d, arn, text)
        elif service == "sqs" and len(parts) == 6:
            group = (d.target.get("SqsParameters") or {}).get("MessageGroupId")
            send_sqs(parts[3], parts[4], parts[5], text, group_id=group)
        elif service in EXTRA_TARGETS:
            EXTRA_TARGETS[service](d.account, d.region, arn, text)
        elif service == "logs" and len(parts) == 6 and parts[5].startswith("log-group:") and self.logs_ops:
            self._log(d, parts[5][len("log-group:"):].split(":")[0], text)
        else:
            _moto_target(d)

    def _log(self, d: Delivery, group: str, text: str) -> None:
        """A CloudWatch Logs target: the input as one log event in a new stream named by the
        event id, in batchemu's own Logs (moto's would be unreadable here: this endpoint's
        Logs are batchemu's). The group must exist, as in AWS."""
        stream = str(d.event.get("id") or uuid.uuid4())
        at_ms = int(float(d.event.get("time") or self.clock()) * 1000)
        try:
            try:
                self.logs_ops(d.account, d.region, "CreateLogStream", {"logGroupName": group, "logStreamName": stream})
            except ApiError as err:
                if err.code != "ResourceAlreadyExistsException":
                    raise
            self.logs_ops(d.account, d.region, "PutLogEvents", {
                "logGroupName": group, "logStreamName": stream,
                "logEvents": [{"timestamp": at_ms, "message": text}]})
        except ApiError as err:
            missing = err.code == "ResourceNotFoundException"
            raise DeliveryFailed("NO_RESOURCE" if missing else "SDK_CLIENT_ERROR", f"{err.code}: {err.message}",
                                 retriable=not missing and err.status >= 500) from None

    def _schedule_target(self, d: Delivery, arn: str, service: str, parts: list) -> None:
        """EventBridge Scheduler's targets: the universal target
        `arn:aws:scheduler:::aws-sdk:batch:submitJob` (Input: SubmitJob's parameters, any
        casing) and the templated SQS target (Input as the message body)."""
        text = _schedule_input(d)
        if arn.lower() == UNIVERSAL_SUBMIT_JOB:
            given = inputs.as_json(text)
            if not isinstance(given, dict):
                raise DeliveryFailed("INVALID_JSON", "the target's Input is not a JSON object", retriable=False)
            self.submit_job(d.account, d.region, members.to_members(given, self.ops.shape("SubmitJob")))
        elif service == "sqs" and len(parts) == 6:
            group = (d.target.get("SqsParameters") or {}).get("MessageGroupId")
            send_sqs(parts[3], parts[4], parts[5], text, group_id=group)
        else:
            raise DeliveryFailed("NO_RESOURCE", f"batchemu's Scheduler does not deliver to {arn}", retriable=False)

    def _submit(self, d: Delivery, queue_arn: str, text: str) -> None:
        """SubmitJob as EventBridge's Batch target makes it (Batch User Guide, "AWS Batch jobs
        as EventBridge targets"): BatchParameters name the job; a JSON input's `Parameters` and
        `ContainerOverrides` become the job's."""
        batch = d.target.get("BatchParameters") or {}
        params = {"jobName": batch.get("JobName"), "jobQueue": queue_arn,
                  "jobDefinition": batch.get("JobDefinition")}
        size = (batch.get("ArrayProperties") or {}).get("Size")
        if size:
            params["arrayProperties"] = {"size": int(size)}
        attempts = (batch.get("RetryStrategy") or {}).get("Attempts")
        if attempts:
            params["retryStrategy"] = {"attempts": int(attempts)}
        given = inputs.as_json(text)
        if isinstance(given, dict):
            for key, value in given.items():
                member = {"parameters": "parameters", "containeroverrides": "containerOverrides"}.get(key.lower())
                if member:
                    params[member] = members.to_members(value, self.ops.shape("SubmitJob", member))
        self.submit_job(d.account, d.region, params)

    def submit_job(self, account: str, region: str, params: dict) -> dict:
        """batchemu's SubmitJob; a refusal becomes a DeliveryFailed that is not retried."""
        try:
            return self.ops(account, region, "SubmitJob", params)
        except ApiError as err:
            if err.status == 429:  # Batch's TooManyRequestsException: EventBridge retries it
                raise DeliveryFailed("THROTTLING", f"{err.code}: {err.message}", retriable=True) from None
            if err.status < 500:
                code = "NO_RESOURCE" if "does not exist" in err.message or "not found" in err.message.lower() \
                    else "SDK_CLIENT_ERROR"
                raise DeliveryFailed(code, f"{err.code}: {err.message}", retriable=False) from None
            raise DeliveryFailed("INTERNAL_ERROR", f"{err.code}: {err.message}", retriable=True) from None

    # -- failures ------------------------------------------------------------------------------

    def _failed(self, d: Delivery, failed: DeliveryFailed) -> None:
        policy = d.target.get("RetryPolicy") or {}
        max_retries = int(policy.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS))
        max_age = float(policy.get("MaximumEventAgeInSeconds", DEFAULT_EVENT_AGE_SECONDS))
        backoff = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** d.retries) / self.time_scale
        age_after = (self.clock() + backoff - d.first_at) * self.time_scale
        exhausted = None
        if failed.retriable:
            if d.retries >= max_retries:
                exhausted = "MaximumRetryAttempts"
            elif age_after > max_age:
                exhausted = "MaximumEventAgeInSeconds"
            else:
                with self._cond:
                    d.retries += 1
                    heapq.heappush(self._retries, _Retry(self.clock() + backoff, next(self._seq), d))
                    self._cond.notify()
                return
        self._dead_letter(d, failed, exhausted)

    def _dead_letter(self, d: Delivery, failed: DeliveryFailed, exhausted: str | None) -> None:
        """EventBridge's DLQ message: the event as its body, and the custom attributes RULE_ARN,
        TARGET_ARN, ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION (only when retries ran
        out) and RETRY_ATTEMPTS. Checked against the EventBridge User Guide, "Using dead-letter
        queues to process undelivered events"
        (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html; the older
        text is awsdocs/amazon-eventbridge-user-guide doc_source/eb-rule-dlq.md)."""
        dlq = (d.target.get("DeadLetterConfig") or {}).get("Arn")
        if d.kind == "schedule":
            return self._schedule_dead_letter(d, failed, dlq, exhausted)
        log.warning("EventBridge rule %s: target %s failed (%s: %s)%s", d.rule_arn, d.target.get("Arn"),
                    failed.code, failed.message, "" if dlq else "; no dead-letter queue, event dropped")
        if not dlq:
            return
        attributes = {"RULE_ARN": d.rule_arn, "TARGET_ARN": d.target.get("Arn", ""),
                      "ERROR_CODE": failed.code, "ERROR_MESSAGE": failed.message[:256],
                      "RETRY_ATTEMPTS": str(d.retries)}
        if exhausted:
            attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
        parts = dlq.split(":", 5)
        try:
            send_sqs(parts[3], parts[4], parts[5], json.dumps(inputs.event_json(d.event)), attributes)
        except Exception:
            log.warning("could not write to the dead-letter queue %s", dlq, exc_info=True)

    def _schedule_dead_letter(self, d: Delivery, failed: DeliveryFailed, dlq: str | None,
                              exhausted: str | None) -> None:
        """EventBridge Scheduler's DLQ message (Scheduler User Guide, "Configuring a dead-letter
        queue", section "Retrieve the dead-letter event":
        https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html):
        the target's input as the body, and upper-case attributes like EventBridge's, with the
        schedule in place of the rule: SCHEDULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE,
        EXECUTION_ID (the <aws.scheduler.execution-id> of this invocation), SCHEDULED_TIME,
        RETRY_ATTEMPTS, IS_PAYLOAD_TRUNCATED, and EXHAUSTED_RETRY_CONDITION when retries ran
        out. That section's example message could not be read in the stored copy of the page
        searched for this (it showed the page's beginning only); these names are the ones two
        independent Scheduler emulators in public code send. The body and the ERROR_CODE
        values (EventBridge's) are batchemu's reading: the guide's list of codes is not known."""
        log.warning("schedule %s: target %s failed (%s: %s)", d.rule_arn, d.target.get("Arn"),
                    failed.code, failed.message)
        if not dlq:
            return
        attributes = {"SCHEDULE_ARN": d.rule_arn, "TARGET_ARN": d.target.get("Arn", ""),
                      "ERROR_CODE": failed.code, "ERROR_MESSAGE": failed.message[:256],
                      "EXECUTION_ID": str(d.event.get("id", "")),
                      "SCHEDULED_TIME": _scheduled_time(d),
                      "RETRY_ATTEMPTS": str(d.retries),
                      "IS_PAYLOAD_TRUNCATED": "false"}  # batchemu never cuts the input
        if exhausted:
            attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
        parts = dlq.split(":", 5)
        try:
            send_sqs(parts[3], parts[4], parts[5], _schedule_input(d), attributes)
        except Exception:
            log.warning("could not write to the dead-letter queue %s", dlq, exc_info=True)

    # -- the retry thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._retries or self._retries[0].due > self.clock()):
                    wait = self._retries[0].due - self.clock() if self._retries else None
                    self._cond.wait(wait)
                if self._closed:
                    return
                due = heapq.heappop(self._retries).delivery
            self.attempt(due)


def _scheduled_time(d: Delivery) -> str:
    """When the schedule fired, ISO-8601 UTC (<aws.scheduler.scheduled-time>)."""
    return inputs.event_json({"time": d.event.get("time", d.first_at)})["time"]


def _schedule_input(d: Delivery) -> str:
    """A schedule target's Input with Scheduler's context attributes replaced, as Scheduler does."""
    text = d.target.get("Input") or "{}"
    for name, value in (("schedule-arn", d.rule_arn), ("execution-id", str(d.event.get("id", ""))),
                        ("attempt-number", str(d.retries + 1)), ("scheduled-time", _scheduled_time(d))):
        text = text.replace(f"<aws.scheduler.{name}>", value)
    return text


def send_sqs(region: str, account: str, queue: str, body: str, attributes: dict | None = None,
             group_id: str | None = None) -> None:
    """A message into moto's SQS queue `queue`; a missing queue is a DeliveryFailed."""
    # lazy for start-up time: moto is loaded (a rule exists only after an EventBridge request)
    from moto.sqs import sqs_backends

    message_attributes = {k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()}
    try:
        sqs_backends[account][region].send_message(queue, body, message_attributes=message_attributes or None,
                                                   group_id=group_id)
    except Exception as exc:
        code = "NO_RESOURCE" if "NonExistentQueue" in type(exc).__name__ or "does not exist" in str(exc) \
            else "SDK_CLIENT_ERROR"
        raise DeliveryFailed(code, f"{type(exc).__name__}: {exc}", retriable=code != "NO_RESOURCE") from None


def _moto_target(d: Delivery) -> None:
    """Targets moto knows (logs, event buses, archives, API destinations): moto's own code,
    for this one target. NotImplementedError (a target nobody emulates) is not retried."""
    # lazy for start-up time: moto is loaded (see send_sqs)
    from moto.events.models import Rule

    shim = Rule.__new__(Rule)
    shim.__dict__.update(_original_owner(d))
    shim.targets = [d.target]
    try:
        _original_send(shim, dict(d.event))
    except NotImplementedError:
        raise DeliveryFailed("NO_RESOURCE", f"batchemu does not deliver to {d.target.get('Arn')}",
                             retriable=False) from None
    except Exception as exc:  # moto's error for the target (a missing log group, bus, ...)
        kind = getattr(exc, "error_type", "") or type(exc).__name__
        missing = "NotFound" in kind or "NonExistent" in kind
        raise DeliveryFailed("NO_RESOURCE" if missing else "SDK_CLIENT_ERROR", f"{kind}: {exc}",
                             retriable=not missing) from None


def _original_owner(d: Delivery) -> dict:
    """The attributes moto's send_to_targets reads from its rule, for a one-target copy."""
    # lazy for start-up time: moto is loaded (see send_sqs)
    from moto.events.models import EventPattern

    return {"account_id": d.account, "region_name": d.region, "name": d.rule_name,
            "event_pattern": EventPattern.load(None), "state": "ENABLED",
            "event_bus_name": "default", "scheduled_expression": None}


# -- moto's Rule.send_to_targets, replaced ---------------------------------------------------------

_installed: list[Deliveries] = []  # the newest server's deliveries serve moto's rules
_original = {}


def _original_send(rule, event):
    return _original["send_to_targets"](rule, event)


def install(deliveries: Deliveries) -> None:
    """Deliver moto's rule matches through `deliveries` (moto must be loaded)."""
    # lazy for start-up time (called once moto is loaded)
    from moto.events.models import Rule

    uninstall(deliveries)
    _installed.append(deliveries)
    if "send_to_targets" not in _original:
        _original["send_to_targets"] = Rule.send_to_targets
        Rule.send_to_targets = _send_to_targets


def uninstall(deliveries: Deliveries) -> None:
    if deliveries in _installed:
        _installed.remove(deliveries)


def current() -> Deliveries | None:
    return _installed[-1] if _installed else None


def _send_to_targets(rule, event, transform_input: bool = True) -> None:
    """moto calls this for every rule of a bus an event reaches. As EventBridge: a DISABLED rule
    and a rule with no event pattern (a scheduled rule) take no events; a match goes to every
    target (scheduled firings come through Deliveries.send directly)."""
    deliveries = current()
    if deliveries is None:
        return _original_send(rule, event)
    if rule.state != "ENABLED" or not rule.event_pattern._pattern:
        return None
    if not rule.event_pattern.matches_event(event):
        return None
    event = dict(event)
    event.setdefault("ingestion-time", time.time())
    deliveries.send(rule, event)
    return None
