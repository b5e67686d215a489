"""batchemu's pytest plugin (batchemu/pytest_plugin.py) run as pytest runs it for a user: a
separate pytest process over a user's test file (tests/install/plugin_project/check_fixtures.py),
with the plugin named by `-p` and entry-point autoloading off, so this checkout's plugin is the
one tested whatever is installed. tests/install/test_pytest_plugin.py does the same from a
fresh venv through the installed entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from batchemu.testing import running_server

ROOT = Path(__file__).resolve().parents[2]
USER_TESTS = ROOT / "tests" / "install" / "plugin_project" / "check_fixtures.py"


def run_pytest(project: Path, *args: str, ini: str = "") -> subprocess.CompletedProcess:
    """pytest in `project` (a directory outside this checkout: no conftest.py of ours applies)."""
    if ini:
        (project / "pytest.ini").write_text("[pytest]\n" + ini)
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "batchemu.pytest_plugin", "-p", "no:cacheprovider",
                           "-q", *args], cwd=project, env=env, capture_output=True, text=True, timeout=300)


def user_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(USER_TESTS, project / "test_user.py")
    return project


def test_the_users_tests_pass_with_a_started_server(tmp_path):
    result = run_pytest(user_project(tmp_path), "--batchemu-runner", "process")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout


def test_an_external_endpoint_is_used_as_it_is(tmp_path):
    """--batchemu-endpoint: no server is started; the tests' resources land on the given one."""
    project = user_project(tmp_path)
    (project / "test_where.py").write_text(
        "import json\n"
        "def test_where(batchemu, batch, batchemu_account):\n"
        "    assert batchemu.emulator is None\n"
        "    batch.create_compute_environment(computeEnvironmentName='outside', type='UNMANAGED')\n"
        "    open('where.json', 'w').write(json.dumps([batchemu.url, batchemu_account]))\n")
    with running_server(runner="process") as server:
        result = run_pytest(project, "--batchemu-endpoint", server.url)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "6 passed" in result.stdout
        url, account = json.loads((project / "where.json").read_text())
        assert url == server.url
        ces = server.client("batch", access_key=account).describe_compute_environments()["computeEnvironments"]
        assert [c["computeEnvironmentName"] for c in ces] == ["outside"]


def test_ini_options_and_the_command_line(tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    (project / "test_runner.py").write_text(
        "import os\n"
        "def test_runner(batchemu):\n"
        "    assert batchemu.emulator.config.runner == os.environ['WANTED']\n"
        "    assert batchemu.emulator.config.ephemeral\n")
    os.environ["WANTED"] = "none"
    try:
        assert run_pytest(project, ini="batchemu_runner = none\n").returncode == 0
        os.environ["WANTED"] = "process"  # the command line wins over the ini file
        result = run_pytest(project, "--batchemu-runner", "process", ini="batchemu_runner = none\n")
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        del os.environ["WANTED"]
    bad = run_pytest(project, "--batchemu-runner", "kubernetes")
    assert bad.returncode != 0 and "invalid choice" in bad.stderr


def test_a_session_that_uses_no_fixture_pays_nothing(tmp_path):
    """Loading the plugin imports neither boto3 nor the server (Flask, botocore), and a session
    whose tests ask for none of its fixtures starts no server."""
    project = tmp_path / "p"
    project.mkdir()
    (project / "test_plain.py").write_text(
        "import sys, threading\n"
        "def test_plain():\n"
        "    assert not {'boto3', 'botocore', 'flask', 'batchemu.testing', 'batchemu.emulator'} & set(sys.modules)\n"
        "    assert not [t for t in threading.enumerate() if t.name.startswith('batchemu')]\n")
    result = run_pytest(project, "--batchemu-runner", "process")
    assert result.returncode == 0, result.stdout + result.stderr


def test_fixtures_of_a_conftest_win(tmp_path):
    """A project's own fixture named `batch` (batchemu's own tests/conftest.py has one) replaces
    the plugin's, as a nearer fixture always does in pytest."""
    project = tmp_path / "p"
    project.mkdir()
    (project / "conftest.py").write_text("import pytest\n@pytest.fixture\ndef batch():\n    return 'mine'\n")
    (project / "test_own.py").write_text("def test_own(batch):\n    assert batch == 'mine'\n")
    result = run_pytest(project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_fixtures_are_listed(tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    result = run_pytest(project, "--fixtures")
    listed = {line.split()[0] for line in result.stdout.splitlines() if line and not line[0].isspace()}
    assert {"batchemu", "batch", "batchemu_account", "batchemu_env"} <= listed, result.stdout
