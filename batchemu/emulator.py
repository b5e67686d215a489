"""Emulator: the composition root. One object builds every part of a batchemu server from a
Config, in dependency order, and owns its life:

    store -> server id, runner -> job endpoint, verifier, guard -> scheduler, engine
          -> Batch backend and provider -> frontends (Batch, Logs, events, moto) -> Flask app
    listen() binds the port (the HTTP server), start() starts the engine and serves (in a
    thread, or in the caller's with serve_forever()), stop() stops serving, then the engine
    and the event hub. reset() empties it (the reset routes): the engine stops the jobs and
    clears the store, then moto's services are reset.

The port is bound before the engine starts (the job endpoint learns the real port of a
server asked for port 0, and a server that cannot listen never runs restart recovery), and
with `lock_data_dir` the data dir is locked before the store opens (cli.py).
The parts are plain attributes (`emulator.store`, `.engine`, `.provider`, `.job_endpoint`,
`.server_id`, `.app`, `.server`). Owns no rule and answers no request itself.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import uuid
from pathlib import Path

from batchemu import events, logs, reset_routes, services
from batchemu.app import create_app
from batchemu.batch import job_views
from batchemu.batch.backend import Backend
from batchemu.batch.provider import CASE_INSENSITIVE_ENUMS, EMPTY_TAGS_ALLOWED, BatchProvider
from batchemu.config import Config
from batchemu.engine.engine import Engine
from batchemu.engine.scheduler import Scheduler
from batchemu.job_endpoint import JobEndpoint
from batchemu.runners import select
from batchemu.server import Server
from batchemu.store import Store
from batchemu.wire import spec as wire_spec
from batchemu.wire.auth import Verifier, is_account, load_credentials
from batchemu.wire.endpoint import AWS_JSON_1_1, REST_JSON, Endpoint
from batchemu.wire.guard import Guard, url_host
from batchemu.wire.validate import Validator


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


class Emulator:
    """Every part of one batchemu server. `make_runner(config, server_id) -> Runner | None`
    builds the runner (default: the one --runner asks for); tests pass a `store` or `clock`."""

    def __init__(self, config: Config | None = None, *, store: Store | None = None,
                 clock=wall_clock_ms, make_runner=select.make_runner, lock_data_dir: bool = False):
        self.config = config = config or Config()
        self.clock = clock
        # Held until stop(), or for the life of the process (the OS releases it on any exit).
        self.data_dir_lock = (_lock(config.data_dir)
                              if lock_data_dir and not config.ephemeral else None)
        self.store = store = store or Store(config.db_path)
        self.server_id = store.meta("server_id", lambda: uuid.uuid4().hex[:12])
        job_views.forget_stale(store)
        job_views.keep_on_write(store)
        self.runner = make_runner(config, self.server_id)
        # With verification on, job containers get per-account secrets derived from a key kept
        # in the store (re-attached jobs keep working across a restart).
        signing_key = (bytes.fromhex(store.meta("job_signing_key", lambda: os.urandom(32).hex()))
                       if config.verify_signatures else None)
        self.job_endpoint = JobEndpoint(config, signing_key)  # told the bound port by listen()
        verifier = _verifier(config, self.job_endpoint) if config.verify_signatures else None
        # Job containers call back on the advertised URL: its host is always one of ours.
        guard = Guard(config.host, config.allowed_hosts, config.allowed_origins,
                      extra_hosts=lambda: [url_host(self.job_endpoint.url())])
        scheduler = Scheduler(store, self.runner, clock, config.stop_grace_seconds,
                              extra_env=self.job_endpoint)
        self.engine = Engine(scheduler, clock)
        self.backend = Backend(store=store, config=config, changed=self.engine.wake)
        batch_spec = wire_spec.load("batch")
        self.provider = BatchProvider(self.backend, batch_spec)
        batch = Endpoint(batch_spec, REST_JSON, self.provider,
                         Validator("ClientException", CASE_INSENSITIVE_ENUMS,
                                   empty_allowed=EMPTY_TAGS_ALLOWED), config, clock)
        logs_spec = wire_spec.load("logs")
        logs_endpoint = Endpoint(logs_spec, AWS_JSON_1_1, logs.LogsProvider(logs.install(store, clock), logs_spec),
                                 Validator(logs.VALIDATION_ERROR, patterns=True), config, clock,
                                 server_error_code=logs.SERVER_ERROR)
        # A Batch route is Batch's whatever the signature says (a request signed for S3 gets
        # Batch's JSON answer, never S3's XML); S3 paths of a bucket named "v1" that look like
        # Batch routes are the price. Unsigned Batch and Logs requests are refused (the guard).
        batch_frontend = _frontend(batch, guard.require_credentials)
        # Asked in order; the first that answers wins.
        frontends = [reset_routes.make_frontend(self.reset),
                     batch_frontend,
                     _frontend(logs_endpoint, guard.require_credentials),
                     events.make_frontend(store, config),
                     services.make_frontend(config)]
        self._stop_events = events.install(store, config)
        self.app = create_app([f for f in frontends if f is not None], guard, verifier, batch_spec,
                              direct=batch_frontend)
        self.server: Server | None = None
        self._reset_lock = threading.Lock()

    def listen(self, **server_options) -> Server:
        """Bind the port (raises server.ListenError); the job endpoint learns the real port."""
        config = self.config
        server_options.setdefault("max_connections", config.max_connections)
        self.server = Server(self.app, config.host, config.port, **server_options)
        self.job_endpoint.bound(self.server.port)
        return self.server

    def start(self, serve: bool = True, **server_options) -> "Emulator":
        """Listen (unless listening) and start the engine (restart recovery first); with
        `serve`, serve in a background thread, else call serve_forever() next."""
        if self.server is None:
            self.listen(**server_options)
        self.engine.start()
        if serve:
            self.server.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until the process is told to stop (after start(serve=False))."""
        self.server.serve_forever()

    def stop(self) -> None:
        """Stop serving (every connection closed), then the engine and the event hub; the
        data dir is released last, once nothing runs against it."""
        if self.server is not None:
            self.server.stop()
        self.engine.stop()
        self._stop_events()
        if self.data_dir_lock is not None:
            self.data_dir_lock.close()
            self.data_dir_lock = None

    def reset(self) -> None:
        """Back to an empty server, in every account: the engine kills and removes every job's
        container/process and empties the store's tables in one transaction (between two
        ticks, on its own thread: Engine.reset), then moto's services are reset. The server
        id and job signing key stay. A durable data dir is reset only with --allow-reset, so
        no state is ever wiped by surprise: raises reset_routes.ResetRefused otherwise."""
        config = self.config
        if not (config.ephemeral or config.allow_reset):
            raise reset_routes.ResetRefused(
                f"Refused: a reset would delete the state this server keeps in {config.data_dir}. "
                "Start batchemu with --allow-reset (BATCHEMU_ALLOW_RESET=1) to allow it, or use "
                "--ephemeral for a server whose state is thrown away.")
        with self._reset_lock:
            self.engine.reset()
            services.reset_moto()

    @property
    def url(self) -> str:
        return self.server.url


