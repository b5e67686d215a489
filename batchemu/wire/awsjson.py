"""json-1.1 protocol (e.g. CloudWatch Logs): the operation named by `X-Amz-Target:
<targetPrefix>.<Operation>`, a JSON body parsed against the operation's input shape, a result
filtered to its output shape. The request skeleton and errors are wire.endpoint's
(`Endpoint` with `AWS_JSON_1_1`).

Driven by the botocore model only: knows no operation and no service rule.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json

from botocore.model import OperationModel, Shape

from batchemu.wire import jsonbody
from batchemu.wire.errors import ApiError

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET = "X-Amz-Target"


def parse(op: OperationModel, body: bytes, error_code: str) -> dict:
    """The request body as a params dict keyed by member name (unknown members dropped, a
    member sent as null is a member not sent, blobs base64-decoded, timestamps as datetimes)."""
    shape = op.input_shape
    if shape is None or not body.strip():
        return {}
    doc = jsonbody.load(body, error_code)  # UTF-8, finite numbers, no lone surrogates, bounded depth
    if not isinstance(doc, dict):
        raise ApiError("The request body must be a JSON object", code=error_code, status=400)
    return _read(doc, shape, error_code, "")


def serialize(op: OperationModel, result: dict | None) -> bytes:
    shape = op.output_shape
    if shape is None or not result:
        return b"{}"
    return json.dumps(_write(result, shape), separators=(",", ":")).encode()


def _read(value, shape: Shape, error_code: str, path: str):
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        out = {}
        wire_names = {m.serialization.get("name", n): n for n, m in shape.members.items()}
        for wire_name, item in value.items():
            name = wire_names.get(wire_name)
            if name is not None and item is not None:
                out[name] = _read(item, shape.members[name], error_code,
                                  f"{path}.{name}" if path else name)
        return out
    if kind == "list" and isinstance(value, list):
        return [_read(v, shape.member, error_code, f"{path}[{i}]") for i, v in enumerate(value)]
    if kind == "map" and isinstance(value, dict):
        return {k: _read(v, shape.value, error_code, f"{path}.{k}") for k, v in value.items()}
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(f"Invalid value for parameter {path}: not base64", code=error_code, status=400)
    if kind == "timestamp" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    return value  # scalars (and wrong types, which validation reports)


def _write(value, shape: Shape):
    """Keep only what the shape defines; drop None. Output is exactly the model's shape."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return value
        out = {}
        for name, member in shape.members.items():
            item = value.get(name)
            if item is not None:
                out[member.serialization.get("name", name)] = _write(item, member)
        return out
    if kind == "list":
        return [_write(v, shape.member) for v in value] if isinstance(value, list) else value
    if kind == "map":
        return {k: _write(v, shape.value) for k, v in value.items()} if isinstance(value, dict) else value
    if kind == "blob" and isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if kind == "timestamp" and isinstance(value, datetime.datetime):
        return value.timestamp()  # json protocol: epoch seconds
    return value
