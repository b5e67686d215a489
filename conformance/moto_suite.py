"""Runs moto 5.2.1's own Batch test suite (tests/test_batch and tests/test_batch_simple, 95
tests) in moto's server mode against batchemu, and compares the outcome with the checked-in
list of tests expected to fail (conformance/moto_expected.py, each with the AWS fact its
assertion contradicts).

    python -m conformance.moto_suite                  # both modes, batchemu started in-process
    python -m conformance.moto_suite --mode no-reset  # moto's reset calls switched off
    python -m conformance.moto_suite --endpoint http://127.0.0.1:8000 --mode reset

moto's tests honour TEST_SERVER_MODE=true and TEST_SERVER_MODE_ENDPOINT: every boto3 client
they make goes to that endpoint, and `mock_aws` calls `POST /moto-api/reset` before and after
each test unless MOTO_CALL_RESET_API=false. Mode `reset` lets it call; mode `no-reset` turns
the calls off (tests then share one account and region, as a user's suite run against a
long-lived server would).

The tests come from moto's sdist (`pip download moto==5.2.1 --no-binary :all: --no-deps`),
cached under ~/.cache/batchemu/moto; they run with the moto library installed beside batchemu
(their helpers import it). Jobs run on the process runner: the suite's jobs are shell commands
(`echo`, `sleep`, `exit 1`) in images no registry here can serve.

Exit status: 1 if a test not on the expected list fails (or an expected one is missing from the
run); tests on the list that pass are reported ("unexpected passes": the list can shrink) but
do not fail the run. This module only drives pytest and reads its JUnit XML; it knows nothing
of Batch.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET

from conformance import moto_expected

VERSION = "5.2.1"
CACHE = pathlib.Path(os.environ.get("BATCHEMU_CACHE", pathlib.Path.home() / ".cache" / "batchemu")) / "moto"
SUITES = ("tests/test_batch", "tests/test_batch_simple")
# Only what the suites import is extracted from the sdist (its tests/ folder is large).
EXTRACT = ("tests/__init__.py", "tests/conftest.py", "tests/markers.py", "pyproject.toml") + SUITES


def sdist() -> pathlib.Path:
    archive = CACHE / f"moto-{VERSION}.tar.gz"
    if not archive.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", f"moto=={VERSION}", "--no-binary", ":all:",
                        "--no-deps", "--quiet", "-d", str(CACHE)], check=True)
    return archive


def tests_dir() -> pathlib.Path:
    """The extracted sdist folder holding tests/ (extracted once, from the cached archive)."""
    root = CACHE / f"moto-{VERSION}"
    marker = root / ".extracted"
    if marker.exists():
        return root
    prefix = f"moto-{VERSION}/"
    with tarfile.open(sdist()) as tar:
        members = [m for m in tar.getmembers()
                   if m.isfile() and ".." not in m.name.split("/")
                   and any(m.name == prefix + p or m.name.startswith(prefix + p + "/") for p in EXTRACT)]
        try:
            tar.extractall(CACHE, members=members, filter="data")
        except TypeError:  # Python < 3.11.4 has no extraction filters; members are checked above
            tar.extractall(CACHE, members=members)
    marker.write_text("ok\n")
    return root


def run_pytest(endpoint: str, reset: bool, junit: pathlib.Path, extra: list[str]) -> int:
    root = tests_dir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    env.update(TEST_SERVER_MODE="true", TEST_SERVER_MODE_ENDPOINT=endpoint,
               MOTO_CALL_RESET_API="true" if reset else "false",
               # moto's tests sign as its default account (123456789012 in their assertions):
               # a non-numeric key is batchemu's default account too.
               AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1")
    env.pop("PYTHONPATH", None)  # the suite's own `tests` package, not batchemu's
    # Paths or node ids among the extra arguments replace the two suites.
    paths = [] if any(a.startswith(SUITES) for a in extra) else list(SUITES)
    cmd = [sys.executable, "-m", "pytest", *paths, "-p", "no:cacheprovider", "-o", "addopts=",
           "-q", "--no-header", "-rN", "--tb=line", f"--junitxml={junit}", *extra]
    return subprocess.run(cmd, cwd=root, env=env).returncode


def outcomes(junit: pathlib.Path) -> dict[str, str]:
    """test id (path::name) -> passed | failed | skipped, from pytest's JUnit XML."""
    result = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        path = case.get("classname", "").replace(".", "/")
        test_id = f"{path}.py::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            result[test_id] = "failed"
        elif case.find("skipped") is not None:
            result[test_id] = "skipped"
        else:
            result[test_id] = "passed"
    return result


def by_function(seen: dict[str, str]) -> dict[str, str]:
    """Outcome per test function (the issue's "95 tests"): passed only if every one of its
    parametrized cases passed; failed if any failed; else skipped."""
    out: dict[str, str] = {}
    for test_id, outcome in seen.items():
        name = test_id.split("[", 1)[0]
        before = out.get(name)
        if outcome == "failed" or before == "failed":
            out[name] = "failed"
        elif outcome == "skipped" or before == "skipped":
            out[name] = "skipped"
        else:
            out[name] = "passed"
    return out


def compare(mode: str, seen: dict[str, str], whole_run: bool = True) -> bool:
    """Print the outcome against the expected list; False on an unexpected failure (or, for a
    whole run, an expected test that did not run)."""
    expected = moto_expected.expected_failures(mode)
    failed = {t for t, o in seen.items() if o == "failed"}
    passed = {t for t, o in seen.items() if o == "passed"}
    unexpected = sorted(failed - set(expected))
    fixed = sorted(set(expected) & passed)
    missing = sorted(set(expected) - set(seen)) if whole_run else []
    functions = by_function(seen)
    print(f"\nmoto {VERSION} Batch suite, mode {mode}: "
          f"{sum(o == 'passed' for o in functions.values())} of {len(functions)} test functions passed "
          f"({len(passed)} of {len(seen)} cases; {len(failed)} failed, "
          f"{len(failed) - len(unexpected)} of them expected; "
          f"{sum(o == 'skipped' for o in seen.values())} skipped by moto in server mode)")
    for t in unexpected:
        print(f"  UNEXPECTED FAILURE {t}")
    for t in fixed:
        print(f"  unexpected pass    {t} (listed: {expected[t]})")
    for t in missing:
        print(f"  NOT RUN            {t} (on the expected list)")
    return not unexpected and not missing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("reset", "no-reset", "both"), default="both")
    parser.add_argument("--endpoint", default=os.environ.get("BATCHEMU_ENDPOINT"),
                        help="a running batchemu (default: one started in this process, process runner)")
    parser.add_argument("--junit-dir", help="keep pytest's JUnit XML here (one file per mode)")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest after `--` (e.g. -- -k name); "
                                                         "the comparison then only covers what ran")
    args = parser.parse_args(argv)
    modes = ("no-reset", "reset") if args.mode == "both" else (args.mode,)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = pathlib.Path(args.junit_dir or tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        for mode in modes:
            junit = out_dir / f"moto-{mode}.xml"
            if args.endpoint:
                run_pytest(args.endpoint, mode == "reset", junit, args.pytest_args)
            else:
                # lazy: the runner needs batchemu only when it starts the server itself
                from batchemu.testing import running_server
                with running_server(runner="process") as server:
                    run_pytest(server.url, mode == "reset", junit, args.pytest_args)
            ok &= compare(mode, outcomes(junit), whole_run=not args.pytest_args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
