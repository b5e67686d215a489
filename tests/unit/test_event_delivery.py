"""EventBridge target inputs (pipelines/inputs.py) and RetryPolicy/DeadLetterConfig handling
(pipelines/targets.py) with a SubmitJob that fails as told and the DLQ captured."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import pytest

from batchemu.pipelines import inputs, targets
from batchemu.wire.errors import ApiError
from tests.helpers import wait_until

EVENT = {"version": "0", "id": "e1", "detail-type": "File Ready", "source": "my.app", "account": "111122223333",
         "time": 1767225600, "region": "us-east-1", "resources": [],
         "detail": {"name": 'a "quoted" name', "size": 5, "tags": ["x", "y"], "meta": {"k": "v"}}}


def transformed(template, paths):
    return inputs.target_input({"InputTransformer": {"InputPathsMap": paths, "InputTemplate": template}},
                               EVENT, "arn:aws:events:us-east-1:111122223333:rule/r", "r")


def test_a_json_template_quotes_strings_outside_quotes_and_escapes_them_inside():
    out = transformed('{"name": <n>, "size": <s>, "tags": <t>, "meta": <m>, "text": "file <n> of <s>", '
                      '"missing": <nope>}',
                      {"n": "$.detail.name", "s": "$.detail.size", "t": "$.detail.tags", "m": "$.detail.meta",
                       "nope": "$.detail.absent"})
    assert json.loads(out) == {"name": 'a "quoted" name', "size": 5, "tags": ["x", "y"], "meta": {"k": "v"},
                               "text": 'file a "quoted" name of 5', "missing": None}


def test_a_plain_text_template_and_the_predefined_variables():
    assert transformed('"<aws.events.rule-name> saw <s> bytes"', {"s": "$.detail.size"}) == '"r saw 5 bytes"'
    assert transformed("<aws.events.event.ingestion-time>", {}) == '"2026-01-01T00:00:00Z"'
    with_ingestion = {"InputTransformer": {"InputTemplate": "<aws.events.event.ingestion-time>"}}
    assert inputs.target_input(with_ingestion, dict(EVENT, **{"ingestion-time": 1767225605.5}), "", "") \
        == '"2026-01-01T00:00:05Z"'
    whole = json.loads(transformed("<aws.events.event.json>", {}))
    assert whole["time"] == "2026-01-01T00:00:00Z" and "ingestion-time" not in whole


def test_input_and_input_path():
    assert inputs.target_input({"Input": '{"a": 1}'}, EVENT, "", "") == '{"a": 1}'
    assert json.loads(inputs.target_input({"InputPath": "$.detail.meta"}, EVENT, "", "")) == {"k": "v"}
    assert json.loads(inputs.target_input({}, EVENT, "", ""))["time"] == "2026-01-01T00:00:00Z"


class FailingOps:
    """SubmitJob that raises `error` every time; counts the calls."""

    def __init__(self, error):
        self.error, self.calls = error, 0

    def __call__(self, account, region, operation, params):
        self.calls += 1
        raise self.error

    def shape(self, operation):
        raise AssertionError("no input shape needed")


@pytest.fixture
def dead_letters(monkeypatch):
    sent = []
    lock = threading.Lock()

    def capture(region, account, queue, body, attributes=None, group_id=None):
        with lock:
            sent.append((queue, json.loads(body), attributes))
    monkeypatch.setattr(targets, "send_sqs", capture)
    return sent


def rule(**target_extra):
    target = {"Id": "t", "Arn": "arn:aws:batch:us-east-1:111122223333:job-queue/q",
              "BatchParameters": {"JobName": "j", "JobDefinition": "d"},
              "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:111122223333:dlq"}, **target_extra}
    return SimpleNamespace(account_id="111122223333", region_name="us-east-1", name="r",
                           arn="arn:aws:events:us-east-1:111122223333:rule/r", targets=[target])


def test_a_server_error_is_retried_until_maximum_retry_attempts(dead_letters):
    ops = FailingOps(ApiError("boom"))
    deliveries = targets.Deliveries(ops, time_scale=1000)
    deliveries.start()
    try:
        deliveries.send(rule(RetryPolicy={"MaximumRetryAttempts": 2}), dict(EVENT))
        wait_until(lambda: dead_letters, timeout=5)
    finally:
        deliveries.close()
    [(queue, body, attributes)] = dead_letters
    assert ops.calls == 3  # the first try and two retries
    assert queue == "dlq" and body["id"] == "e1"
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attributes["RETRY_ATTEMPTS"] == "2" and attributes["ERROR_CODE"] == "INTERNAL_ERROR"


def test_a_refused_submission_is_not_retried(dead_letters):
    ops = FailingOps(ApiError("JobQueue q not found", code="ClientException", status=400))
    deliveries = targets.Deliveries(ops, time_scale=1000)
    try:
        deliveries.send(rule(), dict(EVENT))
    finally:
        deliveries.close()
    [(_, _, attributes)] = dead_letters
    assert ops.calls == 1 and attributes["RETRY_ATTEMPTS"] == "0"
    assert attributes["ERROR_CODE"] == "NO_RESOURCE" and "EXHAUSTED_RETRY_CONDITION" not in attributes
    assert attributes["ERROR_MESSAGE"] == "ClientException: JobQueue q not found"


def test_an_event_too_old_to_retry_is_dead_lettered(dead_letters):
    ops = FailingOps(ApiError("boom"))
    times = iter([1000.0] + [1000.0 + 120] * 10)
    deliveries = targets.Deliveries(ops, clock=lambda: next(times))
    try:
        deliveries.send(rule(RetryPolicy={"MaximumEventAgeInSeconds": 60}), dict(EVENT))
    finally:
        deliveries.close()
    [(_, _, attributes)] = dead_letters
    assert ops.calls == 1 and attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"


def test_without_a_dead_letter_queue_the_event_is_dropped(dead_letters):
    ops = FailingOps(ApiError("nope", code="ClientException", status=400))
    deliveries = targets.Deliveries(ops)
    try:
        r = rule()
        del r.targets[0]["DeadLetterConfig"]
        deliveries.send(r, dict(EVENT))
    finally:
        deliveries.close()
    assert ops.calls == 1 and dead_letters == []


def test_another_part_can_deliver_a_targets_service(monkeypatch, dead_letters):
    """EXTRA_TARGETS: e.g. Lambda, delivered by the part that runs functions."""
    got = []
    monkeypatch.setitem(targets.EXTRA_TARGETS, "lambda", lambda *args: got.append(args))
    r = rule()
    r.targets[0].update(Arn="arn:aws:lambda:us-east-1:111122223333:function:f", Input='{"a": 1}')
    deliveries = targets.Deliveries(FailingOps(ApiError("unused")))
    deliveries.send(r, dict(EVENT))
    assert got == [("111122223333", "us-east-1", "arn:aws:lambda:us-east-1:111122223333:function:f", '{"a": 1}')]
    assert dead_letters == []


def test_a_throttled_submission_is_retried_then_dead_lettered_as_throttling(dead_letters):
    """THROTTLING is one of the ERROR_CODEs the EventBridge User Guide lists (eb-rule-dlq);
    throttling is retried by the RetryPolicy, unlike a refused request."""
    ops = FailingOps(ApiError("Too many requests", code="TooManyRequestsException", status=429))
    deliveries = targets.Deliveries(ops, time_scale=1000)
    deliveries.start()
    try:
        deliveries.send(rule(RetryPolicy={"MaximumRetryAttempts": 1}), dict(EVENT))
        wait_until(lambda: dead_letters, timeout=5)
    finally:
        deliveries.close()
    [(_, _, attributes)] = dead_letters
    assert ops.calls == 2 and attributes["ERROR_CODE"] == "THROTTLING"
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts" and attributes["RETRY_ATTEMPTS"] == "1"


class ShapedFailingOps(FailingOps):
    """FailingOps with Batch's real SubmitJob input shape (the Scheduler target maps its Input)."""

    def shape(self, operation, *path):
        import botocore.session
        shape = botocore.session.get_session().get_service_model("batch").operation_model(operation).input_shape
        for name in path:
            shape = shape.members[name]
        return shape


