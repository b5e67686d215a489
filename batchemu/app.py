"""create_app(config): the Flask app that wires the wire layer, the Batch provider and the
engine together on one endpoint.

Before any frontend, every request passes the wire guard (Host and Origin: no web page, no
DNS rebinding) and, with --verify-signatures, the SigV4 check. Routing: an ordered list of
frontends, each `(request) -> Response | None`: Batch (by route), CloudWatch Logs (by
X-Amz-Target), the event stream, other AWS services (moto). Nothing answered: JSON 405/404.
No Batch rule lives in this module.
"""

from __future__ import annotations

import logging
import os
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
from batchemu.wire.auth import SignatureError, Verifier, is_account, load_credentials
from batchemu.wire.endpoint import RestJsonEndpoint
from batchemu.wire.guard import Guard, refusal, url_host
from batchemu.wire.validate import Validator

log = logging.getLogger("batchemu")


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


def make_verifier(config: Config, job_endpoint) -> Verifier:
    """The SigV4 verifier for --verify-signatures: the operator's keys, plus each account's
    derived secret for the job containers of this server."""
    secrets = load_credentials(config.credentials, config.credentials_file)
    if not secrets:
        raise ValueError("--verify-signatures needs the keys it accepts: --credentials KEY:SECRET "
                         "or --credentials-file PATH (BATCHEMU_CREDENTIALS, BATCHEMU_CREDENTIALS_FILE)")
    return Verifier(secrets, derived=lambda key: job_endpoint.secret_for(key) if is_account(key) else None)


def create_app(config: Config | None = None, store: Store | None = None, clock=wall_clock_ms,
               runner="from-config", start_engine: bool = True) -> Flask:
    config = config or Config()
    store = store or Store(config.db_path)
    server_id = store.meta("server_id", lambda: uuid.uuid4().hex[:12])
    job_views.forget_stale(store)
    job_views.keep_on_write(store)
    if runner == "from-config":
        runner = make_runner(config, server_id)
    # With verification on, job containers get per-account secrets derived from a key kept in
    # the store (re-attached jobs keep working across a restart).
    signing_key = (bytes.fromhex(store.meta("job_signing_key", lambda: os.urandom(32).hex()))
                   if config.verify_signatures else None)
    job_endpoint = services.job_environment(config, signing_key)  # told the bound port by the caller
    verifier = make_verifier(config, job_endpoint) if config.verify_signatures else None
    # Job containers call back on the advertised URL: its host is always one of ours.
    guard = Guard(config.host, config.allowed_hosts, config.allowed_origins,
                  extra_hosts=lambda: [url_host(job_endpoint.url())])
    scheduler = Scheduler(store, runner, clock, config.stop_grace_seconds, extra_env=job_endpoint)
    engine = Engine(scheduler, clock)
    backend = Backend(store=store, config=config, changed=engine.wake)
    batch_spec = wire_spec.load("batch")
    provider = BatchProvider(backend, batch_spec)
    batch = RestJsonEndpoint(batch_spec, provider,
                             Validator("ClientException", CASE_INSENSITIVE_ENUMS), config, clock)

    def batch_frontend(req):
        # A Batch route is Batch's whatever the signature says (a request signed for S3 gets
        # Batch's JSON answer, never S3's XML); S3 paths of a bucket named "v1" that look like
        # Batch routes are the price.
        matched = batch.match(req)
        return batch_call(req, matched) if matched else None

    def batch_call(req, matched):
        refused = guard.require_credentials(req)
        return refused if refused is not None else batch(req, matched)

    # Asked in order; the first that answers wins.
    frontends = [batch_frontend,
                 logs.make_frontend(store, config, clock, runner, gate=guard.require_credentials),
                 events.make_frontend(store, config),
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

    def refused(req):
        """Refusals before any frontend sees the request, or None."""
        answer = guard.check(req)
        if answer is None:
            answer = guard.preflight(req)  # an allowed page's CORS preflight: answered here
        if answer is None and verifier is not None:
            try:
                body = req.get_data(cache=True, parse_form_data=False)
                uploads = req.method == "POST" and req.mimetype == "multipart/form-data"
                verifier.verify(req.environ, req.headers, req.args, body, req.form if uploads else None)
            except SignatureError as err:
                answer = refusal(err.code, err.message)
        return answer

    @app.before_request
    def admit():
        return refused(request)  # a response: Flask skips the route

    @app.after_request
    def cors(response):
        guard.add_cors_headers(request, response)
        return response

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

    flask_wsgi = app.wsgi_app

    def batch_wsgi(environ, start_response):
        """Batch routes without Flask's per-request machinery (request and app contexts, URL
        map, signals: ~0.1 ms of a SubmitJob's server CPU, bench/README.md), through the same
        steps as the Flask path (admit, batch_frontend, cors); every other request goes
        through Flask."""
        req = app.request_class(environ)
        matched = batch.match(req)
        if not matched:
            return flask_wsgi(environ, start_response)
        try:
            response = refused(req)
            if response is None:
                response = batch_call(req, matched)
            guard.add_cors_headers(req, response)
        except Exception as exc:  # as Flask would: JSON, never HTML
            response = unexpected(exc)
        return response(environ, start_response)

    app.wsgi_app = batch_wsgi
    return app
