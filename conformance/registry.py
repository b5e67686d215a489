"""Which operations each conformance test claims to exercise, and through which client.

`@covers("boto3", "CreateJobQueue", ...)` records the claim at import time (coverage.py reads
it to build the table) and marks the test; conftest.py then fails a passing test that never
actually sent one of the operations it claims.

A claimed operation this client's model does not have skips the test: an older boto3 in the
client matrix lacks the newest operations, and the rest of the suite must still run with it.
Such claims are kept in UNKNOWN, and test_coverage_table fails on any with the model the
README table is built from, so a typo still fails.
"""

from __future__ import annotations

import botocore
import pytest

from conformance.harness import OPERATIONS

SUITES = ("boto3", "cli", "js", "sweep")
# The client whose recorded calls prove a claim (the sweep's valid requests go through boto3;
# its invalid ones are raw HTTP).
CHANNELS = {"boto3": "boto3", "cli": "cli", "js": "js", "sweep": "boto3"}

REGISTRY: dict[str, set[str]] = {suite: set() for suite in SUITES}
UNKNOWN: set[str] = set()  # claimed operations this botocore's batch model lacks


def covers(suite: str, *operations: str, channel: str | None = None):
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; one of {SUITES}")
    if not operations:
        raise ValueError("@covers needs at least one operation")
    unknown = [op for op in operations if op not in OPERATIONS]
    mark = pytest.mark.covers(*operations, suite=suite, channel=channel or CHANNELS[suite])
    if unknown:
        UNKNOWN.update(unknown)
        skip = pytest.mark.skip(reason=f"botocore {botocore.__version__}'s batch model has no {', '.join(unknown)}")
        return lambda test: skip(mark(test))
    REGISTRY[suite].update(operations)
    return mark
