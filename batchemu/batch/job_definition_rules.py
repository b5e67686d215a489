"""The rules of a job definition's body (ref §5, §9, §10, §12): what RegisterJobDefinition
accepts and the defaults the service fills in, as `validated_body`; the request size; and the
retryStrategy/timeout rules SubmitJob applies to its overrides too.

Pure validation: no store, no backend, no operation (so not among the provider's MODULES, and
no function here is named like an operation). Bad input raises ClientException naming the
field and the rule. Used by job_definitions (register) and jobs (SubmitJob's overrides).
"""

from __future__ import annotations

import copy
import json
import re

from batchemu.batch import fargate_rules, job_spec, task_properties
from batchemu.batch.common import check_tags
from batchemu.batch.errors import ClientException, wrapped
from batchemu.context import RequestContext

MAX_REQUEST_BYTES = 24 * 1024  # ref §5.1, §15
BLOCKS = ("containerProperties", "ecsProperties", "eksProperties")
MANAGED_INSTANCES = "MANAGED_INSTANCES"  # a PlatformCapability
NODE_BLOCKS = ("container", "ecsProperties", "eksProperties")
# ref §5.2: the real service echoes these ContainerProperties lists as [] when absent
# (examples-1.json; command, resourceRequirements and secrets: issue 15's triage of moto's
# suite, and ref §6.3's echoed `secrets: []`).
ECHOED_LISTS = ("command", "environment", "mountPoints", "ulimits", "volumes", "resourceRequirements",
                "secrets")
# The same for EKS job definitions (issue 15): each container's lists and the pod's volumes.
EKS_ECHOED_LISTS = ("command", "args", "env", "volumeMounts")
MIN_MEMORY_MIB = job_spec.MIN_MEMORY_MIB  # ref §5.3
MAX_PRIORITY = 9999  # ref §5.1
MAX_ATTEMPTS, MAX_EVALUATE_ON_EXIT, MAX_PATTERN = 10, 5, 512  # ref §9
MIN_TIMEOUT_SECONDS = 60  # ref §10
MAX_NODES, MAX_NODE_GROUPS = 1000, 5  # ref §12
MAX_TASK_CONTAINERS = 10  # ref §5.4
# ref §9: only a trailing `*`; the Terraform provider's patterns.
EXIT_CODE_PATTERN = re.compile(r"[0-9]*\*?")
REASON_PATTERN = re.compile(r"[0-9A-Za-z.:\s]*\*?")
RESTRICTED = "Evaluate on exit condition contains restricted characters"  # ref §9, Appendix A
# ref §5.3: Fargate VCPU -> allowed MEMORY (MiB).
FARGATE_MEMORY = {
    0.25: (512, 1024, 2048),
    0.5: tuple(range(1024, 4096 + 1, 1024)),
    1.0: tuple(range(2048, 8192 + 1, 1024)),
    2.0: tuple(range(4096, 16384 + 1, 1024)),
    4.0: tuple(range(8192, 30720 + 1, 1024)),
    8.0: tuple(range(16384, 61440 + 1, 4096)),
    16.0: tuple(range(32768, 122880 + 1, 8192)),
}
FARGATE_LOG_DRIVERS = ("awslogs", "splunk")  # ref §5.3
FARGATE_FORBIDDEN_LINUX = ("devices", "sharedMemorySize", "tmpfs", "maxSwap", "swappiness")
WHOLE_NUMBER = job_spec.WHOLE_NUMBER
MAX_REQUIREMENT = job_spec.MAX_REQUIREMENT


# -- the registered document -----------------------------------------------------------------

def check_request_size(ctx: RequestContext, params: dict) -> None:
    size = len(json.dumps(params, separators=(",", ":")).encode())
    if size > MAX_REQUEST_BYTES:
        raise wrapped(ctx, f"Job definition size must be at most 24 KiB ({MAX_REQUEST_BYTES} bytes), "
                           f"got {size} bytes")  # ref §5.1, §15


