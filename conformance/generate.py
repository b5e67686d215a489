"""Requests generated from botocore's batch model: the required members of an input shape with
type-correct values inside the model's enums and bounds, and the two kinds of invalid request
the sweep sends raw (a required member left out; a member of the wrong JSON type).

Knows the model only; the server state a request refers to comes from world.py.
"""

from __future__ import annotations

import uuid

from botocore.model import Shape


def required(shape: Shape | None) -> dict:
    """The required members of a structure, filled in (recursively)."""
    if shape is None:
        return {}
    return {name: value(shape.members[name], name) for name in shape.required_members}


def value(shape: Shape, name: str = ""):
    kind, meta = shape.type_name, shape.metadata
    if kind == "structure":
        return required(shape)
    if kind == "list":
        return [value(shape.member, name) for _ in range(max(meta.get("min", 1), 1))]
    if kind == "map":
        return {f"key{i}": value(shape.value, name) for i in range(max(meta.get("min", 1), 1))}
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        text = f"gen{uuid.uuid4().hex[:8]}" if name.lower().endswith("name") else "generated"
        text = text.ljust(meta.get("min", 0), "x")
        return text[:meta["max"]] if "max" in meta else text
    if kind in ("integer", "long"):
        number = max(meta.get("min", 1), 1)
        return min(number, meta["max"]) if "max" in meta else number
    if kind in ("float", "double"):
        return float(meta.get("min", 1))
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return 0
    raise ValueError(f"no generated value for a {kind} ({shape.name})")


def wrong_type(shape: Shape):
    """A JSON value no member of this shape's type accepts."""
    return 12345 if shape.type_name == "string" else "not-a-" + shape.type_name


def body_or_query(shape: Shape, name: str) -> bool:
    return shape.members[name].serialization.get("location") != "uri"


def missing_member(input_shape: Shape | None) -> str | None:
    """A required member that can be left out of the request (URI labels can't: no route)."""
    if input_shape is None:
        return None
    for name in input_shape.required_members:
        if body_or_query(input_shape, name):
            return name
    return None


def retypable_member(input_shape: Shape | None) -> str | None:
    """A member sent in the JSON body (where a wrong JSON type is expressible), required first."""
    if input_shape is None:
        return None
    in_body = [n for n, m in input_shape.members.items() if m.serialization.get("location") is None]
    for name in list(input_shape.required_members) + in_body:
        if name in in_body:
            return name
    return None
