"""Input validation against the operation's input shape.

botocore's ParamValidator checks required members and types; this module adds what botocore
leaves to the server: enums, min/max lengths and ranges, empty required strings, booleans
passed for numbers. Unknown members are ignored, as AWS services do, so that a newer SDK
keeps working. Raises ApiError(validation_code, message naming the member and the rule).
"""

from __future__ import annotations

import functools
import math
import re

from botocore.model import Shape
from botocore.validate import ParamValidator

from batchemu.wire.errors import ApiError

_botocore = ParamValidator()
# Bits of each Java integer type: valid values are -2**(bits-1) <= v < 2**(bits-1).
_BITS = {"integer": 32, "long": 64}


class Validator:
    def __init__(self, error_code: str = "ClientException", case_insensitive_enums=(),
                 patterns: bool = False, empty_allowed=()):
        self.error_code = error_code
        # (input shape name, member path) pairs where the service accepts an empty list/map
        # although the model says `min: 1` (a service quirk the service package declares and
        # justifies; the wire layer does not know which ones they are).
        self.empty_allowed = frozenset(empty_allowed)
        # Check string members against the model's `pattern` trait too (whole value), for
        # services whose server enforces them (CloudWatch Logs names); off for Batch.
        self.patterns = patterns
        # Shapes whose enum values the service accepts in any case (a service quirk the
        # service package declares; the wire layer does not know which ones they are).
        self.case_insensitive_enums = frozenset(case_insensitive_enums)

    def validate(self, params: dict, shape: Shape | None) -> None:
        if shape is None:
            return
        problems = []
        report = _botocore.validate(params, shape)
        # One problem per botocore error (a value with a newline in it stays one problem).
        # Unknown members are ignored; botocore's min checks are left to _walk, which checks
        # min and max in AWS's words (otherwise a too-short value is reported twice).
        for error in report._errors:
            if error[0] not in ("unknown field", "invalid range", "invalid length"):
                problems.append(report._format_error(error))
        empty_ok = frozenset(path for name, path in self.empty_allowed if name == shape.name)
        self._walk(params, shape, "", problems, empty_ok)
        if problems:
            head = problems[0] if len(problems) == 1 else (
                f"{len(problems)} validation errors detected: " + "; ".join(problems))
            raise ApiError(head, code=self.error_code, status=400)

    def _walk(self, value, shape: Shape, path: str, problems: list, empty_ok=frozenset()) -> None:
        if value is None:
            return
        kind = shape.type_name
        meta = shape.metadata
        where = path or "input"
        if kind == "structure" and isinstance(value, dict):
            for name in shape.required_members:
                if value.get(name) == "" and shape.members[name].type_name == "string":
                    problems.append(f'Missing required parameter in {where}: "{name}" '
                                    "(it cannot be an empty string)")
            for name, member in shape.members.items():
                if name in value:
                    self._walk(value[name], member, f"{path}.{name}" if path else name, problems,
                               empty_ok)
        elif kind == "list" and isinstance(value, list):
            self._length(len(value), meta, path, "Member must have length", problems)
            for i, item in enumerate(value):
                self._walk(item, shape.member, f"{path}[{i}]", problems, empty_ok)
        elif kind == "map" and isinstance(value, dict):
            if not (len(value) == 0 and path in empty_ok):
                self._length(len(value), meta, path, "Member must have length", problems)
            for key, item in value.items():
                self._walk(key, shape.key, f"{path}.key", problems, empty_ok)
                self._walk(item, shape.value, f"{path}.{key}", problems, empty_ok)
        elif kind == "string" and isinstance(value, str):
            if shape.enum:
                ok = value in shape.enum or (
                    shape.name in self.case_insensitive_enums
                    and value.upper() in {e.upper() for e in shape.enum})
                if not ok:
                    problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                                    f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
            self._length(len(value), meta, path, "Member must have length", problems)
            if self.patterns and meta.get("pattern") and not _matches(meta["pattern"], value):
                problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                                f"Member must satisfy regular expression pattern: {meta['pattern']}")
        elif kind in ("integer", "long", "double", "float"):
            if isinstance(value, bool):
                problems.append(f"Invalid type for parameter {path}, value: {value}, "
                                f"type: <class 'bool'>, valid types: <class 'int'>")
                return
            if isinstance(value, float) and not math.isfinite(value):
                problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                                "Member must be a finite number")
                return
            bits = _BITS.get(kind)
            if isinstance(value, int) and bits and not -2 ** (bits - 1) <= value < 2 ** (bits - 1):
                # AWS services are typed in Java: an `integer` is 32-bit and a `long` 64-bit, and
                # a wider number is refused, not stored (SQLite holds at most 64 bits either).
                problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                                f"Member must be a {bits}-bit {kind} (between {-2 ** (bits - 1)} "
                                f"and {2 ** (bits - 1) - 1})")
                return
            if isinstance(value, (int, float)):
                lo, hi = meta.get("min"), meta.get("max")
                if (lo is not None and value < lo) or (hi is not None and value > hi):
                    problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                                    f"Member must have value {_bounds(lo, hi)}")

    @staticmethod
    def _length(n, meta, path, rule, problems):
        lo, hi = meta.get("min"), meta.get("max")
        if (lo is not None and n < lo) or (hi is not None and n > hi):
            problems.append(f"Value at '{path}' failed to satisfy constraint: {rule} {_bounds(lo, hi)}")


def _bounds(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f"between {lo} and {hi}"
    if lo is not None:
        return f"greater than or equal to {lo}"
    return f"less than or equal to {hi}"


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str):
    try:
        return re.compile(pattern)
    except re.error:  # a model regex Python cannot read: do not reject anything for it
        return None


def _matches(pattern: str, value: str) -> bool:
    compiled = _compiled(pattern)
    return compiled is None or compiled.fullmatch(value) is not None
