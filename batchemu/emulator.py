"""Emulator: the composition root. One object builds every part of a batchemu server from a
Config, in dependency order, and owns its life:

    store -> server id, runner -> job endpoint, verifier, guard -> scheduler, engine
          -> ECS clusters -> Batch backend and provider -> frontends (Batch, Logs, events,
          moto) -> Flask app
    before moto's first ECS request the ECS clusters of the stored compute environments are
    restored (ecs_clusters.py); before its first CloudFormation request moto's CloudFormation
    starts serving AWS::Batch::* resources through this server's operations (cloudformation.py);
    before its first Step Functions request moto starts executing state machines, their Batch
    tasks through the same operations (stepfunctions.py); before its first Lambda request
    functions start running in Docker, pointed back here (lambdas.py)
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
import functools
import os
import threading
import time
import uuid
from pathlib import Path

from batchemu import (cloudformation, events, fault_routes, lambdas, logs, pipelines, reset_routes, services,
                      stepfunctions, task_metadata, ui)
from batchemu.app import create_app
from batchemu.batch import compute_environments, job_views
from batchemu.batch.backend import Backend
from batchemu.batch.provider import CASE_INSENSITIVE_ENUMS, EMPTY_TAGS_ALLOWED, BatchProvider
from batchemu.config import Config
from batchemu.ecs_clusters import MotoClusters
from batchemu.engine.engine import Engine
from batchemu.engine.scheduler import Scheduler
from batchemu.job_endpoint import METADATA_PATH, JobEndpoint
from batchemu.runners import select
from batchemu.server import Server
from batchemu.store import Store
from batchemu.wire import spec as wire_spec
from batchemu.wire.auth import Verifier, is_account, load_credentials
from batchemu.wire.endpoint import AWS_JSON_1_1, REST_JSON, Endpoint
from batchemu.wire.guard import Guard
from batchemu.wire.validate import Validator


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


class Emulator:
    """Every part of one batchemu server. `make_runner(config, server_id) -> Runner | None`
    builds the runner (default: the one --runner asks for); tests pass a `store` or `clock`."""

    def __init__(self, config: Config | None = None, *, store: Store | None = None,
                 clock=wall_clock_ms, make_runner=select.make_runner, lock_data_dir: bool = False):
        self.config = config = config or Config()
        if not config.time_scale > 0:
            raise ValueError(f"--time-scale must be a number above 0, got {config.time_scale}")
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
        # The task metadata endpoint's tokens are keyed by a secret kept in the store too.
        metadata_key = bytes.fromhex(store.meta("task_metadata_key", lambda: os.urandom(32).hex()))
        self.job_endpoint = JobEndpoint(config, signing_key, metadata_key,  # told the bound port by listen()
                                        runner_name=getattr(self.runner, "name", None))
        verifier = _verifier(config, self.job_endpoint) if config.verify_signatures else None
        # Job containers call back on the advertised URL: its host is always one of ours.
        guard = Guard(config.host, config.allowed_hosts, config.allowed_origins,
                      extra_hosts=self.job_endpoint.hosts)
        # --time-scale divides every wait the engine imposes, the SIGTERM-to-SIGKILL grace too.
        scheduler = Scheduler(store, self.runner, clock, config.stop_grace_seconds / config.time_scale,
                              extra_env=self.job_endpoint, time_scale=config.time_scale)
        self.engine = Engine(scheduler, clock)
        # The ECS cluster of each compute environment lives in moto's ECS (ecs_clusters.py).
        self.clusters = MotoClusters()
        self.backend = Backend(store=store, config=config, changed=self.engine.wake, clusters=self.clusters)
        batch_spec = wire_spec.load("batch")
        self.provider = BatchProvider(self.backend, batch_spec)
        batch_validator = Validator("ClientException", CASE_INSENSITIVE_ENUMS,
                                    empty_allowed=EMPTY_TAGS_ALLOWED)
        batch = Endpoint(batch_spec, REST_JSON, self.provider, batch_validator, config, clock)
        self.stack_operations = cloudformation.BatchOperations(self.provider, batch_spec, batch_validator,
                                                               clock, config.settle_seconds)
        self._forget_moto_hooks = []
        self._state_machines = None  # stepfunctions.Runtime once moto's Step Functions is asked
        # Lambda functions run in Docker on the jobs' network and call back like jobs do.
        self.functions = lambdas.Runtime(self.job_endpoint.url, config.job_network, self.job_endpoint.secret_for,
                                         store, clock)
        logs_spec = wire_spec.load("logs")
        logs_provider = logs.LogsProvider(logs.install(store, clock), logs_spec)
        logs_validator = Validator(logs.VALIDATION_ERROR, patterns=True)
        logs_endpoint = Endpoint(logs_spec, AWS_JSON_1_1, logs_provider, logs_validator, config, clock,
                                 server_error_code=logs.SERVER_ERROR)
        # EventBridge targets, S3 events and schedules: jobs through these Batch operations,
        # log-group targets through this server's Logs operations (pipelines/).
        self.pipelines = pipelines.Pipelines(
            self.stack_operations, store, config.time_scale,
            logs_ops=cloudformation.BatchOperations(logs_provider, logs_spec, logs_validator, clock, 0))
        # A Batch route is Batch's whatever the signature says (a request signed for S3 gets
        # Batch's JSON answer, never S3's XML); S3 paths of a bucket named "v1" that look like
        # Batch routes are the price. Unsigned Batch and Logs requests are refused (the guard).
        batch_frontend = _frontend(batch, guard.require_credentials)
        # Asked in order; the first that answers wins.
        frontends = [reset_routes.make_frontend(self.reset),
                     batch_frontend,
                     _frontend(logs_endpoint, guard.require_credentials),
                     events.make_frontend(store, config),
                     fault_routes.make_frontend(self.engine, guard, config),
                     task_metadata.make_frontend(store, self.job_endpoint),
                     ui.make_frontend(config),  # the dashboard's static page (/ui/)
                     services.make_frontend(config)]
        self._stop_events = events.install(store, config)
        self.app = create_app([f for f in frontends if f is not None], guard, verifier, batch_spec,
                              direct=batch_frontend, public=_unsigned)
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
        # moto keeps state in memory: before its first ECS request the clusters of the stored
        # compute environments are put back; before its first CloudFormation request stacks'
        # AWS::Batch::* resources become this server's (neither imports moto before then).
        self._forget_moto_hooks = [services.before_first_request("ecs", self.restore_ecs_clusters),
                                   services.before_first_request("cloudformation", self.serve_stacks),
                                   services.before_first_request("states", self.run_state_machines),
                                   services.before_first_request("lambda", self.run_functions)]
        # Before moto's first EventBridge, S3 or Scheduler request: rules reach Batch, S3 puts
        # AWS-shaped events on EventBridge, schedules fire (pipelines/).
        self._forget_moto_hooks += [services.before_first_request(name, self.pipelines.install)
                                    for name in pipelines.SERVICES]
        # After run_functions / run_state_machines (registered above, so they run first): kept
        # functions and state machines go back into moto, and what moto accepts is kept.
        self._forget_moto_hooks += [services.before_first_request(name, functools.partial(self.pipelines.keep, name))
                                    for name in pipelines.KEPT_SERVICES]
        self.pipelines.start()
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
        for forget in self._forget_moto_hooks:
            forget()
        cloudformation.uninstall(self.stack_operations)
        self.pipelines.stop()
        if self._state_machines is not None:
            stepfunctions.uninstall(self._state_machines)
        lambdas.uninstall(self.functions)
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
            self.pipelines.moto_was_reset()  # kept rules and schedules go with moto's

    @property
    def url(self) -> str:
        return self.server.url

    def restore_ecs_clusters(self) -> None:
        """Put the ECS cluster of every stored compute environment into moto's ECS (moto's
        state is in memory). Runs before moto's first ECS request; call it again after
        anything that wipes moto's state (a reset) but keeps Batch's."""
        self.clusters.restore(lambda: compute_environments.ecs_clusters(self.backend, self.clock()))

    def serve_stacks(self) -> None:
        """moto's CloudFormation creates AWS::Batch::* resources through this server."""
        cloudformation.install(self.stack_operations)

    def run_state_machines(self) -> None:
        """moto's Step Functions executes state machines, their Batch tasks through this
        server's operations (stepfunctions.py)."""
        # Its other integrations sign like job containers (accepted with --verify-signatures).
        self._state_machines = stepfunctions.install(self.stack_operations, self.store, self._own_url,
                                                     self.config.default_account, self.job_endpoint.secret_for)

    def _own_url(self) -> str | None:
        """This server's address from this process (moto's integrations call it)."""
        if self.server is None:
            return None
        host = self.config.host
        host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        return f"http://[{host}]:{self.server.port}" if ":" in host else f"http://{host}:{self.server.port}"

    def run_functions(self) -> None:
        """moto's Lambda runs functions in Docker, reaching this server as jobs do (lambdas.py)."""
        lambdas.install(self.functions)


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


def _unsigned(req) -> bool:
    """Requests that need no signature even with --verify-signatures (the guard still applies):
    the dashboard's static files (a browser cannot sign a page load) and the task metadata
    endpoint (its token is the credential; unsigned on AWS too)."""
    return ui.is_public(req) or req.path.startswith(METADATA_PATH + "/")


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
