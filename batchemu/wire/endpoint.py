"""An HTTP endpoint for one rest-json service: match the route, build the request context,
parse, validate, call the service's handler, serialize, and turn every failure into the
protocol's JSON error (never an HTML page, never a bare 500).
"""

from __future__ import annotations

import logging
import uuid

from flask import Request, Response

from batchemu.context import RequestContext
from batchemu.wire import restjson
from batchemu.wire.auth import identify
from batchemu.wire.errors import ApiError
from batchemu.wire.spec import ServiceSpec
from batchemu.wire.validate import Validator

log = logging.getLogger("batchemu.wire")


class RestJsonEndpoint:
    def __init__(self, spec: ServiceSpec, handler, validator: Validator, config, clock):
        self.spec = spec
        self.handler = handler  # handler(ctx, operation_name, params) -> dict
        self.validator = validator
        self.config = config
        self.clock = clock  # () -> epoch milliseconds

    def match(self, request: Request):
        return self.spec.match(request.method, request.path)

    def __call__(self, request: Request, matched) -> Response:
        request_id = str(uuid.uuid4())
        op, uri_params = matched
        try:
            caller = identify(request.headers, request.args,
                              self.config.default_account, self.config.default_region)
            ctx = RequestContext(account=caller.account, region=caller.region,
                                 request_id=request_id, now_ms=self.clock())
            params = restjson.parse(op, request.get_data(), uri_params, request.args,
                                    request.headers, self.validator.error_code)
            self.validator.validate(params, op.input_shape)
            result = self.handler(ctx, op.name, params)
            return self._response(200, restjson.serialize(op, result), request_id)
        except ApiError as err:
            return self.error(err.status, err.code, err.message, request_id)
        except Exception:  # a bug of ours: say so in JSON, keep the traceback in the log
            log.exception("unexpected error in %s (request %s)", op.name, request_id)
            return self.error(500, "ServerException",
                              f"Internal error while handling {op.name}; see the server log "
                              f"(request id {request_id})", request_id)

    @staticmethod
    def error(status: int, code: str, message: str, request_id: str | None = None) -> Response:
        request_id = request_id or str(uuid.uuid4())
        resp = RestJsonEndpoint._response(status, restjson.error_body(code, message), request_id)
        resp.headers["x-amzn-ErrorType"] = code
        return resp

    @staticmethod
    def _response(status: int, body: bytes, request_id: str) -> Response:
        resp = Response(body, status=status, mimetype=restjson.JSON)
        resp.headers["x-amzn-RequestId"] = request_id
        return resp
