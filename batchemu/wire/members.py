"""Loosely written parameters as the members of a botocore shape: what CloudFormation templates,
EventBridge target inputs and Step Functions task parameters hand an operation (PascalCase keys
such as `ContainerOverrides`, numbers where the model wants text).

Structure keys are matched to member names case-insensitively; map keys (parameters, tags) are
kept as written; a number or boolean where a string is wanted becomes its text. In `strict`
mode (CloudFormation) an unknown key or a value of the wrong kind raises `Mismatch` naming
where, and numeric or boolean text is converted where the shape wants a number or a boolean;
otherwise an unknown key or a wrong kind is left for the validator to name.

Protocol only: it reads botocore shapes and knows no service's semantics.
"""

from __future__ import annotations


class Mismatch(ValueError):
    """`strict` mode: the value does not fit the shape; the message says where."""


def to_members(value, shape, strict: bool = False, path: str = ""):
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = {name.lower(): name for name in shape.members}
        out = {}
        for key, item in value.items():
            member = members.get(str(key).lower())
            if member is None:
                if strict:
                    raise Mismatch(f"unsupported property {path}{key}")
                out[key] = item  # kept for the validator to name
                continue
            out[member] = to_members(item, shape.members[member], strict, f"{path}{key}.")
        return out
    if kind == "list" and isinstance(value, list):
        where = path.rstrip(".")
        return [to_members(item, shape.member, strict, f"{where}[{i}].") for i, item in enumerate(value)]
    if kind == "map" and isinstance(value, dict):
        return {str(k): to_members(v, shape.value, strict, f"{path}{k}.") for k, v in value.items()}
    if kind in ("structure", "list", "map"):
        if strict:
            raise Mismatch(f"{path.rstrip('.') or 'the value'}: expected {'a list' if kind == 'list' else 'an object'}")
        return value
    return _scalar(value, kind, path.rstrip("."), strict)


def _scalar(value, kind: str, where: str, strict: bool):
    if kind == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return str(value)
        if strict and not isinstance(value, str):
            raise Mismatch(f"{where}: expected a string")
        return value
    if not strict:
        return value
    try:
        if kind in ("integer", "long"):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind in ("float", "double"):
            return float(value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise ValueError
    except (TypeError, ValueError):
        raise Mismatch(f"{where}: {value!r} is not a valid {kind}") from None
    return value
