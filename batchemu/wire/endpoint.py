"""One HTTP endpoint class for every AWS JSON protocol: match the request, build the request
context, parse, validate, call the service's handler, serialize, and turn every failure into
the protocol's JSON error (never an HTML page, never a bare 500).

What differs between protocols is a `Protocol` (REST_JSON for Batch, AWS_JSON_1_1 for
CloudWatch Logs): how a request names its operation, how its parameters are read, how a result
is written and the response's content type. The request skeleton exists once, here.
Knows no service and no operation.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Callable

from flask import Request, Response

from batchemu.context import RequestContext
from batchemu.wire import awsjson, restjson
from batchemu.wire.auth import identify
from batchemu.wire.errors import ApiError
from batchemu.wire.spec import ServiceSpec
from batchemu.wire.validate import Validator

log = logging.getLogger("batchemu.wire")


@dataclass(frozen=True)
class Protocol:
    """How one protocol reads a request and writes a response.

    `match(spec, request)` -> a target (None: not this service's request);
    `operation(spec, target)` -> (OperationModel, uri params), or raises ApiError for a target
    the model does not define; `parse(op, request, uri_params, error_code)` -> params;
    `serialize(op, result)` -> body bytes."""

    name: str
    content_type: str
    match: Callable
    operation: Callable
    parse: Callable
    serialize: Callable


def _rest_operation(spec, target):
    return target  # spec.match already returned (operation, uri params)


def _rest_parse(op, request, uri_params, error_code):
    return restjson.parse(op, request.get_data(), uri_params, request.args, request.headers, error_code)


def _target_match(spec, request):
    """json-1.1: `X-Amz-Target: <targetPrefix>.<Operation>` on a POST names the operation."""
    if request.method != "POST":
        return None
    prefix, _, name = request.headers.get(awsjson.TARGET, "").partition(".")
    return name if prefix == spec.model.metadata["targetPrefix"] and name else None


def _target_operation(spec, name):
    if name not in spec.operation_names:
        # What AWS json services answer for a target they do not know.
        raise ApiError(f"{spec.model.metadata['targetPrefix']}.{name} is not an operation of this service",
                       code="UnknownOperationException", status=400)
    return spec.operation(name), {}


def _target_parse(op, request, uri_params, error_code):
    return awsjson.parse(op, request.get_data(), error_code)


REST_JSON = Protocol("rest-json", restjson.JSON,
                     match=lambda spec, request: spec.match(request.method, request.path),
                     operation=_rest_operation, parse=_rest_parse, serialize=restjson.serialize)
AWS_JSON_1_1 = Protocol("json-1.1", awsjson.CONTENT_TYPE, match=_target_match,
                        operation=_target_operation, parse=_target_parse, serialize=awsjson.serialize)


class Endpoint:
    """One service on the shared endpoint. `handler(ctx, operation_name, params) -> dict`
    raises ApiError for service errors; anything else is a bug, answered with
    `server_error_code` (HTTP 500) and logged with its traceback."""

    def __init__(self, spec: ServiceSpec, protocol: Protocol, handler, validator: Validator, config,
                 clock, server_error_code: str = "ServerException"):
        self.spec = spec
        self.protocol = protocol
        self.handler = handler
        self.validator = validator
        self.config = config
        self.clock = clock  # () -> epoch milliseconds
        self.server_error_code = server_error_code

    def match(self, request: Request):
        """The protocol's target for a request addressed to this service, else None."""
        return self.protocol.match(self.spec, request)

    def __call__(self, request: Request, target) -> Response:
        request_id = str(uuid.uuid4())
        name = None
        try:
            op, uri_params = self.protocol.operation(self.spec, target)
            name = op.name
            caller = identify(request.headers, request.args,
                              self.config.default_account, self.config.default_region)
            ctx = RequestContext(account=caller.account, region=caller.region,
                                 request_id=request_id, now_ms=self.clock())
            params = self.protocol.parse(op, request, uri_params, self.validator.error_code)
            self.validator.validate(params, op.input_shape)
            result = self.handler(ctx, name, params)
            return self._response(200, self.protocol.serialize(op, result), request_id)
        except ApiError as err:
            return self.error(err.status, err.code, err.message, request_id)
        except Exception:  # a bug of ours: say so in JSON, keep the traceback in the log
            log.exception("unexpected error in %s (request %s)", name, request_id)
            return self.error(500, self.server_error_code,
                              f"Internal error while handling {name}; see the server log "
                              f"(request id {request_id})", request_id)

    def error(self, status: int, code: str, message: str, request_id: str | None = None) -> Response:
        return json_error(status, code, message, request_id, self.protocol.content_type)

    def _response(self, status: int, body: bytes, request_id: str) -> Response:
        return _response(status, body, request_id, self.protocol.content_type)


def json_error(status: int, code: str, message: str, request_id: str | None = None,
               content_type: str = restjson.JSON) -> Response:
    """An AWS JSON error response: `{"__type", "message"}`, x-amzn-ErrorType and a request id
    (the same body in rest-json and json-1.1; also used for answers no service gives, e.g.
    the guard's 403 and app.py's 404/405)."""
    resp = _response(status, restjson.error_body(code, message), request_id or str(uuid.uuid4()),
                     content_type)
    resp.headers["x-amzn-ErrorType"] = code
    return resp


def _response(status: int, body: bytes, request_id: str, content_type: str) -> Response:
    resp = Response(body, status=status, content_type=content_type)
    resp.headers["x-amzn-RequestId"] = request_id
    return resp
