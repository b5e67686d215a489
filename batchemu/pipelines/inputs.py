"""What an EventBridge target receives: the whole event, the target's constant `Input`, the part
`InputPath` selects, or `InputTransformer`'s template filled from the event (EventBridge User
Guide, "Amazon EventBridge input transformation"). Pure: no moto state, no thread.

moto's EventTemplateParser is not used for the template: it pastes string values without
quotes (`{"key": <value>}` becomes invalid JSON) and refuses templates that are not JSON, while
EventBridge quotes a string placed outside quotes and escapes one placed inside them, and
accepts plain-text templates. The JSONPath reading (jsonpath-ng) is moto's dependency, used here.
"""

from __future__ import annotations

import json
import time

EVENT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def event_json(event: dict) -> dict:
    """The event as targets see it: `time` as ISO-8601 UTC (moto passes epoch seconds inside),
    without moto's private `ingestion-time`."""
    out = {k: v for k, v in event.items() if k != "ingestion-time"}
    if isinstance(out.get("time"), (int, float)):
        out["time"] = time.strftime(EVENT_TIME_FORMAT, time.gmtime(out["time"]))
    return out


def target_input(target: dict, event: dict, rule_arn: str, rule_name: str) -> str:
    """The text delivered to `target` for `event` (the moto-internal event dict)."""
    whole = event_json(event)
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath"):
        found = _path(target["InputPath"], whole)
        return json.dumps(found)
    transformer = target.get("InputTransformer")
    if transformer:
        values = {name: _path(path, whole) for name, path in (transformer.get("InputPathsMap") or {}).items()}
        values.update({
            "aws.events.rule-arn": rule_arn,
            "aws.events.rule-name": rule_name,
            "aws.events.event.ingestion-time": _iso(event.get("ingestion-time")) or whole.get("time"),
            "aws.events.event": whole,
            "aws.events.event.json": whole,
        })
        return fill_template(transformer.get("InputTemplate", ""), values)
    return json.dumps(whole)


def _iso(epoch_s) -> str | None:
    return time.strftime(EVENT_TIME_FORMAT, time.gmtime(epoch_s)) if isinstance(epoch_s, (int, float)) else None


def _path(path: str, event: dict):
    """The value at JSONPath `path` (`$.detail.bucket.name`), or None when absent."""
    # lazy for start-up time: jsonpath-ng comes with moto, loaded only when events flow
    from jsonpath_ng.ext import parse

    matches = parse(path).find(event)
    if not matches:
        return None
    return matches[0].value if len(matches) == 1 else [m.value for m in matches]


def fill_template(template: str, values: dict) -> str:
    """Replace each `<name>` of `values` in `template`. Inside a JSON string literal a value is
    written escaped (objects as their JSON text); outside one, as JSON (strings get quotes,
    missing values become null), which is how EventBridge keeps a JSON template JSON."""
    out = []
    in_string = escaped = False
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "<":
            end = template.find(">", i + 1)
            name = template[i + 1:end] if end > 0 else None
            if name is not None and name in values:
                out.append(_inside(values[name]) if in_string else json.dumps(values[name]))
                i = end + 1
                continue
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        out.append(ch)
        i += 1
    return "".join(out)


def _inside(value) -> str:
    text = value if isinstance(value, str) else ("" if value is None else json.dumps(value))
    return json.dumps(text)[1:-1]


def as_json(text: str):
    """The input parsed as JSON, or None when it is not JSON (a plain-text template)."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None
