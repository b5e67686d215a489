"""One fresh venv for every install test (they run with BATCHEMU_INSTALL_TEST=1, see
test_coexistence.py): it holds the user's own boto3/botocore $BATCHEMU_USER_BOTO and pytest
first, then gets `pip install <this checkout>` as a user would. Made once per session: the
install (moto, Flask, ...) is most of these tests' time."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
USER_BOTO = os.environ.get("BATCHEMU_USER_BOTO", "1.44.18")
# Run with the venv's python: the SDK versions it has.
VERSIONS = "import boto3, botocore, json; print(json.dumps([boto3.__version__, botocore.__version__]))"


def pip(python: Path, *args: str) -> None:
    result = subprocess.run([str(python), "-m", "pip", "install", "-q", *args], capture_output=True, text=True,
                            timeout=900, env={**os.environ, "PIP_ROOT_USER_ACTION": "ignore"})
    assert result.returncode == 0, result.stderr


def versions(python: Path) -> list:
    return json.loads(subprocess.check_output([str(python), "-c", VERSIONS], text=True))


@dataclasses.dataclass
class UserEnv:
    dir: Path
    python: Path
    sdk_before: list    # [boto3, botocore] before batchemu was installed


@pytest.fixture(scope="session")
def user_env(tmp_path_factory) -> UserEnv:
    env_dir = tmp_path_factory.mktemp("install") / "project-env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    pip(python, f"boto3=={USER_BOTO}", f"botocore=={USER_BOTO}", "pytest>=8,<10")
    before = versions(python)
    pip(python, str(ROOT))  # as a user would: the package, its declared dependencies, its entry points
    return UserEnv(env_dir, python, before)
