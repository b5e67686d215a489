"""What a submitted job will run: the job definition's containerProperties merged with
SubmitJob's containerOverrides (ref §6.8), parameters merged and `Ref::` placeholders
substituted in the command (ref §5.5), and the resources it needs (VCPU/MEMORY/GPU).

Pure functions on wire dicts; no store, no HTTP.
"""

from __future__ import annotations

import json
import re

from batchemu.batch.errors import ClientException

# A placeholder inside a longer string: `Ref::` then a parameter name. Names are matched
# whole (`Ref::in` never matches inside `Ref::input`, a bug of moto's; peers §1.3).
_PLACEHOLDER = re.compile(r"Ref::([A-Za-z0-9_\-]+)")
RESERVED_ENV_PREFIX = "AWS_BATCH"
MIN_MEMORY_MIB = 4  # ref §5.3
# An emulator choice: requirement values are strings, so the model sets no bound; AWS parses
# them as numbers and refuses what no instance has. The deprecated `vcpus`/`memory` members are
# 32-bit integers, so nothing larger can be meant.
MAX_REQUIREMENT = 2 ** 31 - 1
WHOLE_NUMBER = re.compile(r"[0-9]+")
DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?|\.[0-9]+")
LEGACY_OVERRIDE_CONFLICT = ("This value was submitted in a deprecated key and may conflict with the "
                            "value provided by the job definition's resource requirements.")


def merge_parameters(definition: dict, submitted: dict | None) -> dict:
    """ref §6.8: the job's parameters are the definition's, overridden key by key. Values end
    up in the command, so they hold no NUL (see check_no_nul)."""
    check_no_nul((submitted or {}).values(), "parameters")
    merged = dict(definition.get("parameters") or {})
    merged.update(submitted or {})
    return merged


def substitute(command: list, parameters: dict) -> list:
    """Replace every `Ref::name` whose name is a parameter; leave unknown ones literally (ref §5.5)."""
    out = []
    for arg in command:
        if arg.startswith("Ref::") and arg[5:] in parameters:
            out.append(parameters[arg[5:]])  # a whole-element placeholder may use any key
            continue
        out.append(_PLACEHOLDER.sub(lambda m: parameters.get(m.group(1), m.group(0)), arg))
    return out


def check_overrides(overrides: dict | None, definition_container: dict) -> None:
    overrides = overrides or {}
    check_environment(overrides.get("environment"), "containerOverrides.environment")
    if any(arg == "" for arg in overrides.get("command") or []):
        raise ClientException("containerOverrides.command can't contain an empty string")
    check_no_nul(overrides.get("command"), "containerOverrides.command")
    uses_requirements = bool(definition_container.get("resourceRequirements"))
    if uses_requirements and (overrides.get("vcpus") is not None or overrides.get("memory") is not None):
        raise ClientException(LEGACY_OVERRIDE_CONFLICT)  # ref §6.1
    types = [r.get("type") for r in overrides.get("resourceRequirements") or []]
    if len(types) != len(set(types)):
        raise ClientException("containerOverrides.resourceRequirements: each type can be given only once")
    for req in overrides.get("resourceRequirements") or []:
        requirement_value(req["type"], req["value"], "containerOverrides.resourceRequirements")


def check_environment(entries: list | None, where: str) -> None:
    """ref §5.3: every variable has a name (the model does not mark it required, but a variable
    without one cannot be set), and no name starts with AWS_BATCH (reserved)."""
    for i, entry in enumerate(entries or []):
        name = entry.get("name")
        if not name:
            raise ClientException(f"{where}[{i}].name is required: an environment variable needs a name")
        check_no_nul([name, entry.get("value") or ""], f"{where}[{i}]")
        if "=" in name:  # `NAME=value` is how the environment is passed: a name can't hold one
            raise ClientException(f"{where}[{i}].name can't contain '=': {name!r}")
        if name.startswith(RESERVED_ENV_PREFIX):
            raise ClientException(
                f"{where}: variable names can't start with {RESERVED_ENV_PREFIX} (reserved by AWS "
                f"Batch), got {name!r}")


def check_no_nul(texts, where: str) -> None:
    """A NUL character cannot be passed to a process (arguments and environment are C strings):
    a job holding one could be accepted but never started, so it is refused up front."""
    for text in texts or []:
        if isinstance(text, str) and "\x00" in text:
            raise ClientException(f"{where} can't contain a NUL character (\\u0000): {text!r}")