def validated_body(ctx: RequestContext, params: dict) -> dict:
    """Everything but name/ARN/revision/status, validated, with the service's defaults."""
    params = copy.deepcopy(params)
    job_type = params["type"]
    platform = _platform(params)
    fargate = platform == ["FARGATE"]
    eks = _uses_eks(params)
    body = {"type": job_type, "parameters": params.get("parameters") or {}}
    job_spec.check_no_nul(body["parameters"].values(), "parameters")  # they end up in commands
    if job_type == "container":
        block = _single_block(params)
        if block == "containerProperties":
            body[block] = _container(ctx, params[block], block, fargate)
        elif block == "ecsProperties":
            body[block] = _ecs(ctx, params[block], block, fargate)
        else:
            body[block] = _eks(params[block], block)
    else:
        body["nodeProperties"] = _nodes(ctx, params, fargate)
    _check_network_mode(body, platform)
    if eks and fargate:
        raise ClientException("platformCapabilities FARGATE isn't supported for jobs that run on "
                              "Amazon EKS resources (eksProperties)")  # ref §5.1
    if eks and params.get("propagateTags"):
        raise ClientException("propagateTags isn't supported for jobs that run on Amazon EKS "
                              "resources (eksProperties)")  # ref §5.1
    body["schedulingPriority"] = _check_priority(params.get("schedulingPriority"))
    body["retryStrategy"] = check_retry_strategy(params.get("retryStrategy"))
    body["timeout"] = check_timeout(params.get("timeout"))
    # ref §5.2: DescribeJobDefinitions shows `tags: {}` for an untagged definition, and
    # propagateTags only when the registration gave it (issue 15's triage of moto's suite).
    body["tags"] = check_tags(params.get("tags"))
    if params.get("propagateTags") is not None:
        body["propagateTags"] = bool(params["propagateTags"])
    body["platformCapabilities"] = platform
    body["containerOrchestrationType"] = "EKS" if eks else "ECS"
    body["consumableResourceProperties"] = params.get("consumableResourceProperties")
    return body


def _platform(params: dict) -> list | None:
    """ref §5.1: ["EC2"] unless given; EKS definitions have none."""
    given = params.get("platformCapabilities") or []
    if len(set(given)) > 1:
        raise ClientException(f"platformCapabilities must be one of [\"EC2\"], [\"FARGATE\"] or "
                              f"[\"MANAGED_INSTANCES\"], got {given}")
    if given == [MANAGED_INSTANCES] and (params["type"] != "container" or params.get("ecsProperties") is None):
        # Batch user guide, "Job definitions on Amazon ECS Managed Instances": type container with
        # ecsProperties; "legacy containerProperties" are not supported.
        raise ClientException("platformCapabilities MANAGED_INSTANCES requires type container with "
                              "ecsProperties (containerProperties, eksProperties and nodeProperties "
                              "aren't supported on Amazon ECS Managed Instances)")
    if given:
        return given[:1]
    return None if _uses_eks(params) else ["EC2"]


def _check_network_mode(body: dict, platform: list | None) -> None:
    """ecsProperties.taskProperties[].networkMode: only `host`, and only on MANAGED_INSTANCES
    definitions, where it is the default (model documentation of EcsTaskProperties)."""
    tasks = (body.get("ecsProperties") or {}).get("taskProperties") or []
    for i, task in enumerate(tasks):
        mode = task.get("networkMode")
        if platform != [MANAGED_INSTANCES]:
            if mode is not None:
                raise ClientException(f"ecsProperties.taskProperties[{i}].networkMode only applies to "
                                      "MANAGED_INSTANCES job definitions; it can't be specified for "
                                      f"{(platform or ['EKS'])[0]} ones")
            continue
        if mode is not None and mode != "host":
            raise ClientException(f"ecsProperties.taskProperties[{i}].networkMode must be host, got {mode!r}")
        task["networkMode"] = "host"


def _uses_eks(params: dict) -> bool:
    ranges = (params.get("nodeProperties") or {}).get("nodeRangeProperties") or []
    return params.get("eksProperties") is not None or any(r.get("eksProperties") is not None for r in ranges)


def _single_block(params: dict) -> str:
    """ref §5.1: type container takes exactly one of the three property blocks."""
    if params.get("nodeProperties") is not None:
        raise ClientException("nodeProperties can only be used with type multinode, not container")
    given = [k for k in BLOCKS if params.get(k) is not None]
    if not given:
        raise ClientException("type container requires one of containerProperties, ecsProperties "
                              "or eksProperties")
    if len(given) > 1:
        raise ClientException(f"{given[0]} can't be used in addition to {given[1]}: a job definition "
                              "takes exactly one of containerProperties, ecsProperties or eksProperties")
    return given[0]


