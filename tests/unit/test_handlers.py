"""The one handler lookup (wire.handlers): operation -> the function named after it; a name
defined in two modules is refused when the provider is built, not settled by module order."""

from __future__ import annotations

import types

import pytest

from batchemu.batch.provider import MODULES, BatchProvider
from batchemu.logs import LogsProvider
from batchemu.wire import spec as wire_spec
from batchemu.wire.errors import NotImplementedOperation
from batchemu.wire.handlers import DuplicateHandler, find_handlers

SPEC = wire_spec.load("batch")


def test_every_batch_operation_has_exactly_one_handler():
    assert sorted(find_handlers(SPEC, MODULES)) == sorted(SPEC.operation_names)


def test_a_name_defined_twice_is_refused_at_start_up():
    def describe_jobs(backend, ctx, params):
        return {"jobs": []}

    shadow = types.ModuleType("batchemu.batch.shadow")
    shadow.describe_jobs = describe_jobs
    with pytest.raises(DuplicateHandler) as caught:
        BatchProvider(None, SPEC, modules=MODULES + [shadow])
    assert "DescribeJobs" in str(caught.value)
    assert "batchemu.batch.jobs.describe_jobs" in str(caught.value)
    assert "batchemu.batch.shadow.describe_jobs" in str(caught.value)


def test_one_function_reachable_from_two_modules_is_one_handler():
    again = types.ModuleType("again")
    again.describe_jobs = find_handlers(SPEC, MODULES)["DescribeJobs"]  # re-exported, same function
    assert find_handlers(SPEC, MODULES + [again])["DescribeJobs"] is again.describe_jobs


def test_an_operation_without_a_function_is_501_in_each_service():
    with pytest.raises(NotImplementedOperation, match="does not implement DescribeJobs yet"):
        BatchProvider(None, SPEC, modules=[])(None, "DescribeJobs", {})
    logs = LogsProvider(None, wire_spec.load("logs"))
    with pytest.raises(NotImplementedOperation, match="does not implement CloudWatch Logs DescribeDestinations"):
        logs(None, "DescribeDestinations", {})
