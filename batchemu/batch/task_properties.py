"""Multi-container job definitions and jobs: an `ecsProperties` task (several containers,
`essential`, `dependsOn`) and an `eksProperties` pod (init containers, containers, volumes).

At registration: the dependsOn rules (the conditions the model documents; COMPLETE and
SUCCESS can't target an essential container), container names, pod volumes. At SubmitJob: the
definition merged with `ecsPropertiesOverride` / `eksPropertiesOverride` (matched to containers
by name, ref §6.8), `Ref::` substitution, and the resources each container and the whole job
need (Kubernetes quantities such as `500m` and `1Gi` read here). Pure functions on wire dicts:
no store, no HTTP, no runner.
"""

from __future__ import annotations

import json
import math
import re

from batchemu.batch import job_spec
from batchemu.batch.errors import ClientException
from batchemu.batch.kubernetes_names import check_namespace

CONDITIONS = ("START", "COMPLETE", "SUCCESS")   # model: TaskContainerDependency.condition
AFTER_EXIT = ("COMPLETE", "SUCCESS")             # "can't be set on an essential container"
ECS, EKS = "ecs", "eks"
POD_GROUPS = ("initContainers", "containers")
VOLUME_KINDS = ("emptyDir", "hostPath", "secret", "persistentVolumeClaim")
_CPU = re.compile(r"([0-9]+(?:\.[0-9]+)?|\.[0-9]+)(m?)")
_MEMORY = re.compile(r"([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|K|M|G|T)?")
_MEMORY_UNITS = {None: 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
                 "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40}


def kind(definition: dict) -> str | None:
    """ECS or EKS for a definition whose job runs several containers (or one EKS pod); None for
    containerProperties and for multinode definitions."""
    if definition.get("type") == "multinode":
        return None
    if definition.get("ecsProperties"):
        return ECS
    if definition.get("eksProperties"):
        return EKS
    return None


# -- registration -----------------------------------------------------------------------------

def check_dependencies(containers: list, where: str) -> None:
    """A task's containers: names where dependsOn needs them, each dependency naming another
    container of the task with a documented condition, COMPLETE/SUCCESS only on a non-essential
    container (model: TaskContainerDependency), and no cycle (the task could never start)."""
    names = [c.get("name") for c in containers]
    essential = {c.get("name"): c.get("essential", True) is not False for c in containers}
    if len(containers) > 1:
        for i, name in enumerate(names):
            if not name:
                raise ClientException(f"{where}.containers[{i}].name is required when a task has more than "
                                      "one container")
    for i, c in enumerate(containers):
        for j, dep in enumerate(c.get("dependsOn") or []):
            at = f"{where}.containers[{i}].dependsOn[{j}]"
            target, condition = dep.get("containerName"), dep.get("condition")
            if target not in essential:
                raise ClientException(f"{at}.containerName {target!r} doesn't name a container of the task")
            if target == c.get("name"):
                raise ClientException(f"{at}.containerName: container {target!r} can't depend on itself")
            if condition not in CONDITIONS:
                raise ClientException(f"{at}.condition must be one of {', '.join(CONDITIONS)}, got {condition!r}")
            if condition in AFTER_EXIT and essential[target]:
                raise ClientException(f"{at}: the {condition} condition can't be set on an essential container "
                                      f"({target!r} is essential); use START, or mark {target!r} essential: false")
    _check_no_cycle(containers, where)


def _check_no_cycle(containers: list, where: str) -> None:
    deps = {c.get("name"): [d.get("containerName") for d in c.get("dependsOn") or []] for c in containers}
    state = {}

    def visit(name, path):
        if state.get(name) == "done":
            return
        if state.get(name) == "open":
            raise ClientException(f"{where}.containers: dependsOn forms a cycle ({' -> '.join(path + [name])})")
        state[name] = "open"
        for dep in deps.get(name) or []:
            visit(dep, path + [name])
        state[name] = "done"

    for name in deps:
        visit(name, [])


def check_pod(pod: dict, where: str) -> None:
    """A pod's container names (unique across init and main containers; required when there is
    more than one), volumes (exactly one kind each, names unique) and namespace."""
    check_pod_namespace(pod.get("metadata"), where)
    everyone = [(g, i, c) for g in POD_GROUPS for i, c in enumerate(pod.get(g) or [])]
    seen = set()
    for group, i, c in everyone:
        name = c.get("name")
        if not name and len(everyone) > 1:
            raise ClientException(f"{where}.{group}[{i}].name is required when a pod has more than one container")
        if name in seen:
            raise ClientException(f"{where}.{group}[{i}].name {name!r} is used twice; container names must be "
                                  "unique within the pod")
        seen.add(name)
        for key in ("cpu", "memory"):
            for part in ("limits", "requests"):
                value = ((c.get("resources") or {}).get(part) or {}).get(key)
                if value is not None:
                    _quantity(key, value, f"{where}.{group}[{i}].resources.{part}.{key}")
        _pod_need(c, f"{where}.{group}[{i}].resources")   # GPUs too
    names = [v.get("name") for v in pod.get("volumes") or []]
    if len(names) != len(set(names)):
        raise ClientException(f"{where}.volumes: volume names must be unique, got {names}")
    for i, v in enumerate(pod.get("volumes") or []):
        given = [k for k in VOLUME_KINDS if v.get(k) is not None]
        if len(given) != 1:
            raise ClientException(f"{where}.volumes[{i}] must have exactly one of {', '.join(VOLUME_KINDS)}")


def check_pod_namespace(metadata: dict | None, where: str) -> None:
    """metadata.namespace, when given: the model's rules (EksMetadata.namespace)."""
    if metadata and metadata.get("namespace") is not None:
        check_namespace(metadata["namespace"], f"{where}.metadata.namespace", "kube")


# -- SubmitJob --------------------------------------------------------------------------------

def ecs_job(definition: dict, override: dict | None, parameters: dict) -> tuple[dict, dict, dict]:
    """(the job's ecsProperties, per-container resources {name: need}, the task's need)."""
    ecs = json.loads(json.dumps(definition["ecsProperties"]))
    task = ecs["taskProperties"][0]
    if len(task["containers"]) == 1 and not task["containers"][0].get("name"):
        task["containers"][0]["name"] = "default"   # the single-container name AWS uses (ref §6.10)
    by_name = _overrides(override, task["containers"])
    limits, total = {}, {"vcpus": 0.0, "memory": 0, "gpus": 0}
    for i, c in enumerate(task["containers"]):
        given = by_name.get(c["name"]) or {}
        job_spec.check_overrides(given, c)
        resolved = job_spec.resolve_container(c, given, parameters)
        resolved.setdefault("essential", True)
        resolved.setdefault("dependsOn", [])
        task["containers"][i] = resolved
        need = job_spec.needs(resolved)
        limits[c["name"]] = need
        for key in total:
            total[key] += need[key]
    return ecs, limits, total


def _overrides(override: dict | None, containers: list) -> dict:
    tasks = (override or {}).get("taskProperties") or []
    if len(tasks) > 1:
        raise ClientException("ecsPropertiesOverride.taskProperties can override the job's one task only")
    names = {c.get("name") for c in containers}
    out = {}
    for i, given in enumerate((tasks[0].get("containers") or []) if tasks else []):
        name = given.get("name")
        if name is None and len(containers) == 1:
            name = containers[0].get("name")
        if name not in names:
            raise ClientException(f"ecsPropertiesOverride.taskProperties[0].containers[{i}].name {name!r} doesn't "
                                  f"name a container of the job definition ({', '.join(sorted(map(str, names)))})")
        if name in out:
            raise ClientException(f"ecsPropertiesOverride.taskProperties[0].containers: {name!r} is overridden twice")
        out[name] = {k: given[k] for k in ("command", "environment", "resourceRequirements")
                     if given.get(k) is not None}
    return out


def eks_job(definition: dict, override: dict | None, parameters: dict) -> tuple[dict, dict, dict, dict]:
    """(the job's eksProperties, per-container resources {"<group>/<name>": need}, the pod's
    need, emptyDir sizes in MiB {volume: MiB})."""
    eks = json.loads(json.dumps(definition["eksProperties"]))
    pod = eks["podProperties"]
    if len(pod.get("containers") or []) == 1 and not pod.get("initContainers") and not pod["containers"][0].get("name"):
        pod["containers"][0]["name"] = "default"    # as AWS names a pod's one container
    given = (override or {}).get("podProperties") or {}
    for group in POD_GROUPS:
        _merge_pod_group(pod, group, given.get(group), parameters)
    if given.get("metadata"):
        # Labels and annotations add to the definition's; a namespace replaces its namespace.
        check_pod_namespace(given["metadata"], "eksPropertiesOverride.podProperties")
        metadata = dict(pod.get("metadata") or {})
        for key in ("labels", "annotations"):
            if given["metadata"].get(key):
                metadata[key] = {**(metadata.get(key) or {}), **given["metadata"][key]}
        if given["metadata"].get("namespace"):
            metadata["namespace"] = given["metadata"]["namespace"]
        pod["metadata"] = metadata
    limits, main, init = {}, {"vcpus": 0.0, "memory": 0, "gpus": 0}, {"vcpus": 0.0, "memory": 0, "gpus": 0}
    for group in POD_GROUPS:
        for i, c in enumerate(pod.get(group) or []):
            need = _pod_need(c, f"eksProperties.podProperties.{group}[{i}].resources")
            limits[f"{group}/{c['name']}"] = need
            for key in main:
                if group == "containers":
                    main[key] += need[key]
                else:   # Kubernetes: init containers run one at a time; the pod needs the largest
                    init[key] = max(init[key], need[key])
    total = {key: max(main[key], init[key]) for key in main}
    sizes = {}
    for v in pod.get("volumes") or []:
        size = (v.get("emptyDir") or {}).get("sizeLimit")
        if size:
            sizes[v["name"]] = max(1, math.ceil(_quantity("memory", size, f"volumes {v['name']} sizeLimit")))
    return eks, limits, total, sizes


def _merge_pod_group(pod: dict, group: str, overrides: list | None, parameters: dict) -> None:
    containers = pod.get(group) or []
    names = {c.get("name") for c in containers}
    where = f"eksPropertiesOverride.podProperties.{group}"
    by_name = {}
    for i, given in enumerate(overrides or []):
        name = given.get("name")
        if name is None and len(containers) == 1:
            name = containers[0].get("name")
        if name not in names:
            raise ClientException(f"{where}[{i}].name {name!r} doesn't name one of the job definition's {group}")
        job_spec.check_environment(given.get("env"), f"{where}[{i}].env")
        by_name[name] = given
    for i, c in enumerate(containers):
        given = by_name.get(c.get("name")) or {}
        for key in ("image", "command", "args", "resources"):
            if given.get(key) is not None:
                c[key] = given[key]      # replaced whole (EksContainerOverride)
        if given.get("env") is not None:
            env = {e["name"]: e.get("value") for e in c.get("env") or []}
            env.update({e["name"]: e.get("value") for e in given["env"]})   # merged by name (ref §6.8)
            c["env"] = [{"name": k, "value": v} for k, v in env.items() if v not in (None, "")]
        for key in ("command", "args"):
            if c.get(key):
                c[key] = job_spec.substitute(c[key], parameters)
        containers[i] = c


def _pod_need(c: dict, where: str) -> dict:
    """A container's vCPUs/MiB/GPUs: its limits, else its requests (Batch requires memory
    limits to equal requests; a limit alone is what Docker can enforce)."""
    resources = c.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    cpu = limits.get("cpu") or requests.get("cpu")
    memory = limits.get("memory") or requests.get("memory")
    gpus = limits.get("nvidia.com/gpu") or requests.get("nvidia.com/gpu")
    return {"vcpus": _quantity("cpu", cpu, f"{where}.cpu") if cpu else 0.0,
            "memory": math.ceil(_quantity("memory", memory, f"{where}.memory")) if memory else 0,
            "gpus": _gpus(gpus, f"{where}.nvidia.com/gpu") if gpus else 0}


def _gpus(text, where: str) -> int:
    text = str(text)
    if not (job_spec.WHOLE_NUMBER.fullmatch(text) and len(text) <= 10 and 0 < int(text) <= job_spec.MAX_REQUIREMENT):
        raise ClientException(f"{where}: {text!r} must be a whole number of GPUs between 1 and "
                              f"{job_spec.MAX_REQUIREMENT}")
    return int(text)


def _quantity(key: str, text, where: str) -> float:
    """A Kubernetes quantity: cpu in cores ("2", "0.5", "500m"), memory in MiB from bytes with
    an optional suffix ("1Gi", "512Mi", "1G", "1048576")."""
    text = str(text)
    # Bounded like resourceRequirements values (job_spec.MAX_REQUIREMENT): no 400-digit numbers.
    if key == "cpu":
        match = _CPU.fullmatch(text) if len(text) <= 24 else None
        value = float(match.group(1)) / (1000 if match.group(2) else 1) if match else 0
        if 0 < value <= job_spec.MAX_REQUIREMENT:
            return value
        raise ClientException(f"{where}: {text!r} is not a valid cpu quantity (e.g. \"1\", \"0.5\", \"500m\"; "
                              f"at most {job_spec.MAX_REQUIREMENT})")
    match = _MEMORY.fullmatch(text) if len(text) <= 24 else None
    value = float(match.group(1)) * _MEMORY_UNITS[match.group(2)] / 2 ** 20 if match else 0
    if 0 < value <= job_spec.MAX_REQUIREMENT:
        return value
    raise ClientException(f"{where}: {text!r} is not a valid memory quantity (e.g. \"512Mi\", \"2Gi\"; at most "
                          f"{job_spec.MAX_REQUIREMENT} MiB)")