def _check_priority(priority):
    if priority is not None and not (0 <= priority <= MAX_PRIORITY):
        raise ClientException(f"schedulingPriority must be between 0 and {MAX_PRIORITY}, got {priority}")
    return priority


def check_retry_strategy(strategy: dict | None) -> dict | None:
    if strategy is None:
        return None
    attempts, rules = strategy.get("attempts"), strategy.get("evaluateOnExit") or []
    if attempts is not None and not (1 <= attempts <= MAX_ATTEMPTS):
        raise ClientException(f"retryStrategy.attempts must be between 1 and {MAX_ATTEMPTS}, got {attempts}")
    if rules and attempts is None:
        raise ClientException("retryStrategy.evaluateOnExit requires retryStrategy.attempts")
    if len(rules) > MAX_EVALUATE_ON_EXIT:
        raise ClientException(f"retryStrategy.evaluateOnExit can have at most {MAX_EVALUATE_ON_EXIT} "
                              f"entries, got {len(rules)}")
    for i, rule in enumerate(rules):
        for field, pattern in (("onExitCode", EXIT_CODE_PATTERN), ("onReason", REASON_PATTERN),
                               ("onStatusReason", REASON_PATTERN)):
            value = rule.get(field)
            where = f"retryStrategy.evaluateOnExit[{i}].{field}"
            if value is None:
                continue
            if len(value) > MAX_PATTERN:
                raise ClientException(f"{where} must be at most {MAX_PATTERN} characters, got {len(value)}")
            if not pattern.fullmatch(value):
                # AWS's text first (clients match on it), then which value and why (ref §9).
                raise ClientException(f"{RESTRICTED}: {where} {value!r} (only a trailing * is "
                                      f"allowed; {_allowed(field)})")
    if not rules:
        return strategy
    # The action is taken in any case and read back lower-cased (ref §9): Terraform's provider keeps
    # it lower-cased in its state so a read-back shows no drift, and moto's suite asserts
    # "retry"/"exit" for "RETRY"/"Exit".
    return {**strategy, "evaluateOnExit": [{**rule, "action": rule["action"].lower()} if isinstance(
        rule.get("action"), str) else rule for rule in rules]}


def _allowed(field: str) -> str:
    if field == "onExitCode":
        return "digits only"
    return "letters, digits, '.', ':' and whitespace only"


def check_timeout(timeout: dict | None) -> dict | None:
    seconds = (timeout or {}).get("attemptDurationSeconds")
    if seconds is not None and seconds < MIN_TIMEOUT_SECONDS:
        raise ClientException(f"timeout.attemptDurationSeconds must be at least {MIN_TIMEOUT_SECONDS} "
                              f"seconds, got {seconds}")  # ref §10
    return timeout


# -- containers ------------------------------------------------------------------------------

def _container(ctx: RequestContext, cp: dict, where: str, fargate: bool, node: bool = False) -> dict:
    """One ContainerProperties (top level or a node range's `container`), with the echoed lists."""
    if not cp.get("image"):
        raise ClientException(f"{where}.image is required")
    if cp.get("instanceType") is not None and not node:
        raise ClientException(f"{where}.instanceType is only valid for multi-node parallel jobs")
    vcpus, memory = _resources(ctx, cp, where, fargate)
    if vcpus is None:
        raise wrapped(ctx, "vCPU is not provided.")  # ref §5.3, Appendix A
    job_spec.check_no_nul(cp.get("command"), f"{where}.command")
    _check_mounts(cp.get("mountPoints"), cp.get("volumes"), where, f"{where}.volumes")
    if fargate:
        _check_fargate_container(cp, where)
        _check_fargate_task(cp, where, vcpus, memory)
        fargate_rules.check_task(ctx, cp, [(cp, where)], where)
        # ref §5.3 defaults (assignPublicIp DISABLED, platformVersion LATEST).
        cp.setdefault("networkConfiguration", {"assignPublicIp": "DISABLED"})
        cp.setdefault("fargatePlatformConfiguration", {"platformVersion": "LATEST"})
    cp["environment"] = _environment(cp.get("environment"), where)
    for name in ECHOED_LISTS:
        if cp.get(name) is None:
            cp[name] = []
    return cp


