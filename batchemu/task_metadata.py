"""The ECS task metadata endpoint (v4, and v3 at its own prefix) for job containers:

    GET /batchemu/ecs-metadata/v4/<token>              the container's document
    GET /batchemu/ecs-metadata/v4/<token>/task         the task's document (Containers[] inside)
    GET /batchemu/ecs-metadata/v4/<token>/stats        minimal Docker-stats-like documents
    GET /batchemu/ecs-metadata/v4/<token>/task/stats

The job container finds the URL in ECS_CONTAINER_METADATA_URI_V4 (ECS_CONTAINER_METADATA_URI
for v3), set by job_endpoint.JobEndpoint. As on AWS (a link-local address any process in the
task can read), no SigV4 signature is asked for: the token is the credential. It names the job
and attempt and carries an HMAC keyed by a secret kept in the store, so it reveals one task's
own metadata and nothing else; anything that does not match answers 404 alike.

Document shapes follow the ECS developer guide ("Amazon ECS task metadata V4 JSON response"
and its examples): TaskARN, Cluster, Family, Revision, Desired/KnownStatus, Limits,
AvailabilityZone, LaunchType, Containers[] {DockerId, Name, DockerName, Image, Labels, Limits,
LogDriver awslogs, LogOptions {awslogs-group, awslogs-region, awslogs-stream}, Networks, ...}.
Batch's task: one container named `default` (its log stream is `<prefix>/default/<task id>`), or
for an ecsProperties job the task's containers, each reading its own document at its own URI
(the token plus `.<container name>`); Family and Revision are the job definition's name and
revision; DockerId is the task id (plus `-<name>` for a task's containers; the Docker container
id is the runner's, not kept in the store); DockerName is a single container's real name. EKS
pods get none of this (no ECS agent runs them). Reads the store only; knows no engine.
"""

from __future__ import annotations

import datetime
import json

from flask import Response

from batchemu.job_endpoint import METADATA_PATH, TOKEN, is_ecs_task_job
from batchemu.store.jobs import Jobs
from batchemu.vocabulary import job_states

VERSIONS = ("v4", "v3")
SUFFIXES = ("", "/task/stats", "/task", "/stats")  # longest first: "/task/stats" ends in "/stats"
CONTAINER_NAME = "default"  # Batch's container in the task (ref §6.10: <prefix>/default/<task id>)


def make_frontend(store, job_endpoint):
    jobs = Jobs(store)

    def frontend(req):
        if not req.path.startswith(METADATA_PATH + "/"):
            return None
        if req.method not in ("GET", "HEAD"):
            return _json({"message": f"{req.method} is not allowed here; use GET"}, 405, {"Allow": "GET"})
        found = _resolve(jobs, job_endpoint, req.path[len(METADATA_PATH) + 1:])
        if found is None:
            return _json({"message": "No task metadata at this address"}, 404)
        job, attempt, name, suffix = found
        task = task_document(job, attempt, job.get("_network") or job_endpoint.config.job_network)
        mine = [c for c in task["Containers"] if name is None or c["Name"] == name]
        if not mine:
            return _json({"message": "No task metadata at this address"}, 404)
        if suffix == "":
            return _json(mine[0])
        if suffix == "/task":
            return _json(task)
        if suffix == "/stats":
            return _json(_stats(job, mine[0]))
        return _json({c["DockerId"]: _stats(job, c) for c in task["Containers"]})

    return frontend


def _resolve(jobs: Jobs, job_endpoint, rest: str):
    """`<version>/<token><suffix>` -> (job, attempt, container name or None, suffix), or None
    for anything else."""
    version, _, rest = rest.partition("/")
    if version not in VERSIONS:
        return None
    token, suffix = rest, ""
    for candidate in SUFFIXES[1:]:
        if rest.endswith(candidate):
            token, suffix = rest[: -len(candidate)], candidate
            break
    match = TOKEN.fullmatch(token)
    if match is None:
        return None
    job = jobs.get(match["job"])
    attempt = int(match["attempt"])
    if (job is None or str(attempt) not in (job.get("_tasks") or {})
            or not job_endpoint.metadata_token_matches(job, attempt, match["mac"])
            or (match["container"] is not None) != is_ecs_task_job(job)):
        return None
    return job, attempt, match["container"], suffix


