"""Fargate rules as AWS enforces them (ref §5.3, §3.1) that job_definition_rules does not hold:
the task settings of a Fargate job definition (platform version, ephemeral storage, runtime
platform, Windows limits, EFS's platform version) and the VCPU/MEMORY pair a job is submitted
with (containerOverrides.resourceRequirements must still be a Fargate size).

The sizes themselves (FARGATE_MEMORY), the execution role, host volumes, privileged, ulimits,
devices and log drivers are checked at registration by job_definition_rules. Pure validation:
no store, no operation; bad input raises ClientException naming the field and the rule.
"""

from __future__ import annotations

from batchemu.batch.errors import ClientException, wrapped
from batchemu.context import RequestContext

# ECS developer guide, "Fargate platform versions": Linux 1.4.0 and 1.3.0 (LATEST is 1.4.0);
# Windows 1.0.0.
LINUX_VERSIONS = ("LATEST", "1.4.0", "1.3.0")
WINDOWS_VERSIONS = ("LATEST", "1.0.0")
CPU_ARCHITECTURES = ("X86_64", "ARM64")                               # model: RuntimePlatform
LINUX = "LINUX"
OS_FAMILIES = (LINUX, "WINDOWS_SERVER_2019_CORE", "WINDOWS_SERVER_2019_FULL",
               "WINDOWS_SERVER_2022_CORE", "WINDOWS_SERVER_2022_FULL")
# model, RuntimePlatform: "The following parameters can't be set for Windows containers".
WINDOWS_FORBIDDEN = ("linuxParameters", "privileged", "user", "ulimits", "readonlyRootFilesystem")
EPHEMERAL_MIN_GIB, EPHEMERAL_MAX_GIB = 21, 200                         # model: EphemeralStorage
EFS_VERSION = "Error executing request, Exception : EFS is supported for Fargate platform version 1.4.0."


def check_task(ctx: RequestContext, task: dict, containers: list, where: str) -> None:
    """A Fargate task's settings: `task` is containerProperties (it holds them itself) or an
    ecsProperties task; `containers` are (container, where) pairs."""
    runtime = task.get("runtimePlatform") or {}
    arch = runtime.get("cpuArchitecture")
    family = runtime.get("operatingSystemFamily")
    if arch is not None and arch not in CPU_ARCHITECTURES:
        raise ClientException(f"{where}.runtimePlatform.cpuArchitecture must be one of "
                              f"{', '.join(CPU_ARCHITECTURES)}, got {arch!r}")
    if family is not None and family not in OS_FAMILIES:
        raise ClientException(f"{where}.runtimePlatform.operatingSystemFamily must be one of "
                              f"{', '.join(OS_FAMILIES)}, got {family!r}")
    windows = family not in (None, LINUX)
    if windows and arch == "ARM64":
        raise ClientException(f"{where}.runtimePlatform.cpuArchitecture must be X86_64 for Windows "
                              f"containers (operatingSystemFamily {family})")
    if windows:
        for container, c_where in containers:
            found = [k for k in WINDOWS_FORBIDDEN if container.get(k) not in (None, False, [], {})]
            if found:
                raise ClientException(f"{c_where}.{found[0]} can't be set for Windows containers "
                                      f"(operatingSystemFamily {family})")
    version = (task.get("fargatePlatformConfiguration") or {}).get("platformVersion")
    allowed = WINDOWS_VERSIONS if windows else LINUX_VERSIONS
    if version is not None and version not in allowed:
        raise ClientException(f"{where}.fargatePlatformConfiguration.platformVersion {version!r} isn't a "
                              f"Fargate platform version for {family or LINUX}; use one of {', '.join(allowed)}")
    if version == "1.3.0" and any(v.get("efsVolumeConfiguration") for v in task.get("volumes") or []):
        raise wrapped(ctx, EFS_VERSION)  # ref §5.3, Appendix A (batchemu accepts LATEST, which is 1.4.0)
    size = (task.get("ephemeralStorage") or {}).get("sizeInGiB")
    if size is not None and not EPHEMERAL_MIN_GIB <= size <= EPHEMERAL_MAX_GIB:
        raise ClientException(f"{where}.ephemeralStorage.sizeInGiB must be between {EPHEMERAL_MIN_GIB} and "
                              f"{EPHEMERAL_MAX_GIB} GiB on Fargate, got {size}")


def check_submitted(container: dict, sizes: dict, where: str = "containerOverrides.resourceRequirements") -> None:
    """The VCPU/MEMORY pair a Fargate job runs with, after containerOverrides (ref §5.3, §6.8):
    one of the Fargate sizes (`sizes`: VCPU -> allowed MiB), and no GPU."""
    given = {r["type"]: r["value"] for r in container.get("resourceRequirements") or []}
    if "GPU" in given:
        raise ClientException(f"{where}: GPU isn't available on Fargate resources")
    try:
        vcpus = float(given.get("VCPU", ""))
    except ValueError:
        vcpus = None
    if vcpus not in sizes:
        raise ClientException(f"{where}: Value {given.get('VCPU')} for type VCPU isn't supported on Fargate; "
                              f"use one of {', '.join(f'{v:g}' for v in sizes)}")
    memory = int(float(given.get("MEMORY") or 0))
    if memory not in sizes[vcpus]:
        raise ClientException(f"{where}: MEMORY {memory} MiB isn't valid on Fargate with {vcpus:g} VCPU; "
                              f"allowed: {', '.join(map(str, sizes[vcpus]))}")
