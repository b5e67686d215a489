"""create_app(frontends, guard, verifier, batch_spec): the Flask app around the frontends the
composition root (emulator.py) built. Builds no part itself.

Before any frontend, every request passes the wire guard (Host and Origin: no web page, no
DNS rebinding) and, with --verify-signatures, the SigV4 check. Routing: an ordered list of
frontends, each `(request) -> Response | None`: Batch (by route), CloudWatch Logs (by
X-Amz-Target), the event stream, other AWS services (moto). Nothing answered: JSON 405/404.
GET /batchemu/health answers 200 for health checks (the container image's HEALTHCHECK).
No Batch rule lives in this module.
"""

from __future__ import annotations

import logging

from flask import Flask, request

from batchemu import __version__
from batchemu.wire.auth import SignatureError, Verifier
from batchemu.wire.endpoint import json_error
from batchemu.wire.guard import Guard, refusal
from batchemu.wire.spec import ServiceSpec

log = logging.getLogger("batchemu")
HEALTH_PATH = "/batchemu/health"


def create_app(frontends: list, guard: Guard, verifier: Verifier | None, batch_spec: ServiceSpec,
               direct=None, public=None) -> Flask:
    """`frontends` are asked in order, the first answer wins; `batch_spec`'s routes say which
    methods a 405 lists. `direct`, the frontend of `batch_spec`'s routes, answers them without
    Flask's per-request machinery (the same refusals and CORS headers; see batch_wsgi).
    `public(request)` says which requests need no signature even with --verify-signatures (the
    dashboard's static files: a browser cannot sign a page load); the guard still applies."""
    app = Flask("batchemu")

    def refused(req):
        """Refusals before any frontend sees the request, or None."""
        answer = guard.check(req)
        if answer is None:
            answer = guard.preflight(req)  # an allowed page's CORS preflight: answered here
        # The health route needs no signature: a container's HEALTHCHECK or an orchestrator's
        # probe holds no AWS key, and the answer tells nothing but that the server is up.
        if (answer is None and verifier is not None and not _is_health(req)
                and not (public is not None and public(req))):
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

    @app.route(HEALTH_PATH, methods=["GET", "HEAD"], provide_automatic_options=False)
    def health():
        # A liveness answer for the image's HEALTHCHECK and orchestrators' probes: this server
        # accepts and answers HTTP. Behind the guard like every route (Host: localhost passes),
        # needs no credentials, reads no state, so a probe every few seconds costs nothing.
        return {"status": "ok", "version": __version__}

    # OPTIONS too: Flask's automatic answer is a text/html 200 claiming every method is allowed.
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]

    @app.route("/", defaults={"path": ""}, methods=methods, provide_automatic_options=False)
    @app.route("/<path:path>", methods=methods, provide_automatic_options=False)
    def dispatch(path):
        for frontend in frontends:
            response = frontend(request)
            if response is not None:
                return response
        allowed = batch_spec.methods_for(request.path)
        if allowed:
            resp = json_error(405, "ClientException",
                              f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}")
            resp.headers["Allow"] = ", ".join(allowed)  # RFC 9110 §15.5.6: a 405 lists them
            return resp
        return json_error(404, "UnknownOperationException",
                          f"No operation matches {request.method} {request.path}")

    @app.errorhandler(Exception)
    def unexpected(exc):  # anything Flask itself raises: still JSON, never HTML
        code = getattr(exc, "code", 500)
        if not isinstance(code, int):
            code = 500
        if code >= 500:
            log.exception("unexpected error")
        return json_error(code, "ServerException" if code >= 500 else "ClientException", str(exc))

    if direct is not None:
        flask_wsgi = app.wsgi_app

        def batch_wsgi(environ, start_response):
            """Batch routes without Flask's request and app contexts, URL map and signals (~0.1
            ms of a SubmitJob's server CPU, bench/README.md), through the same steps as the
            Flask path (admit, the frontend, cors); every other request goes through Flask."""
            req = app.request_class(environ)
            if batch_spec.match(req.method, req.path) is None:
                return flask_wsgi(environ, start_response)
            try:
                response = refused(req)
                if response is None:
                    response = direct(req)
                guard.add_cors_headers(req, response)
            except Exception as exc:  # as Flask would: JSON, never HTML
                response = unexpected(exc)
            return response(environ, start_response)

        app.wsgi_app = batch_wsgi
    return app


def _is_health(req) -> bool:
    return req.path == HEALTH_PATH and req.method in ("GET", "HEAD")