def _ecs(ctx: RequestContext, ecs: dict, where: str, fargate: bool) -> dict:
    tasks = ecs["taskProperties"]
    if len(tasks) != 1:
        # ref §5.4: exactly one task for now
        raise ClientException(f"{where}.taskProperties must contain exactly one task, got {len(tasks)}")
    task, task_where = tasks[0], f"{where}.taskProperties[0]"
    containers = task["containers"]
    if not (1 <= len(containers) <= MAX_TASK_CONTAINERS):
        raise ClientException(f"{task_where}.containers must have 1 to {MAX_TASK_CONTAINERS} containers, "
                              f"got {len(containers)}")
    names = [c["name"] for c in containers if c.get("name") is not None]
    if len(names) != len(set(names)):
        raise ClientException(f"{task_where}.containers: container names must be unique, got {names}")
    if not any(c.get("essential", True) is not False for c in containers):
        raise ClientException(f"{task_where}.containers: at least one container must be essential")
    total_vcpus, total_memory = 0.0, 0
    for i, c in enumerate(containers):
        c_where = f"{task_where}.containers[{i}]"
        vcpus, memory = _resources(ctx, c, c_where, fargate)
        total_vcpus += vcpus or 0
        total_memory += memory or 0
        _check_mounts(c.get("mountPoints"), task.get("volumes"), c_where, f"{task_where}.volumes")
        if fargate:
            _check_fargate_container(c, c_where)
        if c.get("environment") is not None:
            c["environment"] = _environment(c["environment"], c_where)
    if not total_vcpus:
        raise wrapped(ctx, "vCPU is not provided.")  # ref §5.3: every job needs a vCPU count
    if fargate:
        _check_fargate_task(task, task_where, total_vcpus, total_memory or None)
        fargate_rules.check_task(ctx, task, [(c, f"{task_where}.containers[{i}]") for i, c in enumerate(containers)],
                                 task_where)
    task_properties.check_dependencies(containers, task_where)
    return ecs


def _eks(eks: dict, where: str) -> dict:
    pod = eks.get("podProperties") or {}
    if not pod.get("containers"):
        raise ClientException(f"{where}.podProperties.containers must contain at least one container")
    volumes = {v["name"] for v in pod.get("volumes") or []}
    for group in ("containers", "initContainers"):
        for i, c in enumerate(pod.get(group) or []):
            c_where = f"{where}.podProperties.{group}[{i}]"
            job_spec.check_environment(c.get("env"), c_where + ".env")
            for mount in c.get("volumeMounts") or []:
                if mount.get("name") not in volumes:
                    raise ClientException(f"{c_where}.volumeMounts: name {mount.get('name')!r} doesn't "
                                          f"match any volume in {where}.podProperties.volumes")
            for name in EKS_ECHOED_LISTS:
                if c.get(name) is None:
                    c[name] = []
    task_properties.check_pod(pod, f"{where}.podProperties")
    if pod.get("volumes") is None:
        pod["volumes"] = []
    return eks


def _resources(ctx: RequestContext, c: dict, where: str, fargate: bool) -> tuple[float | None, int | None]:
    """(vCPUs, MiB) from resourceRequirements or the deprecated vcpus/memory (ref §5.3)."""
    given = {}
    for req in c.get("resourceRequirements") or []:
        if req["type"] in given:
            raise ClientException(f"{where}.resourceRequirements: type {req['type']} is given more than once")
        given[req["type"]] = req["value"]
    for legacy, kind in (("vcpus", "VCPU"), ("memory", "MEMORY")):
        if c.get(legacy) is None:
            continue
        if fargate:
            raise ClientException(f"{where}.{legacy} isn't supported on Fargate; use resourceRequirements")
        if kind in given:
            raise ClientException(f"{where}: {kind} can't be given both in {legacy} and in "
                                  "resourceRequirements; use resourceRequirements only")
    vcpus = _vcpu_value(ctx, given["VCPU"], fargate) if "VCPU" in given else c.get("vcpus")
    if vcpus is not None and vcpus <= 0:
        raise ClientException(f"{where}.vcpus must be at least 1, got {vcpus}")
    memory = _memory_value(given["MEMORY"], where) if "MEMORY" in given else c.get("memory")
    if memory is not None and memory < MIN_MEMORY_MIB:
        raise ClientException(f"{where}: MEMORY must be at least {MIN_MEMORY_MIB} MiB, got {memory}")
    if "GPU" in given:
        if fargate:
            raise ClientException(f"{where}.resourceRequirements: GPU isn't available on Fargate resources")
        if not WHOLE_NUMBER.fullmatch(given["GPU"]) or not 1 <= int(given["GPU"]) <= MAX_REQUIREMENT:
            raise ClientException(f"{where}.resourceRequirements: GPU must be a whole number of at least 1, "
                                  f"got {given['GPU']!r}")
    return vcpus, memory


