"""A live batchemu server for integration tests: `with running_server() as server:` gives a
server on an ephemeral loopback port and `server.client("batch")` a boto3 client for it.

Also usable from users' own test suites (pytest fixtures in tests/conftest.py build on it).
`server.emulator` holds the parts (store, engine, provider, ...: emulator.Emulator).
"""

from __future__ import annotations

import contextlib

import boto3

from batchemu.config import Config
from batchemu.emulator import Emulator


class RunningServer:
    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self.server = emulator.server
        self.app = emulator.app

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def client(self, service: str = "batch", region: str = "us-east-1",
               access_key: str = "AKIDTESTTESTTEST", **kwargs):
        return boto3.client(service, endpoint_url=self.url, region_name=region,
                            aws_access_key_id=access_key, aws_secret_access_key="test", **kwargs)


@contextlib.contextmanager
def running_server(config: Config | None = None, **overrides):
    """Start batchemu on 127.0.0.1:<free port>; ephemeral unless a data_dir is given."""
    if config is None:
        overrides.setdefault("ephemeral", "data_dir" not in overrides)
        overrides.setdefault("port", 0)
        overrides.setdefault("runner", "none")
        config = Config(**overrides)
    emulator = Emulator(config)
    try:
        emulator.start()
        yield RunningServer(emulator)
    finally:
        emulator.stop()
