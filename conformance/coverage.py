"""The coverage table: for every operation of botocore's batch model, whether batchemu
implements it (the provider has a handler) and which conformance suites test it (the
`@covers` claims of the test modules, see registry.py).

    python3 -m conformance.coverage            # print the table
    python3 -m conformance.coverage --write    # rewrite it in README.md, between the markers
    python3 -m conformance.coverage --check    # exit 1 when README.md's table is stale

NOT_IMPLEMENTED is the one list of operations that answer 501 today; the model sweep marks
their checks xfail(strict=True) from it, so it has to be updated when an operation lands.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from conformance.harness import OPERATIONS
from conformance.registry import REGISTRY, SUITES

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- coverage:start -->", "<!-- coverage:end -->"

# Operations that answer HTTP 501 today (none: all 45 have landed). Add one while it is being
# built, and remove it when it lands: its strict-xfail sweep checks fail as XPASS until you do.
NOT_IMPLEMENTED: frozenset[str] = frozenset()

SUITE_TITLES = {"boto3": "boto3", "cli": "aws CLI", "js": "JS SDK v3", "sweep": "model sweep"}


def implemented() -> set[str]:
    """Operations batchemu's Batch provider has a handler for (the rest answer 501)."""
    from batchemu.batch.provider import BatchProvider
    from batchemu.wire import spec
    return set(BatchProvider(None, spec.load("batch")).implemented)


def tested() -> dict[str, set[str]]:
    """{suite: operations its tests claim}, from importing every conformance test module."""
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        importlib.import_module(f"conformance.{path.stem}")
    return {suite: set(REGISTRY[suite]) for suite in SUITES}


def table() -> str:
    done, claims = implemented(), tested()
    lines = ["| Operation | Implemented | " + " | ".join(SUITE_TITLES[s] for s in SUITES) + " |",
             "|---|---|" + "---|" * len(SUITES)]
    for op in sorted(OPERATIONS):
        cells = ["yes" if op in done else "no (501)"]
        cells += ["✓" if op in claims[s] else "–" for s in SUITES]
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    total = len(OPERATIONS)
    counts = ", ".join(f"{SUITE_TITLES[s]} {len(claims[s] & set(OPERATIONS))}" for s in SUITES)
    missing = total - len(done & set(OPERATIONS))
    pending = (f", {missing} not implemented yet (they answer 501 and their checks are xfail)"
               if missing else "")
    lines.append("")
    lines.append(f"{total} operations: {len(done & set(OPERATIONS))} implemented{pending}; tested by {counts}.")
    return "\n".join(lines)


def list_is_stale() -> set[str]:
    """Operations on which NOT_IMPLEMENTED and the provider disagree."""
    return NOT_IMPLEMENTED ^ (set(OPERATIONS) - implemented())


def render(text: str, generated: str) -> str:
    """`text` with everything between the markers replaced by `generated`."""
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"{README} has no {START} ... {END} markers")
    return f"{head}{START}\n{generated}\n{END}{tail}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m conformance.coverage", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite the table in README.md")
    group.add_argument("--check", action="store_true", help="exit 1 if README.md's table is stale")
    args = parser.parse_args(argv)
    generated = table()
    if not (args.write or args.check):
        print(generated)
        return 0
    text = README.read_text()
    wanted = render(text, generated)
    if args.check:
        if wanted != text:
            print("README.md's coverage table is stale: run python3 -m conformance.coverage --write",
                  file=sys.stderr)
            return 1
        return 0
    if wanted != text:
        README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