def _vcpu_value(ctx: RequestContext, text: str, fargate: bool) -> float:
    """ref §5.3: numeric; on EC2 a whole number ("1.0" is rejected with this very text)."""
    invalid = wrapped(ctx, f"Value {text} for type VCPU in resourceRequirement is not valid. "
                           "Please provide a numeric value.")
    if not fargate:
        if not WHOLE_NUMBER.fullmatch(text) or not 1 <= int(text) <= MAX_REQUIREMENT:
            raise invalid
        return float(text)
    try:
        value = float(text)
    except ValueError:
        raise invalid from None
    if value not in FARGATE_MEMORY:
        raise ClientException(f"Value {text} for type VCPU isn't supported on Fargate; use one of "
                              f"{', '.join(f'{v:g}' for v in FARGATE_MEMORY)}")
    return value


def _memory_value(text: str, where: str) -> int:
    if not WHOLE_NUMBER.fullmatch(text) or int(text) > MAX_REQUIREMENT:
        raise ClientException(f"{where}.resourceRequirements: MEMORY must be a whole number of MiB "
                              f"up to {MAX_REQUIREMENT}, got {text!r}")
    return int(text)


def _environment(variables: list | None, where: str) -> list:
    job_spec.check_environment(variables, f"{where}.environment")
    # ref §5.3: the service drops variables with an empty value.
    return [v for v in variables or [] if v.get("value")]


def _check_mounts(mount_points: list | None, volumes: list | None, where: str, volumes_where: str) -> None:
    names = {v.get("name") for v in volumes or [] if v.get("name")}
    for mount in mount_points or []:
        if mount.get("sourceVolume") not in names:
            raise ClientException(f"{where}.mountPoints: sourceVolume {mount.get('sourceVolume')!r} "
                                  f"doesn't match the name of any volume in {volumes_where}")


def _check_fargate_container(c: dict, where: str) -> None:
    """What a container can't use on Fargate (ref §5.3)."""
    linux = c.get("linuxParameters") or {}
    forbidden = [k for k in ("ulimits", "instanceType") if c.get(k)]
    if c.get("privileged"):
        forbidden.insert(0, "privileged")
    forbidden += [f"linuxParameters.{k}" for k in FARGATE_FORBIDDEN_LINUX if linux.get(k) not in (None, [])]
    if forbidden:
        raise ClientException(f"{where}.{forbidden[0]} isn't supported for jobs that run on Fargate "
                              "resources")
    driver = (c.get("logConfiguration") or {}).get("logDriver")
    if driver is not None and driver not in FARGATE_LOG_DRIVERS:
        raise ClientException(f"{where}.logConfiguration.logDriver {driver} isn't supported on Fargate; "
                              f"use one of {', '.join(FARGATE_LOG_DRIVERS)}")


def _check_fargate_task(task: dict, where: str, vcpus: float, memory: int | None) -> None:
    """Task-level Fargate rules: execution role, no host volumes, a valid VCPU/MEMORY pair."""
    if not task.get("executionRoleArn"):
        raise ClientException(f"{where}.executionRoleArn is required for jobs that run on Fargate resources")
    if any(v.get("host") is not None for v in task.get("volumes") or []):
        raise ClientException(f"{where}.volumes: host volumes aren't supported for jobs that run on "
                              "Fargate resources")
    allowed = FARGATE_MEMORY.get(vcpus, ())
    if memory is None:
        raise ClientException(f"{where}.resourceRequirements: MEMORY is required for jobs that run on "
                              f"Fargate resources (with {vcpus:g} VCPU: {', '.join(map(str, allowed))})")
    if memory not in allowed:
        raise ClientException(f"{where}.resourceRequirements: MEMORY {memory} MiB isn't valid on Fargate "
                              f"with {vcpus:g} VCPU; allowed: {', '.join(map(str, allowed))}")  # ref §5.3


