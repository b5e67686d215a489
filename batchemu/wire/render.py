"""Render a value the way the wire sends it for a model shape: the public API for code outside
the wire layer that keeps or forwards wire-shaped views (batch/job_views.py keeps rendered
JobDetail/JobSummary texts; events.py puts a JobDetail inside EventBridge events).

    to_shape(value, shape) -> value   only what the shape defines, Nones dropped
    to_json(value, shape)  -> str     the same as compact JSON text
    Rendered(text)                    JSON text already in its shape: restjson.serialize writes
                                      it as it is (as the value of a top-level result member)
    json_list(texts)       -> Rendered  a JSON array of rendered texts

The shape filter used by restjson.serialize is this one, so a kept view and a fresh answer
cannot differ. Knows no service: shapes come from botocore models.
"""

from __future__ import annotations

import json
from typing import Iterable

from botocore.model import Shape


class Rendered(str):
    """JSON text that is already what the wire sends for its shape (filtered, no nulls), e.g. a
    page of JobSummaries kept from earlier answers. restjson.serialize() writes it as it is,
    without decoding and encoding it again. Only as the value of a top-level member of a result."""

    __slots__ = ()


def to_shape(value, shape: Shape):
    """`value` reduced to what `shape` defines, Nones dropped: what the wire would send. Output
    is exactly the model's shape."""
    return _plan(shape)(value)


def to_json(value, shape: Shape) -> str:
    """to_shape() as compact JSON text, as a response body would carry it."""
    return json.dumps(to_shape(value, shape), separators=(",", ":"))


def json_list(texts: Iterable[str]) -> Rendered:
    """A JSON array of already rendered texts, itself rendered."""
    return Rendered("[" + ",".join(texts) + "]")


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
