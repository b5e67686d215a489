"""batchemu's pytest plugin as a user gets it: a fresh venv that already holds the user's own
boto3/botocore $BATCHEMU_USER_BOTO (default 1.44.18) and pytest gets `pip install <this
checkout>`; its SDK stays, and pytest there (the plugin found through the installed `pytest11`
entry point, no conftest.py, no -p) runs a user's test file
(tests/install/plugin_project/check_fixtures.py: isolation between tests by account, a job run
to the end with the process runner and its CloudWatch log read back, code that builds its own
clients, reset).

Slow and needs PyPI, so it runs only with BATCHEMU_INSTALL_TEST=1 (scripts/client-matrix.sh
sets it in CI), like test_coexistence.py. pip's own cache (~/.cache/pip) keeps repeat runs cheap.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.install.conftest import versions

USER_TESTS = Path(__file__).with_name("plugin_project") / "check_fixtures.py"

pytestmark = pytest.mark.skipif(os.environ.get("BATCHEMU_INSTALL_TEST") != "1",
                                reason="installs from PyPI into a fresh venv; set BATCHEMU_INSTALL_TEST=1")


def test_the_installed_plugin_serves_a_users_tests(user_env, tmp_path):
    python = user_env.python
    assert versions(python) == user_env.sdk_before  # the user's SDK stayed (conftest installed batchemu)
    project = tmp_path / "project"  # not the checkout: only the installed package may serve
    project.mkdir()
    shutil.copy(USER_TESTS, project / "test_with_batchemu.py")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "PYTHON", "BATCHEMU_", "PYTEST_"))}
    result = subprocess.run([str(python), "-m", "pytest", "-p", "no:cacheprovider", "-v",
                             "--batchemu-runner", "process"],
                            cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout
    assert "plugins: batchemu" in result.stdout  # found through the entry point, by its name
