"""SubmitJob of a multi-node parallel job definition (ref §12, §6.8): `nodeOverrides` (numNodes,
nodePropertyOverrides per targetNodes) checked against the definition and merged into the
`nodeProperties` the job shows, the node ranges as the engine reads them (`_nodeRanges`: which
nodes each range holds and what one of its nodes needs) and the gang's total need.

A rule module: holds no operation, writes nothing. Running the nodes is engine.multinode's.
"""

from __future__ import annotations

import json

from batchemu.batch import job_spec, task_properties
from batchemu.batch.errors import ClientException
from batchemu.batch.job_definition_rules import parse_target_nodes


def check_submit(params: dict) -> None:
    """What a multi-node SubmitJob can't carry."""
    if (params.get("arrayProperties") or {}).get("size") is not None:
        raise ClientException("arrayProperties can't be used with a multinode job definition: a job can't be "
                              "both an array job and a multi-node parallel job")
    for key in ("containerOverrides", "ecsPropertiesOverride", "eksPropertiesOverride"):
        if params.get(key):
            raise ClientException(f"{key} can't be used with a multinode job definition; use "
                                  "nodeOverrides.nodePropertyOverrides")


def resolve(definition: dict, overrides: dict | None, parameters: dict) -> tuple[dict, list, dict]:
    """(the job's nodeProperties: definition plus overrides, ref §12; its node ranges for the
    engine [{first, last, range, need}]; the gang's total need)."""
    props = json.loads(json.dumps(definition["nodeProperties"]))
    overrides = overrides or {}
    ranges = props["nodeRangeProperties"]
    count = _node_count(props, overrides.get("numNodes"))
    spans = [parse_target_nodes(r["targetNodes"], count, f"nodeProperties.nodeRangeProperties[{i}].targetNodes")
             for i, r in enumerate(ranges)]
    covered = {n for first, last in spans for n in range(first, last + 1)}
    if len(covered) != count:
        missing = sorted(set(range(count)) - covered)
        raise ClientException(f"nodeOverrides.numNodes {count} leaves nodes without a node range: "
                              f"{', '.join(map(str, missing[:10]))}")
    per_range = _overrides_per_range(overrides.get("nodePropertyOverrides") or [], spans, count)
    engine_ranges = []
    for i, node_range in enumerate(ranges):
        override = per_range.get(i) or {}
        where = f"nodeOverrides.nodePropertyOverrides (targetNodes {node_range['targetNodes']})"
        task = None
        if node_range.get("container") is not None:
            _only(override, "containerOverrides", where)
            container_overrides = override.get("containerOverrides") or {}
            job_spec.check_overrides(container_overrides, node_range["container"])
            node_range["container"] = job_spec.resolve_container(node_range["container"], container_overrides,
                                                                 parameters)
            need = job_spec.needs(node_range["container"])
        elif node_range.get("ecsProperties") is not None:
            # A range of ECS task containers: resolved, and its ecsPropertiesOverride merged, as
            # SubmitJob does for an ecsProperties job (batch.task_properties).
            _only(override, "ecsPropertiesOverride", where)
            node_range["ecsProperties"], limits, need = task_properties.ecs_job(
                node_range, override.get("ecsPropertiesOverride"), parameters)
            task = {"kind": "ecs", "limits": limits}
        else:
            _only(override, "eksPropertiesOverride", where)
            node_range["eksProperties"], limits, need, sizes = task_properties.eks_job(
                node_range, override.get("eksPropertiesOverride"), parameters)
            task = {"kind": "eks", "limits": limits, "sizes": sizes}
        if override.get("instanceTypes"):
            node_range["instanceTypes"] = list(override["instanceTypes"])
        first, last = spans[i]
        engine_ranges.append(dict({"first": first, "last": last, "range": i, "need": need},
                                  **({"task": task} if task else {})))
    props["numNodes"] = count
    total = {"vcpus": 0.0, "memory": 0, "gpus": 0}
    for node in range(count):  # each node counts its most specific range (ref §12)
        need = min((r for r in engine_ranges if r["first"] <= node <= r["last"]),
                   key=lambda r: r["last"] - r["first"])["need"]
        for key in total:
            total[key] += need[key]
    return props, engine_ranges, total


_OVERRIDES = ("containerOverrides", "ecsPropertiesOverride", "eksPropertiesOverride")
_BLOCKS = {"containerOverrides": "container", "ecsPropertiesOverride": "ecsProperties",
           "eksPropertiesOverride": "eksProperties"}


def _only(override: dict, allowed: str, where: str) -> None:
    """A node range's override may only override what the range has: containerOverrides a
    container range, ecsPropertiesOverride an ecsProperties range, eksPropertiesOverride an
    eksProperties one (model: NodePropertyOverride)."""
    for key in _OVERRIDES:
        if key != allowed and override.get(key):
            raise ClientException(f"{where}: {key} can't override a node range with {_BLOCKS[allowed]}; "
                                  f"use {allowed}")


def _node_count(props: dict, override) -> int:
    """ref §12: overriding numNodes needs a range open at its top (`n:` or `:`) whose start lies
    below the new count, and the main node must stay below it."""
    if override is None:
        return props["numNodes"]
    open_ranges = [r for r in props["nodeRangeProperties"] if r["targetNodes"].endswith(":")]
    if not open_ranges:
        raise ClientException("nodeOverrides.numNodes can only be given when a node range of the job "
                              "definition is open-ended (targetNodes \"n:\" or \":\")")
    if not 1 <= override <= 1000:
        raise ClientException(f"nodeOverrides.numNodes must be between 1 and 1000, got {override}")
    for r in open_ranges:
        start = r["targetNodes"].split(":")[0]
        if start and int(start) >= override:
            raise ClientException(f"nodeOverrides.numNodes {override} must be greater than the start of the "
                                  f"open-ended node range {r['targetNodes']}")
    if props["mainNode"] >= override:
        raise ClientException(f"nodeOverrides.numNodes {override} must be greater than mainNode "
                              f"{props['mainNode']}")
    return override


def _overrides_per_range(overrides: list, spans: list, count: int) -> dict:
    """definition range index -> its override. An override's targetNodes must name one of the
    definition's ranges (ref §6.1: `NodeOverride targets should match job definition. Non
    matching targets - 0:0`)."""
    out, unmatched = {}, []
    for i, override in enumerate(overrides):
        target = override.get("targetNodes")
        try:
            span = parse_target_nodes(target, count, f"nodeOverrides.nodePropertyOverrides[{i}].targetNodes")
        except ClientException:
            unmatched.append(str(target))
            continue
        if span not in spans:
            unmatched.append(str(target))
            continue
        out[spans.index(span)] = override
    if unmatched:
        raise ClientException("NodeOverride targets should match job definition. Non matching targets - "
                              + ", ".join(unmatched))
    return out
