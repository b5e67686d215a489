"""The response filter (wire.render, used by restjson.serialize): a value reduced to its output
shape, Nones dropped, for every Batch operation; compiled once per shape (a new Shape object
from shape_for() must not add another compiled filter, or memory grows with every job event);
kept renderings written as they are."""

import json
import random

import pytest

from batchemu.wire import render, restjson, spec

MODEL = spec.load("batch").model


def reference(value, shape):
    """The plain definition: walk the model for the value."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return value
        return {m.serialization.get("name", n): reference(value[n], m)
                for n, m in shape.members.items() if value.get(n) is not None}
    if kind == "list":
        return [reference(v, shape.member) for v in value] if isinstance(value, list) else value
    if kind == "map":
        return {k: reference(v, shape.value) for k, v in value.items()} if isinstance(value, dict) else value
    return value


def generate(shape, rng, depth=0):
    kind = shape.type_name
    if kind == "structure":
        out = {"_internal": {"kept": False}}
        for name, member in shape.members.items():
            roll = rng.random()
            if roll < 0.3:
                continue
            out[name] = None if roll < 0.4 or depth > 6 else generate(member, rng, depth + 1)
        return out
    if kind == "list":
        return [generate(shape.member, rng, depth + 1) for _ in range(rng.randint(0, 3))] + [None] * rng.randint(0, 1)
    if kind == "map":
        return {f"k{i}": generate(shape.value, rng, depth + 1) for i in range(rng.randint(0, 2))}
    return rng.choice(["text", 7, 2.5, True, None])


@pytest.mark.parametrize("operation", [op for op in MODEL.operation_names
                                       if MODEL.operation_model(op).output_shape is not None])
def test_filter_matches_the_plain_walk(operation):
    shape = MODEL.operation_model(operation).output_shape
    rng = random.Random(operation)
    for _ in range(20):
        value = generate(shape, rng)
        assert render.to_shape(value, shape) == reference(value, shape)


def test_internal_keys_and_nones_are_dropped():
    shape = MODEL.shape_for("JobDetail")
    doc = {"jobId": "j", "status": "RUNNABLE", "statusReason": None, "_account": "1",
           "container": {"image": "busybox", "exitCode": None, "environment": [], "_secret": 1}}
    assert render.to_shape(doc, shape) == {
        "jobId": "j", "status": "RUNNABLE", "container": {"image": "busybox", "environment": []}}


def test_fresh_shape_objects_reuse_one_compiled_filter():
    render.to_shape({"jobId": "j"}, MODEL.shape_for("JobDetail"))
    before = len(render._PLANS)
    for _ in range(50):
        render.to_shape({"jobId": "j"}, MODEL.shape_for("JobDetail"))
    assert len(render._PLANS) == before


def test_a_kept_rendering_is_sent_as_it_is_and_equals_a_fresh_one():
    detail = {"jobId": "j", "status": "RUNNABLE", "statusReason": None, "_account": "1"}
    text = render.to_json(detail, MODEL.shape_for("JobDetail"))
    assert text == '{"jobId":"j","status":"RUNNABLE"}'
    op = MODEL.operation_model("DescribeJobs")
    kept = restjson.serialize(op, {"jobs": render.json_list([text, text])})
    fresh = restjson.serialize(op, {"jobs": [detail, detail]})
    assert kept == fresh
    assert json.loads(kept) == {"jobs": [{"jobId": "j", "status": "RUNNABLE"}] * 2}
