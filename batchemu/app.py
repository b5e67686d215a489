"""create_app(frontends, guard, verifier, batch_spec): the Flask app around the frontends the
composition root (emulator.py) built. Builds no part itself.

Before any frontend, every request passes the wire guard (Host and Origin: no web page, no
DNS rebinding) and, with --verify-signatures, the SigV4 check. Routing: an ordered list of
frontends, each `(request) -> Response | None`: Batch (by route), CloudWatch Logs (by
X-Amz-Target), the event stream, other AWS services (moto). Nothing answered: JSON 405/404.
No Batch rule lives in this module.
"""

from __future__ import annotations

import logging

from flask import Flask, request

from batchemu.wire.auth import SignatureError, Verifier
from batchemu.wire.endpoint import json_error
from batchemu.wire.guard import Guard, refusal
from batchemu.wire.spec import ServiceSpec

log = logging.getLogger("batchemu")


def create_app(frontends: list, guard: Guard, verifier: Verifier | None, batch_spec: ServiceSpec) -> Flask:
    """`frontends` are asked in order, the first answer wins; `batch_spec`'s routes say which
    methods a 405 lists."""
    app = Flask("batchemu")

    @app.before_request
    def admit():
        """Refusals before any frontend sees the request (Flask skips the route on a response)."""
        refused = guard.check(request)
        if refused is None:
            refused = guard.preflight(request)  # an allowed page's CORS preflight: answered here
        if refused is None and verifier is not None:
            try:
                body = request.get_data(cache=True, parse_form_data=False)
                uploads = request.method == "POST" and request.mimetype == "multipart/form-data"
                verifier.verify(request.environ, request.headers, request.args, body,
                                request.form if uploads else None)
            except SignatureError as err:
                refused = refusal(err.code, err.message)
        return refused

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

    return app
