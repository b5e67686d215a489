"""A request body read as JSON under the rules every AWS JSON protocol shares, so that nothing a
client sends can reach a service as a value JSON cannot carry back out.

Refused with the protocol's client error (HTTP 400), never a 500:
* bytes that are not UTF-8 (AWS JSON bodies are UTF-8; no UTF-16/32 guessing);
* `NaN`, `Infinity` and numbers too large for a double (`1e999`): not JSON numbers, and a
  stored infinity could not be written out again;
* a lone UTF-16 surrogate (`"\\ud800"`): not a Unicode character, cannot be encoded as UTF-8;
* nesting deeper than MAX_DEPTH (Python's parser would raise RecursionError near 1,000).

Knows no service and no shape: integer ranges per shape are validate.py's job.
"""

from __future__ import annotations

import json
import math
import re

from batchemu.wire.errors import ApiError

# Deeper than any input shape of the models served (Batch's deepest is ~12 levels), far below
# the interpreter's recursion limit.
MAX_DEPTH = 64
# A JSON escape that can only produce half of a surrogate pair; a body without one cannot hold
# a lone surrogate (strict UTF-8 decoding already refuses surrogates encoded as bytes).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class _Refused(ValueError):
    pass


def _constant(name: str):
    raise _Refused(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Refused(f"number {text[:40]} is out of range for a double")
    return number


def load(body: bytes, error_code: str):
    """The decoded JSON document of `body` (any JSON value; callers check it is an object)."""
    def refuse(reason: str):
        return ApiError(f"The request body is not valid JSON: {reason}", code=error_code, status=400)
    try:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
    except UnicodeDecodeError as exc:
        raise refuse(f"it is not UTF-8 ({exc.reason} at byte {exc.start})")
    try:
        doc = json.loads(text, parse_constant=_constant, parse_float=_finite)
    except RecursionError:
        raise refuse(f"it is nested more than {MAX_DEPTH} levels deep")
    except ValueError as exc:  # JSONDecodeError, _Refused, int() of more than 4,300 digits
        raise refuse(str(exc))
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(doc) > MAX_DEPTH:
        raise refuse(f"it is nested more than {MAX_DEPTH} levels deep")
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise refuse("it contains a lone UTF-16 surrogate (\\ud800-\\udfff), which is not a "
                          "Unicode character")
    return doc


def _depth(doc) -> int:
    """Nesting depth of a decoded document, without recursion."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((v, level + 1) for v in value if isinstance(v, (dict, list)))
    return deepest
