"""create_app(config): the Flask app that wires the wire layer, the Batch provider and the
engine together on one endpoint.

Routing: an ordered list of frontends, each `(request) -> Response | None`: Batch (by route),
CloudWatch Logs (by X-Amz-Target), other AWS services (moto). Nothing answered: JSON 405/404.
No Batch rule lives in this module.
"""

from __future__ import annotations

import logging
import time
import uuid

from flask import Flask, request

from batchemu import events, logs, services
from batchemu.batch import job_views
from batchemu.batch.backend import Backend
from batchemu.batch.provider import CASE_INSENSITIVE_ENUMS, BatchProvider
from batchemu.config import Config
from batchemu.engine.engine import Engine
from batchemu.engine.scheduler import Scheduler
from batchemu.runners.select import make_runner
from batchemu.store import Store
from batchemu.wire import spec as wire_spec
from batchemu.wire.auth import identify
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
    job_views.forget_stale(store)
    if runner == "from-config":
        runner = make_runner(config, server_id)
    job_endpoint = services.job_environment(config)  # told the bound port by the caller
    scheduler = Scheduler(store, runner, clock, config.stop_grace_seconds, extra_env=job_endpoint)
    engine = Engine(scheduler, clock)
    backend = Backend(store=store, config=config, changed=engine.wake)
    batch_spec = wire_spec.load("batch")
    provider = BatchProvider(backend, batch_spec)
    batch = RestJsonEndpoint(batch_spec, provider,
                             Validator("ClientException", CASE_INSENSITIVE_ENUMS), config, clock)

    def batch_frontend(req):
        # Batch routes are always ours, unless the request is signed for another service
        # (an S3 bucket called "v1" must still reach S3).
        service = identify(req.headers, req.args, config.default_account, config.default_region).service
        if service not in (None, "batch"):
            return None
        matched = batch.match(req)
        return batch(req, matched) if matched else None

    # Asked in order; the first that answers wins.
    frontends = [batch_frontend,
                 logs.make_frontend(store, config, clock, runner),
                 events.make_frontend(store),
                 services.make_frontend(config)]
    frontends = [f for f in frontends if f is not None]
    stop_events = events.install(store, config)

    def shutdown():
        engine.stop()
        stop_events()

    app = Flask("batchemu")
    app.config["batchemu"] = {"config": config, "store": store, "backend": backend,
                              "provider": provider, "engine": engine, "server_id": server_id,
                              "shutdown": shutdown, "job_endpoint": job_endpoint}
    if start_engine:
        engine.start()

    # OPTIONS too: Flask's automatic answer is a text/html 200 claiming every method is allowed.
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]

    @app.route("/", defaults={"path": ""}, methods=methods, provide_automatic_options=False)
    @app.route("/<path:path>", methods=methods, provide_automatic_options=False)
    def dispatch(path):
        for frontend in frontends:
            response = frontend(request)
            if response is not None:
                return response
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
