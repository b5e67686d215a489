"""Which operations each conformance test claims to exercise, and through which client.

`@covers("boto3", "CreateJobQueue", ...)` records the claim at import time (coverage.py reads
it to build the table) and marks the test; conftest.py then fails a passing test that never
actually sent one of the operations it claims. A typo in an operation name fails at import.
"""

from __future__ import annotations

import pytest

from conformance.harness import OPERATIONS

SUITES = ("boto3", "cli", "js", "sweep")
# The client whose recorded calls prove a claim (the sweep's valid requests go through boto3;
# its invalid ones are raw HTTP).
CHANNELS = {"boto3": "boto3", "cli": "cli", "js": "js", "sweep": "boto3"}

REGISTRY: dict[str, set[str]] = {suite: set() for suite in SUITES}


def covers(suite: str, *operations: str, channel: str | None = None):
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; one of {SUITES}")
    unknown = [op for op in operations if op not in OPERATIONS]
    if unknown or not operations:
        raise ValueError(f"not operations of botocore's batch model: {unknown or 'none given'}")
    REGISTRY[suite].update(operations)
    return pytest.mark.covers(*operations, suite=suite, channel=channel or CHANNELS[suite])
