"""What in a job definition or a job's container gives the job the host: host volumes
(`host.sourcePath`, EKS `hostPath`), devices, privileged containers, host namespaces
(ECS `pidMode`/`ipcMode` "host", EKS `hostNetwork: true`). Finds the members and words the
refusal; the callers decide when to refuse (Fargate always, ref §5.3; everywhere with
--deny-host-access). Knows no HTTP and no runner.
"""

from __future__ import annotations

from batchemu.batch.errors import ClientException

OPTION = "--deny-host-access (BATCHEMU_DENY_HOST_ACCESS=1)"


def in_container(c: dict, where: str) -> list[str]:
    """An ECS container (containerProperties, a node range's container, a task container, or a
    job's resolved container); its own `volumes` too, where it has them."""
    found = [f"{where}.privileged"] if c.get("privileged") else []
    found += [f"{where}.linuxParameters.devices[{i}]"
              for i, _ in enumerate((c.get("linuxParameters") or {}).get("devices") or [])]
    return found + in_volumes(c.get("volumes"), f"{where}.volumes")


def in_volumes(volumes: list | None, where: str) -> list[str]:
    # A host volume without sourcePath is a Docker-managed volume, not a host path (ECS).
    return [f"{where}[{i}].host.sourcePath" for i, v in enumerate(volumes or [])
            if (v.get("host") or {}).get("sourcePath")]


def in_definition(params: dict) -> list[str]:
    """Every member of a RegisterJobDefinition request that gives the job the host."""
    found = []
    blocks = [("", params)] + [(f"nodeProperties.nodeRangeProperties[{i}].", r)
                          for i, r in enumerate((params.get("nodeProperties") or {}).get("nodeRangeProperties") or [])]
    for prefix, block in blocks:
        for key in ("containerProperties", "container"):
            if block.get(key):
                found += in_container(block[key], prefix + key)
        for i, task in enumerate((block.get("ecsProperties") or {}).get("taskProperties") or []):
            where = f"{prefix}ecsProperties.taskProperties[{i}]"
            found += [f"{where}.{mode}" for mode in ("pidMode", "ipcMode") if task.get(mode) == "host"]
            found += in_volumes(task.get("volumes"), f"{where}.volumes")
            for j, c in enumerate(task.get("containers") or []):
                found += in_container(c, f"{where}.containers[{j}]")
        pod = (block.get("eksProperties") or {}).get("podProperties") or {}
        where = f"{prefix}eksProperties.podProperties"
        # EKS pods are not run here; an explicit true is refused, the model's default is not.
        if pod.get("hostNetwork") is True:
            found.append(f"{where}.hostNetwork")
        found += [f"{where}.volumes[{i}].hostPath" for i, v in enumerate(pod.get("volumes") or [])
                  if v.get("hostPath") is not None]
        for group in ("containers", "initContainers"):
            found += [f"{where}.{group}[{i}].securityContext.privileged"
                      for i, c in enumerate(pod.get(group) or [])
                      if (c.get("securityContext") or {}).get("privileged")]
    return found


def refuse(found: list[str], context: str = "") -> None:
    """ClientException naming the first member and the option, when there is one."""
    if found:
        raise ClientException(f"{context}{found[0]} gives the job access to the host, which this server "
                              f"refuses ({OPTION})")