# -- multi-node ------------------------------------------------------------------------------

def parse_target_nodes(text: str, num_nodes: int, where: str = "targetNodes") -> tuple[int, int]:
    """A node range (ref §12) -> (first, last), inclusive: "a:b", ":b" (from 0), "a:" (to the
    last node), ":" (all); a bare "n" is read as "n:n"."""
    match = re.fullmatch(r"([0-9]*)(:?)([0-9]*)", text or "")
    if not match or not (match.group(1) or match.group(2)):
        raise ClientException(f"{where} {text!r} isn't a node range; use \"start:end\", \":end\" "
                              "or \"start:\"")
    first = int(match.group(1)) if match.group(1) else 0
    if not match.group(2):
        last = first
    else:
        last = int(match.group(3)) if match.group(3) else num_nodes - 1
    if first > last or last >= num_nodes:
        raise ClientException(f"{where} {text!r} must lie within nodes 0 to {num_nodes - 1} "
                              f"(numNodes {num_nodes}), start <= end")
    return first, last


def _nodes(ctx: RequestContext, params: dict, fargate: bool) -> dict:
    """ref §12: the node count, the main node, and ranges that together cover every node."""
    others = [k for k in BLOCKS if params.get(k) is not None]
    if others:
        raise ClientException(f"{others[0]} can't be used with type multinode; give the properties "
                              "per node range in nodeProperties.nodeRangeProperties")
    nodes = params.get("nodeProperties")
    if nodes is None:
        raise ClientException("type multinode requires nodeProperties")
    if fargate:
        raise ClientException("multinode job definitions aren't supported on Fargate resources")  # ref §5.1
    count, main, ranges = nodes["numNodes"], nodes["mainNode"], nodes["nodeRangeProperties"]
    if not (1 <= count <= MAX_NODES):
        raise ClientException(f"nodeProperties.numNodes must be between 1 and {MAX_NODES}, got {count}")
    if not (0 <= main < count):
        raise ClientException(f"nodeProperties.mainNode must be between 0 and numNodes - 1 "
                              f"({count - 1}), got {main}")
    if not (1 <= len(ranges) <= MAX_NODE_GROUPS):
        raise ClientException(f"nodeProperties.nodeRangeProperties must have 1 to {MAX_NODE_GROUPS} node "
                              f"ranges, got {len(ranges)}")
    covered = set()
    for i, node_range in enumerate(ranges):
        where = f"nodeProperties.nodeRangeProperties[{i}]"
        first, last = parse_target_nodes(node_range["targetNodes"], count, f"{where}.targetNodes")
        covered.update(range(first, last + 1))
        _check_node_range(ctx, node_range, where)
    missing = sorted(set(range(count)) - covered)
    if missing:
        raise ClientException(f"nodeProperties.nodeRangeProperties must cover every node 0 to {count - 1}; "
                              f"not covered: {', '.join(map(str, missing[:10]))}")
    _check_one_instance_type(ranges)
    return nodes


def _check_node_range(ctx: RequestContext, node_range: dict, where: str) -> None:
    given = [k for k in NODE_BLOCKS if node_range.get(k) is not None]
    if len(given) != 1:
        raise ClientException(f"{where} must have exactly one of container, ecsProperties or eksProperties")
    block = given[0]
    if block == "container":
        node_range[block] = _container(ctx, node_range[block], f"{where}.container", False, node=True)
    elif block == "ecsProperties":
        _ecs(ctx, node_range[block], f"{where}.ecsProperties", False)
    else:
        _eks(node_range[block], f"{where}.eksProperties")
    if len(node_range.get("instanceTypes") or []) > 1:
        raise ClientException(f"{where}.instanceTypes can have at most one instance type")


def _check_one_instance_type(ranges: list) -> None:
    """ref §12: all node groups must use the same instance type."""
    types = set()
    for node_range in ranges:
        types.update(node_range.get("instanceTypes") or [])
        if (node_range.get("container") or {}).get("instanceType"):
            types.add(node_range["container"]["instanceType"])
    if len(types) > 1:
        raise ClientException(f"nodeProperties: all node ranges must use the same instance type, "
                              f"got {', '.join(sorted(types))}")