def task_document(job: dict, attempt: int, network: str = "host") -> dict:
    """The v4 task document of `attempt`; `network` is the Docker network the container runs on."""
    task = job["_tasks"][str(attempt)]
    region, account = job["_region"], job["_account"]
    task_arn = task["taskArn"]
    cluster_name, task_id = task_arn.split(":task/", 1)[1].split("/", 1)
    status = _known_status(job, attempt)
    family, _, revision = job["jobDefinition"].rsplit("/", 1)[-1].partition(":")
    fargate = "FARGATE" in (job.get("platformCapabilities") or [])
    started = _iso(job.get("startedAt")) if attempt == job.get("_attempt") else None
    cluster = f"arn:aws:ecs:{region}:{account}:cluster/{cluster_name}"
    # Networks: the network the container really runs on: on the host's, it is reached at
    # loopback; elsewhere Docker assigns the address, which batchemu does not keep.
    networks = [{"NetworkMode": "host", "IPv4Addresses": ["127.0.0.1"]} if network == "host"
                else {"NetworkMode": network}]
    containers = []
    for member in _members(job, task):
        labels = {"com.amazonaws.ecs.cluster": cluster,
                  "com.amazonaws.ecs.container-name": member["name"],
                  "com.amazonaws.ecs.task-arn": task_arn,
                  "com.amazonaws.ecs.task-definition-family": family,
                  "com.amazonaws.ecs.task-definition-version": revision}
        vcpus, memory = member["need"].get("vcpus") or 0, member["need"].get("memory") or 0
        containers.append(_drop_none({
            # The task id names a single-container task's container; a task member adds its name.
            "DockerId": task_id if member["single"] else f"{task_id}-{member['name']}",
            "Name": member["name"],
            "DockerName": member["docker_name"],
            "Image": member["image"],
            "Labels": labels,
            "DesiredStatus": "STOPPED" if status == "STOPPED" else "RUNNING",
            "KnownStatus": status,
            # Container limits: CPU in CPU units (1024 per vCPU), Memory in MiB.
            "Limits": {"CPU": int(vcpus * 1024), "Memory": memory},
            "CreatedAt": _iso(job.get("createdAt")),
            "StartedAt": started,
            "Type": "NORMAL",
            "LogDriver": "awslogs",
            "LogOptions": {"awslogs-group": member["log"][0], "awslogs-region": region,
                           "awslogs-stream": member["log"][1]},
            "ContainerARN": f"arn:aws:ecs:{region}:{account}:container/{cluster_name}/{task_id}/{member['name']}",
            "Networks": networks,
        }))
    need = job.get("_need") or {}
    return _drop_none({
        "Cluster": cluster,
        "TaskARN": task_arn,
        "Family": family,
        "Revision": revision,
        "DesiredStatus": containers[0]["DesiredStatus"],
        "KnownStatus": status,
        # Task limits: CPU in vCPUs, Memory in MiB.
        "Limits": {"CPU": need.get("vcpus") or 0, "Memory": need.get("memory") or 0},
        "PullStartedAt": started,
        "PullStoppedAt": started,
        "AvailabilityZone": f"{region}a",
        "LaunchType": "FARGATE" if fargate else "EC2",
        "Containers": containers,
    })


def _members(job: dict, task: dict) -> list[dict]:
    """The task's containers: a container job's one (`default`), or each container of a
    multi-container ECS task (its own resources and log stream, as engine.task_jobs records them)."""
    if not is_ecs_task_job(job):
        return [{"name": CONTAINER_NAME, "single": True, "image": job["container"].get("image"),
                 "need": job.get("_need") or {}, "log": (task["logGroup"], task["logStreamName"]),
                 "docker_name": f"batchemu-{job['jobName']}-{job['jobId'].replace(':', '-')}"}]
    limits = (job.get("_task") or {}).get("limits") or {}
    streams = task.get("streams") or {}
    return [{"name": c["name"], "single": False, "image": c.get("image"), "need": limits.get(c["name"]) or {},
             "log": tuple(streams.get(c["name"]) or (task["logGroup"], task["logStreamName"])),
             "docker_name": None}
            for c in job["ecsProperties"]["taskProperties"][0]["containers"]]


def _known_status(job: dict, attempt: int) -> str:
    """RUNNING while the attempt is the job's current one and the job has not ended: only a
    started container holds the URL, and it may ask before the engine has recorded RUNNING."""
    if attempt != job.get("_attempt") or job["status"] in job_states.TERMINAL:
        return "STOPPED"
    return "RUNNING"


def _stats(job: dict, container: dict) -> dict:
    """A minimal Docker stats document: batchemu does not sample the container's usage."""
    limits = container["Limits"]
    return {"read": _iso(job.get("startedAt")), "name": container["Name"],
            "memory_stats": {"limit": limits["Memory"] * 1024 * 1024},
            "cpu_stats": {"online_cpus": max(1, limits["CPU"] // 1024)}}


def _iso(ms) -> str | None:
    if ms is None:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def _json(body: dict, status: int = 200, headers=None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)
