"""The composition root (emulator.Emulator): the data dir is locked before the store opens and
the port bound before the engine starts, as the `batchemu` command relies on."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import pytest

from batchemu.config import Config
from batchemu.emulator import DataDirInUse, Emulator


def test_a_second_server_on_a_locked_data_dir_is_refused(tmp_path):
    first = Emulator(Config(data_dir=str(tmp_path), port=0, runner="none"), lock_data_dir=True).start()
    try:
        with pytest.raises(DataDirInUse, match="another batchemu server is using"):
            Emulator(Config(data_dir=str(tmp_path), port=0, runner="none"), lock_data_dir=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHEMU_")}
        result = subprocess.run([sys.executable, "-m", "batchemu", "--data-dir", str(tmp_path), "--port", "0",
                                 "--runner", "none"], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 1
        assert f"another batchemu server is using {tmp_path}" in result.stderr
    finally:
        first.stop()
    # Released by stop(): the next server takes the data dir over.
    Emulator(Config(data_dir=str(tmp_path), port=0, runner="none"), lock_data_dir=True).stop()


def test_jobs_learn_the_bound_port_before_the_engine_starts():
    emulator = Emulator(Config(ephemeral=True, port=0, runner="none"))
    try:
        assert emulator.job_endpoint.url() is None  # port 0: not known until bound
        server = emulator.listen()
        assert emulator.job_endpoint.url() == f"http://127.0.0.1:{server.port}"
        emulator.start()
        batch = boto3.client(
            "batch", endpoint_url=emulator.url, region_name="us-east-1",
            aws_access_key_id="AKIDTESTTESTTEST", aws_secret_access_key="test")
        assert batch.describe_job_queues()["jobQueues"] == []
    finally:
        emulator.stop()