def test_a_schedule_that_runs_out_of_retries_dead_letters_with_schedulers_attributes(dead_letters):
    """Scheduler User Guide, "Configuring a dead-letter queue": the target input as the body, the
    dead-letter attributes upper case, the schedule's ARN in SCHEDULE_ARN (not RULE_ARN)."""
    ops = ShapedFailingOps(ApiError("boom"))
    deliveries = targets.Deliveries(ops, time_scale=1000)
    deliveries.start()
    schedule_arn = "arn:aws:scheduler:us-east-1:111122223333:schedule/default/nightly"
    target = {"Arn": "arn:aws:scheduler:::aws-sdk:batch:submitJob", "RoleArn": "arn:aws:iam::111122223333:role/r",
              "Input": '{"JobName": "n", "JobQueue": "q", "JobDefinition": "d", '
                       '"Parameters": {"at": "<aws.scheduler.scheduled-time>"}}',
              "RetryPolicy": {"MaximumRetryAttempts": 2},
              "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:111122223333:dlq"}}
    try:
        deliveries.attempt(targets.Delivery("111122223333", "us-east-1", schedule_arn, "nightly", target,
                                            {"id": "exec-1", "time": 1767225600}, time.time(), kind="schedule"))
        wait_until(lambda: dead_letters, timeout=5)
    finally:
        deliveries.close()
    [(queue, body, attributes)] = dead_letters
    assert ops.calls == 3 and queue == "dlq"
    assert body == {"JobName": "n", "JobQueue": "q", "JobDefinition": "d", "Parameters": {"at": "2026-01-01T00:00:00Z"}}
    assert attributes == {"SCHEDULE_ARN": schedule_arn, "TARGET_ARN": "arn:aws:scheduler:::aws-sdk:batch:submitJob",
                          "ERROR_CODE": "INTERNAL_ERROR", "ERROR_MESSAGE": "ServerException: boom",
                          "EXECUTION_ID": "exec-1", "SCHEDULED_TIME": "2026-01-01T00:00:00Z",
                          "RETRY_ATTEMPTS": "2", "IS_PAYLOAD_TRUNCATED": "false",
                          "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts"}
