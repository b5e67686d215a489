"""create_app(config): the Flask app that wires the wire layer, the Batch provider and the
engine together on one endpoint.

Routing: a request whose path and method match a Batch route is Batch's; anything else gets a
JSON 404 (other services join here later). No Batch rule lives in this module.
"""

from __future__ import annotations

import logging
import time
import uuid

from flask import Flask, request

from batchemu.batch.backend import Backend
from batchemu.batch.provider import CASE_INSENSITIVE_ENUMS, BatchProvider
from batchemu.config import Config
from batchemu.engine.engine import Engine
from batchemu.engine.scheduler import Scheduler
from batchemu.runners.select import make_runner
from batchemu.store import Store
from batchemu.wire import spec as wire_spec
from batchemu.wire.endpoint import RestJsonEndpoint
from batchemu.wire.validate import Validator

log = logging.getLogger("batchemu")


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


def create_app(config: Config | None = None, store: Store | None = None, clock=wall_clock_ms,
               runner="from-config", start_engine: bool = True) -> Flask:
    config = config or Config()
    store = store or Store(config.db_path)
    server_id = store.meta("server_id", lambda: uuid.uuid4().hex[:12])
    if runner == "from-config":
        runner = make_runner(config, server_id)
    scheduler = Scheduler(store, runner, clock, config.stop_grace_seconds)
    engine = Engine(scheduler, clock)
    backend = Backend(store=store, config=config, changed=engine.wake)
    batch_spec = wire_spec.load("batch")
    provider = BatchProvider(backend, batch_spec)
    batch = RestJsonEndpoint(batch_spec, provider,
                             Validator("ClientException", CASE_INSENSITIVE_ENUMS), config, clock)

    app = Flask("batchemu")
    app.config["batchemu"] = {"config": config, "store": store, "backend": backend,
                              "provider": provider, "engine": engine, "server_id": server_id,
                              "shutdown": engine.stop}
    if start_engine:
        engine.start()

    # OPTIONS too: Flask's automatic answer is a text/html 200 claiming every method is allowed.
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]

    @app.route("/", defaults={"path": ""}, methods=methods, provide_automatic_options=False)
    @app.route("/<path:path>", methods=methods, provide_automatic_options=False)
    def dispatch(path):
        matched = batch.match(request)
        if matched:
            return batch(request, matched)
        allowed = batch.spec.methods_for(request.path)
        if allowed:
            resp = RestJsonEndpoint.error(405, "ClientException",
                                          f"{request.method} is not allowed on {request.path}; "
                                          f"use {', '.join(allowed)}")
            resp.headers["Allow"] = ", ".join(allowed)  # RFC 9110 §15.5.6: a 405 lists them
            return resp
        return RestJsonEndpoint.error(404, "UnknownOperationException",
                                      f"No operation matches {request.method} {request.path}")

    @app.errorhandler(Exception)
    def unexpected(exc):  # anything Flask itself raises: still JSON, never HTML
        code = getattr(exc, "code", 500)
        if not isinstance(code, int):
            code = 500
        if code >= 500:
            log.exception("unexpected error")
        return RestJsonEndpoint.error(code, "ServerException" if code >= 500 else "ClientException",
                                      str(exc))

    return app