class DataDirInUse(RuntimeError):
    """Another batchemu server holds the data dir's lock."""


def _lock(data_dir):
    """An exclusive lock on the data dir: a second server can never run restart recovery
    against jobs a first one is still running."""
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    handle = open(path / "batchemu.lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise DataDirInUse(f"another batchemu server is using {data_dir}; stop it or choose "
                           "another --data-dir") from None
    return handle


def _verifier(config: Config, job_endpoint: JobEndpoint) -> Verifier:
    """The SigV4 verifier for --verify-signatures: the operator's keys, plus each account's
    derived secret for the job containers of this server."""
    secrets = load_credentials(config.credentials, config.credentials_file)
    if not secrets:
        raise ValueError("--verify-signatures needs the keys it accepts: --credentials KEY:SECRET "
                         "or --credentials-file PATH (BATCHEMU_CREDENTIALS, BATCHEMU_CREDENTIALS_FILE)")
    return Verifier(secrets, derived=lambda key: job_endpoint.secret_for(key) if is_account(key) else None)


def _frontend(endpoint: Endpoint, gate):
    """`(request) -> Response | None`: the endpoint's answer to a request it routes, unless
    `gate(request)` refuses it with a response of its own."""
    def frontend(req):
        matched = endpoint.match(req)
        if not matched:
            return None
        refused = gate(req)
        return refused if refused is not None else endpoint(req, matched)
    return frontend
