"""rest-json protocol (AWS Batch): parse a request into a params dict, serialize a result
filtered to the output shape, and shape errors the way botocore parses them (ref §1.3, §1.4).

Keys stay as the model's member names (camelCase). The output filter is wire.render's (public:
views and events render with it too). Knows no Batch semantics.
"""

from __future__ import annotations

import json
import math
from urllib.parse import unquote

from botocore.model import OperationModel, Shape

from batchemu.wire import jsonbody, render
from batchemu.wire.errors import ApiError

JSON = "application/json"


def parse(op: OperationModel, body: bytes, uri_params: dict, query, headers,
          error_code: str = "ClientException") -> dict:
    shape = op.input_shape
    params: dict = {}
    if shape is None:
        return params
    body_members = {m.serialization.get("name", n): n for n, m in shape.members.items()
                    if not m.serialization.get("location")}
    if body_members and body.strip():
        doc = jsonbody.load(body, error_code)  # UTF-8, finite numbers, no lone surrogates, bounded depth
        if not isinstance(doc, dict):
            raise ApiError("The request body must be a JSON object", code=error_code, status=400)
        for wire_name, value in doc.items():
            if wire_name in body_members and value is not None:
                name = body_members[wire_name]
                params[name] = _without_nulls(value, shape.members[name])
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri" and wire_name in uri_params:
            # The path arrives decoded once; a label encoded twice (rare SDKs) is decoded again.
            params[name] = unquote(uri_params[wire_name])
        elif location == "querystring":
            values = query.getlist(wire_name)
            if values:
                params[name] = _scalar_list(values, member) if member.type_name == "list" else \
                    _scalar(values[0], member, error_code, name)
        elif location == "header" and wire_name in headers:
            params[name] = _scalar(headers[wire_name], member, error_code, name)
    return params


def serialize(op: OperationModel, result: dict | None) -> bytes:
    shape = op.output_shape
    if shape is None or not result:
        return b"{}"
    out = render.to_shape(result, shape)  # a Rendered value passes the filter as it is (a str)
    if not any(isinstance(v, render.Rendered) for v in out.values()):
        return json.dumps(out, separators=(",", ":")).encode()
    return ("{" + ",".join(json.dumps(k) + ":" + (v if isinstance(v, render.Rendered) else
                                                  json.dumps(v, separators=(",", ":")))
                           for k, v in out.items()) + "}").encode()


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"__type": code, "message": message}).encode()


def _without_nulls(value, shape: Shape):
    """A structure member sent as JSON null is a member not sent (Smithy protocol test
    `*ServersDontDeserializeNullStructureValues`); nulls inside lists and maps stay and fail
    validation."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: (_without_nulls(v, shape.members[k]) if k in shape.members else v)
                for k, v in value.items() if v is not None}
    if kind == "list" and isinstance(value, list):
        return [_without_nulls(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _without_nulls(v, shape.value) for k, v in value.items()}
    return value


def _scalar(raw: str, member: Shape, error_code: str, name: str):
    kind = member.type_name
    try:
        if kind in ("integer", "long"):
            return int(raw)
        if kind in ("double", "float"):
            number = float(raw)
            if not math.isfinite(number):  # "nan", "inf": not JSON numbers (see jsonbody)
                raise ValueError(raw)
            return number
    except ValueError:
        raise ApiError(f"Invalid value for parameter {name}: {raw!r} is not a number",
                       code=error_code, status=400)
    if kind == "boolean":
        return raw.lower() == "true"
    return raw


def _scalar_list(values, member: Shape):
    return [_scalar(v, member.member, "ClientException", "") for v in values]
