"""The request/response examples AWS ships in botocore's batch model (examples-1.json), moved
into a test's account, and a containment check for comparing a real response with one.

The examples show the real service's answers for one account (012345678910, or 123456789012 in
the tag examples); ids and timestamps in them are the real service's, so tests compare the
members that don't vary, and say which ones they leave out and why.
"""

from __future__ import annotations

import copy
import json

import botocore.session

_LOADER = botocore.session.get_session().get_component("data_loader")
EXAMPLES = _LOADER.load_service_model("batch", "examples-1")["examples"]
EXAMPLE_ACCOUNTS = ("012345678910", "123456789012")


def example(operation: str, title: str, account: str) -> tuple[dict, dict]:
    """(input, output) of the example with this title, with its account replaced by `account`."""
    for item in EXAMPLES[operation]:
        if item["title"] == title:
            text = json.dumps({"input": item["input"], "output": item.get("output", {})})
            for theirs in EXAMPLE_ACCOUNTS:
                text = text.replace(theirs, account)
            found = json.loads(text)
            return found["input"], found["output"]
    raise KeyError(f"no {operation} example titled {title!r}")


def without_metadata(response: dict) -> dict:
    response = copy.deepcopy(response)
    response.pop("ResponseMetadata", None)
    return response


def assert_contains(actual, expected, path: str = "$") -> None:
    """Every member `expected` shows is in `actual` with the same value (objects may have more
    members; arrays must match item by item)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} is missing (have {sorted(actual)})"
            assert_contains(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), \
            f"{path}: expected {expected!r}, got {actual!r}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_contains(a, e, f"{path}[{i}]")
    else:
        assert actual == expected, f"{path}: expected {expected!r}, got {actual!r}"