def requirement_value(kind: str, text: str, where: str) -> float:
    """A resourceRequirements value (ref §5.3) as a number: VCPU a positive decimal (Fargate
    sizes are fractions), MEMORY (MiB, >= 4) and GPU whole numbers; none beyond MAX_REQUIREMENT,
    so that `1e999`, `nan` or 400 digits never become an infinite or undefined stored number."""
    pattern = DECIMAL if kind == "VCPU" else WHOLE_NUMBER
    lowest = {"VCPU": 0, "MEMORY": MIN_MEMORY_MIB, "GPU": 0}.get(kind, 0)
    if not isinstance(text, str) or not pattern.fullmatch(text) or len(text) > 24 \
            or not lowest <= float(text) <= MAX_REQUIREMENT or (kind == "VCPU" and float(text) == 0):
        rule = "a number greater than 0" if kind == "VCPU" else f"a whole number of at least {lowest}"
        raise ClientException(f"{where}: value {text!r} for type {kind} is not valid; it must be "
                              f"{rule} and at most {MAX_REQUIREMENT}")
    return float(text)


def resolve_container(definition_container: dict, overrides: dict | None, parameters: dict) -> dict:
    """The `container` block a job shows in DescribeJobs (ref §6.3): definition + overrides."""
    container = json.loads(json.dumps(definition_container))  # a deep copy of JSON, twice deepcopy's speed
    overrides = overrides or {}
    if overrides.get("command") is not None:
        container["command"] = list(overrides["command"])  # replaces wholesale (ref §6.8)
    container["command"] = substitute(container.get("command") or [], parameters)
    env = {e["name"]: e.get("value") for e in container.get("environment") or []}
    for entry in overrides.get("environment") or []:
        env[entry["name"]] = entry.get("value")  # merge by name, the override wins
    # ref §5.3: variables with an empty value are dropped by the service.
    container["environment"] = [{"name": k, "value": v} for k, v in env.items() if v not in (None, "")]
    if overrides.get("resourceRequirements"):
        by_type = {r["type"]: r for r in container.get("resourceRequirements") or []}
        for req in overrides["resourceRequirements"]:
            by_type[req["type"]] = dict(req)  # per-type override (ref §6.8)
        container["resourceRequirements"] = list(by_type.values())
    for legacy in ("vcpus", "memory"):
        if overrides.get(legacy) is not None:
            container[legacy] = overrides[legacy]
    if overrides.get("instanceType"):
        container["instanceType"] = overrides["instanceType"]
    for key in ("environment", "mountPoints", "ulimits", "volumes", "secrets"):
        container.setdefault(key, [])
    container.setdefault("networkInterfaces", [])
    return container


def managed_instances_task(definition: dict) -> dict | None:
    """The task of a MANAGED_INSTANCES definition batchemu can run (ecsProperties with one task of
    one container), else None."""
    if definition.get("platformCapabilities") != ["MANAGED_INSTANCES"]:
        return None
    tasks = (definition.get("ecsProperties") or {}).get("taskProperties") or []
    return tasks[0] if len(tasks) == 1 and len(tasks[0].get("containers") or []) == 1 else None


def task_container(task: dict) -> dict:
    """The task's container as a containerProperties-like block: the task's volumes join it,
    since mounts are resolved against them (engine.launch)."""
    return dict(task["containers"][0], volumes=task.get("volumes") or [])


def ecs_overrides(override: dict | None, container: dict) -> dict:
    """ecsPropertiesOverride for the one container, as containerOverrides (the same members:
    command, environment, resourceRequirements; `name`, if given, must be the container's)."""
    tasks = (override or {}).get("taskProperties") or []
    if len(tasks) > 1:
        raise ClientException("ecsPropertiesOverride.taskProperties can override the job's one task only")
    containers = (tasks[0].get("containers") or []) if tasks else []
    if len(containers) > 1:
        raise ClientException("ecsPropertiesOverride.taskProperties[0].containers: the task has one container")
    if not containers:
        return {}
    given = containers[0]
    if given.get("name") is not None and given["name"] != container.get("name"):
        raise ClientException(f"ecsPropertiesOverride.taskProperties[0].containers[0].name {given['name']!r} "
                              f"is not the task's container ({container.get('name')!r})")
    return {k: given[k] for k in ("command", "environment", "resourceRequirements") if given.get(k) is not None}


def needs(container: dict) -> dict:
    """vCPUs (float), memory (MiB) and GPUs (int) the container asks for."""
    req = {r["type"]: r["value"] for r in container.get("resourceRequirements") or []}
    vcpus = float(req.get("VCPU") or container.get("vcpus") or 0)
    memory = int(float(req.get("MEMORY") or container.get("memory") or 0))
    gpus = int(float(req.get("GPU") or 0))
    return {"vcpus": vcpus, "memory": memory, "gpus": gpus}
