"""Enum constants in our code are spelled as the botocore model spells them (DESIGN.md,
Conventions): every module-level collection of UPPER_CASE strings in the batchemu package that
uses any model enum value must lie inside one enum of the `batch` model (so a misspelt state
next to correct ones fails), and the known full sets must equal their enum."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import batchemu
from batchemu.batch import compute_environments
from batchemu.batch.provider import CASE_INSENSITIVE_ENUMS
from batchemu.wire import spec as wire_spec

MODEL = wire_spec.load("batch").model
TOKEN = re.compile(r"[A-Z][A-Z0-9_]+")
# Constants that share a value with a model enum but deliberately are not one, with the reason.
NOT_MODEL_ENUMS: set = set()


def model_enums() -> dict[str, frozenset]:
    enums = {}
    for name in MODEL.shape_names:
        shape = MODEL.shape_for(name)
        if shape.type_name == "string" and shape.enum:
            enums[name] = frozenset(shape.enum)
    return enums


ENUMS = model_enums()
ALL_VALUES = frozenset().union(*ENUMS.values())


def enum_like_constants():
    """(module, name, values) for every module-level constant that is a collection of (or a
    dict keyed by) UPPER_CASE string tokens, at least one of them a model enum value."""
    found = []
    for info in pkgutil.walk_packages(batchemu.__path__, "batchemu."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if not name.isupper() or (module.__name__, name) in NOT_MODEL_ENUMS:
                continue
            if isinstance(value, dict):
                value = list(value)
            if not isinstance(value, (tuple, list, set, frozenset)) or not value:
                continue
            if all(isinstance(v, str) and TOKEN.fullmatch(v) for v in value) and \
                    any(v in ALL_VALUES for v in value):
                found.append((module.__name__, name, frozenset(value)))
    return found


CONSTANTS = enum_like_constants()


def test_the_scan_finds_the_known_constants():
    names = {(m, n) for m, n, _ in CONSTANTS}
    assert ("batchemu.batch.compute_environments", "EC2_TYPES") in names
    assert ("batchemu.batch.compute_environments", "FARGATE_TYPES") in names
    assert ("batchemu.batch.compute_environments", "INFRA_STRATEGIES") in names


@pytest.mark.parametrize("module, name, values", CONSTANTS,
                         ids=[f"{m}.{n}" for m, n, _ in CONSTANTS])
def test_constant_lies_inside_a_model_enum(module, name, values):
    homes = [shape for shape, allowed in ENUMS.items() if values <= allowed]
    assert homes, (f"{module}.{name} = {sorted(values)} is not inside any enum of the batch "
                   f"model; spell the values as AWS does, or list it in NOT_MODEL_ENUMS with why")


def test_compute_resource_types_are_exactly_crtype():
    ec2, fargate = set(compute_environments.EC2_TYPES), set(compute_environments.FARGATE_TYPES)
    managed = set(compute_environments.MANAGED_INSTANCES_TYPES)
    assert not ec2 & fargate and not (ec2 | fargate) & managed
    assert ec2 | fargate | managed == ENUMS["CRType"]


def test_infrastructure_update_strategies_are_the_update_strategies():
    assert set(compute_environments.INFRA_STRATEGIES) == ENUMS["CRUpdateAllocationStrategy"]
    assert "BEST_FIT" in ENUMS["CRAllocationStrategy"] - set(compute_environments.INFRA_STRATEGIES)


def test_case_insensitive_enums_name_model_enums():
    for shape in CASE_INSENSITIVE_ENUMS:
        assert shape in ENUMS, f"{shape} is not an enum shape of the batch model"


def test_job_statuses_equal_the_model():
    try:
        states = importlib.import_module("batchemu.engine.states")
    except ModuleNotFoundError:
        pytest.skip("batchemu.engine.states is not written yet")
    assert set(states.ALL) == ENUMS["JobStatus"]
    assert set(states.TRANSITIONS) == ENUMS["JobStatus"]
