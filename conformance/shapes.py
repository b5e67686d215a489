"""Checks a raw JSON response against an operation's output shape from botocore's model:
JSON types, enum values, required members, and no members the model does not define.

botocore's parser forgives all of these (it drops unknown members and never checks enums or
requiredness), so a response can parse and still be wrong for a stricter SDK or a user's code.
The real service's documented omissions are allowed in ALLOWED_MISSING, one commented entry each.
"""

from __future__ import annotations

from botocore.model import Shape

PRE_RUNNING = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING")


def _never_ran(detail: dict) -> bool:
    return detail.get("status") in PRE_RUNNING or (
        detail.get("status") == "FAILED" and not detail.get("attempts"))


def _never_ran_or_array_parent(detail: dict) -> bool:
    # ref §7: an array parent never enters RUNNING (its children run), so it has no startedAt.
    is_parent = "size" in (detail.get("arrayProperties") or {})
    return is_parent or _never_ran(detail)


# (shape name, member) -> predicate on the enclosing object: when it holds, the member may be
# missing although the model marks it required.
ALLOWED_MISSING = {
    # ref §6.3: startedAt is "required" in the model but absent until the job reaches RUNNING;
    # a job that failed without ever running (cancelled, dependency failed) and an array
    # parent (ref §7) never get one.
    ("JobDetail", "startedAt"): _never_ran_or_array_parent,
    # The same model quirk for service jobs (ref §13.3 lists startedAt among DescribeServiceJob's
    # fields; a service job that hasn't started can't have one). Our reading, by analogy with §6.3.
    ("DescribeServiceJobResponse", "startedAt"): _never_ran,
}

_NUMBER = (int, float)


def problems(value, shape: Shape | None, path: str = "$") -> list[str]:
    """Every way `value` (parsed JSON) breaks `shape`; [] when it conforms."""
    if shape is None:
        return [] if value in ({}, None, b"") else [f"{path}: the model defines no output, got {value!r}"]
    kind = shape.type_name
    if value is None:
        # AWS leaves absent members out; a JSON null is not a value of any shape.
        return [f"{path}: null (absent members must be left out)"]
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object ({shape.name}), got {type(value).__name__}"]
        found = []
        wire_names = {m.serialization.get("name", n): (n, m) for n, m in shape.members.items()
                      if m.serialization.get("location") in (None, "body")}
        for key in value:
            if key not in wire_names:
                found.append(f"{path}.{key}: not a member of {shape.name}")
        for name in shape.required_members:
            if name not in value:
                allowed = ALLOWED_MISSING.get((shape.name, name))
                if not (allowed and allowed(value)):
                    found.append(f"{path}.{name}: required member of {shape.name} is missing")
        for key, item in value.items():
            if key in wire_names:
                found += problems(item, wire_names[key][1], f"{path}.{key}")
        return found
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {type(value).__name__}"]
        return [p for i, item in enumerate(value) for p in problems(item, shape.member, f"{path}[{i}]")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected an object (map), got {type(value).__name__}"]
        found = []
        for key, item in value.items():
            found += problems(key, shape.key, f"{path}<key {key!r}>")
            found += problems(item, shape.value, f"{path}.{key}")
        return found
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {value!r}"]
        if shape.enum and value not in shape.enum:
            return [f"{path}: {value!r} is not one of {shape.name}'s values {shape.enum}"]
        return []
    if kind in ("integer", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected an integer, got {value!r}"]
    if kind in ("float", "double"):
        ok = isinstance(value, _NUMBER) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number, got {value!r}"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if kind == "timestamp":
        # rest-json timestamps default to epoch seconds as a JSON number.
        ok = isinstance(value, _NUMBER) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected an epoch number, got {value!r}"]
    if kind == "blob":
        return [] if isinstance(value, str) else [f"{path}: expected base64 text, got {value!r}"]
    return [f"{path}: shape type {kind} is not handled by this checker"]
