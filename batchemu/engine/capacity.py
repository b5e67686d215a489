"""How much a compute environment can hold and whether a job fits (ref §11.2, §11.5).

vCPUs: a MANAGED CE holds up to maxvCpus; an UNMANAGED one its unmanagedvCpus, or this host's
CPU count when that is 0. Memory is notional: 8 GiB per vCPU of capacity (the memory per vCPU
of the largest instance families `optimal` picks), so only absurd requests never fit. GPUs:
what the runner can hand out on this host. A runner whose nodes bound what runs at once
(Kubernetes: runners.base.Room) bounds every compute environment together too, and a job no
node could hold is blocked as a job no instance type fits.
"""

from __future__ import annotations

import os

MIB_PER_VCPU = 8192
COMPUTE_MAX = ("MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - CE(s) associated with the job "
               "queue cannot meet the CPU requirement of the job.")
JOB_REQUIREMENT = ("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement "
                   "(vCPU/memory/GPU) is higher than that can be met by the CE(s) attached to the job queue.")
ALL_INVALID = "ACTION_REQUIRED - CE(s) associated with the job queue are invalid."


def vcpu_capacity(ce: dict) -> float:
    if ce.get("type") == "UNMANAGED":
        return float(ce.get("unmanagedvCpus") or os.cpu_count() or 1)
    return float((ce.get("computeResources") or {}).get("maxvCpus") or 0)


def memory_capacity(ce: dict) -> float:
    return vcpu_capacity(ce) * MIB_PER_VCPU


def usable(ce: dict) -> bool:
    return ce.get("state") == "ENABLED" and ce.get("status") in ("VALID", "UPDATING")


class Usage:
    """What STARTING/RUNNING jobs hold, per CE (vCPU, MiB) and on the host (GPUs)."""

    def __init__(self, busy_jobs):
        self.vcpus, self.memory, self.gpus = {}, {}, 0
        self.all_vcpus, self.all_memory = 0.0, 0.0   # every CE's together (a Room bounds them)
        for job in busy_jobs:
            self.add(job.get("_ce"), job["_need"])

    def add(self, ce_arn, need: dict) -> None:
        if ce_arn is None:
            return
        self.vcpus[ce_arn] = self.vcpus.get(ce_arn, 0.0) + need["vcpus"]
        self.memory[ce_arn] = self.memory.get(ce_arn, 0.0) + need["memory"]
        self.gpus += need["gpus"]
        self.all_vcpus += need["vcpus"]
        self.all_memory += need["memory"]

    def fits_now(self, ce: dict, need: dict, host_gpus: int, room=None) -> bool:
        arn = ce["computeEnvironmentArn"]
        return (self.vcpus.get(arn, 0.0) + need["vcpus"] <= vcpu_capacity(ce) + 1e-9
                and self.memory.get(arn, 0.0) + need["memory"] <= memory_capacity(ce)
                and self.gpus + need["gpus"] <= host_gpus
                and (room is None or (self.all_vcpus + need["vcpus"] <= room.vcpus + 1e-9
                                      and self.all_memory + need["memory"] <= room.memory_mib)))


def never_fits_reason(ces: list, need: dict, host_gpus: int, room=None) -> str | None:
    """The blocked reason when no usable CE could ever hold the job, else None. `room`: the
    runner's nodes (runners.base.Room) for a job that runs as one pod, so must fit one node."""
    if not ces:
        return None
    if all(ce.get("status") == "INVALID" for ce in ces):
        return ALL_INVALID
    live = [ce for ce in ces if usable(ce)]
    if not live:
        return None  # disabled: held, not misconfigured
    if all(need["vcpus"] > vcpu_capacity(ce) for ce in live):
        return COMPUTE_MAX
    if all(need["memory"] > memory_capacity(ce) or need["vcpus"] > vcpu_capacity(ce) for ce in live) \
            or need["gpus"] > host_gpus:
        return JOB_REQUIREMENT
    if room is not None and (need["vcpus"] > room.node_vcpus + 1e-9 or need["memory"] > room.node_memory_mib):
        return JOB_REQUIREMENT   # no node is big enough: as no instance type is (ref §11.2)
    return None
