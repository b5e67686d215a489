"""batchemu installs into a project's test environment without touching its SDK: a fresh venv
that already holds boto3/botocore $BATCHEMU_USER_BOTO (default 1.44.18) gets `pip install
<this checkout>`; boto3 and botocore must be the same versions afterwards, and the installed
`batchemu` command must serve the Batch API to that boto3, the bulk operations included.

Slow and needs PyPI (creates a venv, installs moto and Flask), so it runs only with
BATCHEMU_INSTALL_TEST=1: scripts/client-matrix.sh sets it in CI. pip's wheel cache makes
repeat runs cheap.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import pytest

from tests.install.conftest import USER_BOTO, versions

pytestmark = pytest.mark.skipif(os.environ.get("BATCHEMU_INSTALL_TEST") != "1",
                                reason="installs from PyPI into a fresh venv; set BATCHEMU_INSTALL_TEST=1")

# Run with the venv's python: a call to a running batchemu.
CALL = """
import boto3, json, sys, uuid
b = boto3.client("batch", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="123456789012", aws_secret_access_key="x")
b.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
out = b.cancel_jobs(jobs=[str(uuid.uuid4())], reason="coexistence")
print(json.dumps({"ces": [c["computeEnvironmentName"] for c in b.describe_compute_environments()["computeEnvironments"]],
                  "cancel": {"successful": len(out["successful"]), "errors": out["errors"]}}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_install_beside_the_users_boto3(user_env, tmp_path):
    assert user_env.sdk_before == [USER_BOTO, USER_BOTO]
    python = user_env.python

    assert versions(python) == user_env.sdk_before  # batchemu's install (conftest) kept them
    port = free_port()
    server = subprocess.Popen([str(user_env.dir / "bin" / "batchemu"), "--port", str(port), "--ephemeral",
                               "--runner", "none"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              cwd=tmp_path)  # not the checkout: the installed package must serve
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()
                assert time.monotonic() < deadline, "batchemu did not start listening"
                time.sleep(0.2)
        out = subprocess.run([str(python), "-c", CALL, f"http://127.0.0.1:{port}"], capture_output=True,
                             text=True, timeout=60, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == {"ces": ["ce"], "cancel": {"successful": 1, "errors": []}}
    finally:
        server.terminate()
        server.wait(timeout=30)
