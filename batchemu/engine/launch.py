"""From a job (just moved to STARTING) to the runner's LaunchSpec: the resolved container,
the AWS_BATCH_* variables (ref §6.9), limits, mounts and labels.

Also names an attempt's log group and stream (ref §6.10).
"""

from __future__ import annotations

import dataclasses

from batchemu.runners.base import ClusterPlace, LaunchSpec, Mount

DEFAULT_LOG_GROUP = "/aws/batch/job"


def log_names(job: dict, task_id: str) -> tuple[str, str]:
    """(group, stream): `/aws/batch/job` and `<definition name[:200]>/default/<task id>`, or the
    definition's awslogs-group / awslogs-stream-prefix (ref §6.10)."""
    config = job.get("_logConfiguration") or {}
    options = config.get("options") or {} if config.get("logDriver") == "awslogs" else {}
    group = options.get("awslogs-group") or DEFAULT_LOG_GROUP
    prefix = options.get("awslogs-stream-prefix") or job["_definitionName"][:200]
    return group, f"{prefix}/default/{task_id}"


def batch_environment(job: dict, ce_name: str) -> dict:
    env = {
        "AWS_BATCH_JOB_ID": job["jobId"],
        "AWS_BATCH_JQ_NAME": job["_queueName"],
        "AWS_BATCH_CE_NAME": ce_name,
        "AWS_BATCH_JOB_ATTEMPT": str(job["_attempt"]),
    }
    if job.get("_parent") and job.get("arrayProperties"):  # an array child (a node has _parent too)
        env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(job["arrayProperties"]["index"])
        env["AWS_BATCH_JOB_ARRAY_SIZE"] = str(job["_arraySize"])
    node = job.get("nodeDetails")
    if node is not None:  # a multi-node job's node (ref §6.9, §12)
        env["AWS_BATCH_JOB_NODE_INDEX"] = str(node["nodeIndex"])
        env["AWS_BATCH_JOB_NUM_NODES"] = str(job["_numNodes"])
        env["AWS_BATCH_JOB_MAIN_NODE_INDEX"] = str(job["_mainNode"])
        if not node["isMainNode"]:  # only the other nodes are told the main node's address
            env["AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"] = job["_mainAddress"]
    return env


# The task metadata endpoint's URIs (job_endpoint): each container of a multi-container ECS
# task gets its own, the task's URI plus ".<container name>" (task_metadata.py reads it).
METADATA_VARIABLES = ("ECS_CONTAINER_METADATA_URI_V4", "ECS_CONTAINER_METADATA_URI")


def launch_spec(job: dict, ce_name: str, extra_env: dict | None = None) -> LaunchSpec:
    c = job["container"]
    env = {e["name"]: e["value"] for e in c.get("environment") or []}
    extra = dict(extra_env or {})
    # A member of a multi-container ECS task (engine.task_jobs' kind "ecs"; a single-container
    # Managed Instances job's container may have a name too, but is the task's only container).
    if (job.get("_task") or {}).get("kind") == "ecs" and c.get("name"):
        for key in METADATA_VARIABLES:
            if key in extra:
                extra[key] = f"{extra[key]}.{c['name']}"
    for key, value in extra.items():
        env.setdefault(key, value)  # the job's own settings win (e.g. its own AWS_REGION)
    env.update(batch_environment(job, ce_name))
    linux = c.get("linuxParameters") or {}
    need = job["_need"]
    return LaunchSpec(
        job_id=job["jobId"],
        attempt=job["_attempt"],
        name=f"batchemu-{job['jobName']}-{job['jobId'].replace(':', '-')}",
        image=c["image"],
        command=list(c.get("command") or []),
        environment=env,
        vcpus=need["vcpus"],
        memory_mib=need["memory"],
        gpus=need["gpus"],
        user=c.get("user"),
        privileged=bool(c.get("privileged")),
        readonly_root=bool(c.get("readonlyRootFilesystem")),
        ulimits=tuple(c.get("ulimits") or ()),
        shared_memory_mib=linux.get("sharedMemorySize"),
        tmpfs=tuple(linux.get("tmpfs") or ()),
        devices=tuple(linux.get("devices") or ()),
        init_process=bool(linux.get("initProcessEnabled")),
        mounts=_mounts(c),
        labels={"batchemu.job-name": job["jobName"][:128], "batchemu.account": job["_account"]},
        network=job.get("_network"),  # "host" for ECS Managed Instances jobs; else the runner's
        group_network=job.get("_groupNetwork"),  # a multi-node job's own network (engine.multinode)
        place=place_of(job),
    )


def cluster_place(ce: dict) -> ClusterPlace | None:
    """Where an EKS compute environment's jobs run (its eksConfiguration); None for any other
    compute environment. A job keeps it from the start of an attempt (`_place`, place_of)."""
    eks = ce.get("eksConfiguration")
    return ClusterPlace(eks["eksClusterArn"], eks["kubernetesNamespace"]) if eks else None


def kept_place(ce: dict) -> dict | None:
    """cluster_place as the job document keeps it."""
    place = cluster_place(ce)
    return dataclasses.asdict(place) if place else None


def place_of(job: dict) -> ClusterPlace | None:
    """The ClusterPlace of the job's current attempt (kept_place)."""
    return ClusterPlace(**job["_place"]) if job.get("_place") else None


def _mounts(c: dict) -> tuple:
    """Host volumes named by mountPoints; other volume kinds (EFS, S3 Files) are not emulated."""
    hosts = {v["name"]: (v.get("host") or {}).get("sourcePath")
             for v in c.get("volumes") or [] if v.get("name")}
    out = []
    for mp in c.get("mountPoints") or []:
        source = hosts.get(mp.get("sourceVolume"))
        if source and mp.get("containerPath"):
            out.append(Mount(source, mp["containerPath"], bool(mp.get("readOnly"))))
    return tuple(out)
