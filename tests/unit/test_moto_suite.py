"""conformance/moto_suite.py's verdict on a run (no moto download, no server): JUnit XML in,
unexpected failures fail the run, listed failures and unexpected passes do not, and the
per-function count the issue's "95 tests" means."""

from __future__ import annotations

from conformance import moto_expected, moto_suite

LISTED = next(iter(moto_expected.AWS_DIFFERS))


def junit(tmp_path, cases: dict) -> dict:
    """cases: test id -> passed | failed | skipped, written as pytest's JUnit XML and read back."""
    rows = []
    for test_id, outcome in cases.items():
        path, name = test_id.split("::")
        classname = path[:-3].replace("/", ".")
        inner = {"passed": "", "failed": "<failure message='x'/>", "skipped": "<skipped message='s'/>"}[outcome]
        rows.append(f'<testcase classname="{classname}" name="{name}">{inner}</testcase>')
    xml = tmp_path / "run.xml"
    xml.write_text(f"<testsuites><testsuite>{''.join(rows)}</testsuite></testsuites>")
    return moto_suite.outcomes(xml)


def test_listed_failures_pass_the_run_and_unlisted_ones_fail_it(tmp_path, capsys):
    listed = {t: "failed" for t in moto_expected.expected_failures("no-reset")}
    ok = junit(tmp_path, {**listed, "tests/test_batch/test_x.py::test_fine": "passed"})
    assert ok == {**listed, "tests/test_batch/test_x.py::test_fine": "passed"}
    assert moto_suite.compare("no-reset", ok)
    bad = junit(tmp_path, {**listed, "tests/test_batch/test_x.py::test_new[a]": "failed"})
    assert not moto_suite.compare("no-reset", bad)
    assert "UNEXPECTED FAILURE tests/test_batch/test_x.py::test_new[a]" in capsys.readouterr().out


def test_unexpected_passes_are_reported_not_failed(tmp_path, capsys):
    listed = {t: "failed" for t in moto_expected.expected_failures("reset")}
    seen = junit(tmp_path, {**listed, LISTED: "passed"})
    assert moto_suite.compare("reset", seen)
    assert f"unexpected pass    {LISTED}" in capsys.readouterr().out
    # A whole run that did not run a listed test is suspicious (renamed? not collected?).
    del listed[LISTED]
    assert not moto_suite.compare("reset", junit(tmp_path, listed))


def test_a_function_passes_only_when_all_its_cases_pass():
    seen = {"f.py::a[1]": "passed", "f.py::a[2]": "failed", "f.py::b": "passed", "f.py::c": "skipped",
            "f.py::d[x]": "passed", "f.py::d[y]": "passed"}
    assert moto_suite.by_function(seen) == {"f.py::a": "failed", "f.py::b": "passed",
                                            "f.py::c": "skipped", "f.py::d": "passed"}


def test_every_listed_test_says_why():
    for mode in ("reset", "no-reset"):
        for test_id, reason in moto_expected.expected_failures(mode).items():
            assert test_id.startswith(("tests/test_batch/", "tests/test_batch_simple/")) and "::" in test_id
            assert len(reason) > 10, test_id
    # each AWS fact cites the reference
    assert all("ref §" in reason for reason in moto_expected.AWS_DIFFERS.values())
