"""rest-json protocol (AWS Batch): parse a request into a params dict, serialize a result
filtered to the output shape, and shape errors the way botocore parses them (ref §1.3, §1.4).

Keys stay as the model's member names (camelCase). Knows no Batch semantics.
"""

from __future__ import annotations

import json
import math
from urllib.parse import unquote

from botocore.model import OperationModel, Shape

from batchemu.wire import jsonbody
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


class RawJson(str):
    """JSON text that is already what the wire sends for its shape (filtered, no nulls), e.g. a
    page of JobSummaries kept from earlier answers. serialize() writes it as it is, without
    decoding and encoding it again. Only as the value of a top-level member of a result."""

    __slots__ = ()


def serialize(op: OperationModel, result: dict | None) -> bytes:
    shape = op.output_shape
    if shape is None or not result:
        return b"{}"
    out = _filter(result, shape)  # a RawJson value passes the filter as it is (it is a str)
    if not any(isinstance(v, RawJson) for v in out.values()):
        return json.dumps(out, separators=(",", ":")).encode()
    return ("{" + ",".join(json.dumps(k) + ":" + (v if isinstance(v, RawJson) else
                                                  json.dumps(v, separators=(",", ":")))
                           for k, v in out.items()) + "}").encode()


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"__type": code, "message": message}).encode()


def filter_to_shape(value, shape: Shape):
    """`value` reduced to what `shape` defines, Nones dropped: what the wire would send (used
    outside responses too, e.g. the JobDetail inside EventBridge events)."""
    return _filter(value, shape)


def _filter(value, shape: Shape):
    """Keep only what the shape defines; drop None. Output is exactly the model's shape."""
    return _plan(shape)(value)


# (model, shape name) -> (model's shape resolver, filter function). A filter is compiled once
# per shape, because walking the model for every value made the output filter most of
# DescribeJobs/ListJobs time (bench/). Keyed by name, not by Shape object: `shape_for()` makes
# a new Shape on every call. The resolver is kept alive with its plans so its id is not reused.
_PLANS: dict = {}


def _plan(shape: Shape):
    resolver = getattr(shape, "_shape_resolver", shape)
    key = (id(resolver), shape.name)
    entry = _PLANS.get(key)
    if entry is None:
        entry = _PLANS[key] = (resolver, _compile(shape, {}) or _same)
    return entry[1]


def _same(value):
    return value


def _compile(shape: Shape, seen: dict):
    """A function value -> filtered value for `shape`, or None when the value passes as it is
    (scalars). `seen` ties recursive structures to the function being built."""
    kind = shape.type_name
    if kind == "structure":
        if shape.name in seen:
            return seen[shape.name]
        members = {}

        def structure(value):
            if not isinstance(value, dict):
                return value
            out = {}
            for name, item in value.items():
                member = members.get(name)
                if member is not None and item is not None:
                    out[member[0]] = item if member[1] is None else member[1](item)
            return out

        seen[shape.name] = structure
        for name, member in shape.members.items():
            members[name] = (member.serialization.get("name", name), _compile(member, seen))
        return structure
    if kind == "list":
        inner = _compile(shape.member, seen)

        def listing(value):
            if not isinstance(value, list):
                return value
            if inner is None or not value:
                return list(value)
            return [inner(v) for v in value]
        return listing
    if kind == "map":
        inner = _compile(shape.value, seen)

        def mapping(value):
            if not isinstance(value, dict):
                return value
            return dict(value) if inner is None else {k: inner(v) for k, v in value.items()}
        return mapping
    return None


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
