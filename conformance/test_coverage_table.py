"""The coverage table in README.md is what conformance/coverage.py generates now, and the
NOT_IMPLEMENTED list agrees with the provider, so neither can go stale unnoticed.
"""

from __future__ import annotations

from conformance import coverage
from conformance.harness import OPERATIONS
from conformance.registry import UNKNOWN


def test_readme_table_is_current():
    text = coverage.README.read_text()
    assert coverage.START in text and coverage.END in text, "README.md lost its coverage markers"
    current = text.split(coverage.START, 1)[1].split(coverage.END, 1)[0].strip()
    assert current == coverage.table(), ("README.md's coverage table is stale: run "
                                         "`python3 -m conformance.coverage --write`")


def test_not_implemented_list_matches_the_provider():
    assert coverage.list_is_stale() == set(), (
        "conformance/coverage.py's NOT_IMPLEMENTED disagrees with the provider on these operations; "
        "remove the ones that landed")


def test_every_operation_is_in_the_sweep_and_the_table():
    claims = coverage.tested()
    assert claims["sweep"] == set(OPERATIONS)
    rows = [line for line in coverage.table().splitlines() if line.startswith("| ") and "Operation" not in line]
    assert [row.split(" | ")[0][2:] for row in rows] == sorted(OPERATIONS)


def test_every_claimed_operation_is_in_the_model():
    coverage.tested()
    assert UNKNOWN == set(), f"@covers claims operations this model lacks (a typo?): {sorted(UNKNOWN)}"
