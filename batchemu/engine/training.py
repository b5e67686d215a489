"""A service job's attempt as a SageMaker training job (ref §13.3): its name, ARN and log
stream, and a LaunchSpec that runs the request's AlgorithmSpecification.TrainingImage the way
SageMaker runs training containers: `train` as the command, /opt/ml/input/config/*.json written
from the request, /opt/ml/model and /opt/ml/output as host directories kept under the data dir.

Emulated: TrainingImage, ContainerEntrypoint/ContainerArguments, HyperParameters, Environment,
InputDataConfig channel names (empty directories: no S3 download), EnableNetworkIsolation, the
/opt/ml/output/failure message. Not: S3 input/output, instance types and counts as real
resources (one container, unlimited), distributed training, spot, checkpoints, metrics.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from pathlib import Path

from batchemu.runners.base import LaunchSpec, Mount

log = logging.getLogger("batchemu.scheduler")

LOG_GROUP = "/aws/sagemaker/TrainingJobs"   # SageMaker's group for training job output
ML = "/opt/ml"
NAME_MAX = 63                                # SageMaker TrainingJobName length limit
FAILURE_MAX = 1024                           # SageMaker keeps FailureReason to 1024 characters
# SageMaker's CreateTrainingJob model (botocore `sagemaker`): ChannelName is 1 to 64 of these
# characters; TrainingJobName 1 to 63 alphanumerics and inner hyphens. A channel name becomes a
# directory (input/data/<channel>), a job name a container and log stream name.
CHANNEL_NAME = re.compile(r"[A-Za-z0-9.\-_]{1,64}")
CHANNEL_RULE = r"1 to 64 characters of [A-Za-z0-9\.\-_]+"
TRAINING_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
TRAINING_JOB_NAME_RULE = "1 to 63 characters matching [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"


class Rejected(Exception):
    """The training request can't be run (SageMaker's CreateTrainingJob would refuse it)."""


def check_request(request: dict) -> None:
    """Refuse (Rejected, naming the member and the rule) what SageMaker's CreateTrainingJob
    would refuse among the members batchemu reads: wrong types, and names that become paths or
    container names. Called at SubmitServiceJob, so nothing unchecked is ever stored; the
    Workspace checks again that every directory stays inside the attempt's own."""
    name = request.get("TrainingJobName")
    if name is not None and not (isinstance(name, str) and TRAINING_JOB_NAME.fullmatch(name)):
        raise Rejected(f"TrainingJobName {name!r} must be {TRAINING_JOB_NAME_RULE}")
    for member in ("AlgorithmSpecification", "ResourceConfig", "HyperParameters", "Environment"):
        _check_type(request, member, dict, "an object")
    _check_type(request, "InputDataConfig", list, "a list")
    _check_type(request, "EnableNetworkIsolation", bool, "true or false")
    algorithm = request.get("AlgorithmSpecification") or {}
    _check_type(algorithm, "TrainingImage", str, "a string", "AlgorithmSpecification.")
    _check_type(algorithm, "TrainingInputMode", str, "a string", "AlgorithmSpecification.")
    for member in ("ContainerEntrypoint", "ContainerArguments"):
        values = algorithm.get(member)
        if values is not None and not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
            raise Rejected(f"AlgorithmSpecification.{member} must be a list of strings")
    seen = set()
    for i, channel in enumerate(request.get("InputDataConfig") or []):
        where = f"InputDataConfig[{i}]"
        if not isinstance(channel, dict):
            raise Rejected(f"{where} must be an object (a Channel)")
        channel_name = channel.get("ChannelName")
        if not (isinstance(channel_name, str) and CHANNEL_NAME.fullmatch(channel_name)):
            raise Rejected(f"{where}.ChannelName {channel_name!r} must be {CHANNEL_RULE}")
        if channel_name in (".", ".."):
            # The pattern allows them; as directories they would name input/data itself or
            # its parent, so no channel could be told apart from the others.
            raise Rejected(f"{where}.ChannelName {channel_name!r} can't be '.' or '..': a channel is a "
                           "directory of its own under /opt/ml/input/data")
        if channel_name in seen:
            raise Rejected(f"{where}.ChannelName {channel_name!r} is given more than once; channel names "
                           "must be unique")
        seen.add(channel_name)
        for member in ("InputMode", "ContentType", "RecordWrapperType", "CompressionType"):
            _check_type(channel, member, str, "a string", where + ".")


def _check_type(parent: dict, member: str, kind: type, what: str, prefix: str = "") -> None:
    value = parent.get(member)
    if value is not None and not isinstance(value, kind):
        raise Rejected(f"{prefix}{member} must be {what}, got {type(value).__name__}")


def within(base: Path, *parts: str) -> Path:
    """base/parts, resolved; Rejected unless it stays strictly inside base (defence in depth
    for documents stored before check_request existed)."""
    root = base.resolve()
    path = root.joinpath(*parts).resolve()
    if path == root or not path.is_relative_to(root):
        raise Rejected(f"{'/'.join(parts)!r} would lie outside {root}")
    return path


def payload(job: dict) -> dict:
    return json.loads(job["serviceRequestPayload"])


def job_name(job: dict, attempt: int) -> str:
    """The request's TrainingJobName (else the Batch job name) for the first attempt; each
    retry is a new training job, `<name>-<attempt>` (SageMaker names are unique)."""
    base = payload(job).get("TrainingJobName") or job["jobName"]
    if attempt == 1:
        return base[:NAME_MAX]
    suffix = f"-{attempt}"
    return base[:NAME_MAX - len(suffix)] + suffix


def job_arn(job: dict, name: str) -> str:
    region = job["_region"]
    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    return f"arn:{partition}:sagemaker:{region}:{job['_account']}:training-job/{name.lower()}"


def log_stream(name: str, now_ms: int) -> str:
    return f"{name}/algo-1-{now_ms // 1000}"  # SageMaker: <job name>/<host>-<epoch seconds>


class Workspace:
    """Where attempts' /opt/ml directories live: `<data dir>/service-jobs/<job id>/<attempt>`,
    or a temporary directory for an in-memory (ephemeral) store. Kept after the job ends, so
    the model and output can be read."""

    def __init__(self, store, root=None):
        self._root = Path(root) if root is not None else None
        self._store_path = store.path

    @property
    def root(self) -> Path:
        if self._root is None:
            if self._store_path == ":memory:":
                self._root = Path(tempfile.mkdtemp(prefix="batchemu-service-jobs-"))
            else:
                self._root = Path(self._store_path).parent / "service-jobs"
            log.info("service job (SageMaker /opt/ml) directories are kept in %s", self._root)
        return self._root

    def clear(self) -> None:
        """Remove every job's directories (a reset: Scheduler.reset forgets the jobs that own
        them). Only the workspace's own children, never a path a request named."""
        root = self._root
        if root is None and self._store_path != ":memory:":
            root = Path(self._store_path).parent / "service-jobs"
        if root is not None and root.is_dir():
            for child in root.iterdir():
                shutil.rmtree(child, ignore_errors=True)

    def attempt_dir(self, job: dict, attempt: int | None = None) -> Path:
        return self.root / job["jobId"] / str(attempt or job["_attempt"])

    def launch_spec(self, job: dict, task: dict, runner, extra_env: dict) -> LaunchSpec:
        request = payload(job)
        check_request(request)
        algorithm = request.get("AlgorithmSpecification") or {}
        image = algorithm.get("TrainingImage")
        if not image:
            raise Rejected("ValidationException: batchemu runs AlgorithmSpecification.TrainingImage as a "
                           "container; this training job names none (AlgorithmName algorithms can't run "
                           "locally)")
        root = self.attempt_dir(job)
        config = root / "input" / "config"
        config.mkdir(parents=True, exist_ok=True)
        channels = request.get("InputDataConfig") or []
        mode = algorithm.get("TrainingInputMode") or "File"
        resource = request.get("ResourceConfig") or {}
        _write(config / "hyperparameters.json", {k: str(v) for k, v in (request.get("HyperParameters") or {}).items()})
        _write(config / "inputdataconfig.json", {
            c["ChannelName"]: {"TrainingInputMode": c.get("InputMode") or mode,
                               **{k: c[k] for k in ("ContentType", "RecordWrapperType", "CompressionType")
                                  if c.get(k)}}
            for c in channels if c.get("ChannelName")})
        _write(config / "resourceconfig.json", {
            "current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0",
            "current_instance_type": resource.get("InstanceType") or "local",
            "current_group_name": "homogeneousCluster"})
        for channel in channels:
            if channel.get("ChannelName"):
                within(root / "input" / "data", channel["ChannelName"]).mkdir(parents=True, exist_ok=True)
        for sub in ("model", "output/data", "code", "checkpoints"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        # In a container the directory is /opt/ml; a host process (the process runner, which
        # mounts nothing) is given the host directory through the same variables instead.
        ml = str(root) if getattr(runner, "name", "") == "process" else ML
        env = {k: str(v) for k, v in (request.get("Environment") or {}).items()}
        conventions = {  # the sagemaker-training-toolkit's variables, for scripts that read them
            "SM_MODEL_DIR": f"{ml}/model", "SM_OUTPUT_DIR": f"{ml}/output",
            "SM_OUTPUT_DATA_DIR": f"{ml}/output/data", "SM_INPUT_DIR": f"{ml}/input",
            "SM_INPUT_CONFIG_DIR": f"{ml}/input/config", "SM_CHANNELS": json.dumps(
                [c["ChannelName"] for c in channels if c.get("ChannelName")]),
            "SM_HPS": json.dumps(request.get("HyperParameters") or {}),
            **{f"SM_CHANNEL_{c['ChannelName'].upper()}": f"{ml}/input/data/{c['ChannelName']}"
               for c in channels if c.get("ChannelName")}}
        for key, value in {**conventions, **extra_env}.items():
            env.setdefault(key, value)
        env["TRAINING_JOB_NAME"] = task["trainingJobName"]           # set by SageMaker
        env["TRAINING_JOB_ARN"] = task["serviceResourceId"]["value"]
        if algorithm.get("ContainerEntrypoint"):
            command = list(algorithm["ContainerEntrypoint"]) + list(algorithm.get("ContainerArguments") or [])
        else:
            command = list(algorithm.get("ContainerArguments") or ["train"])  # SageMaker runs `<image> train`
        return LaunchSpec(
            job_id=job["jobId"], attempt=job["_attempt"], name=f"batchemu-sm-{task['trainingJobName']}",
            image=image, command=command, environment=env, mounts=(Mount(str(root), ML, owned=True),),
            network="none" if request.get("EnableNetworkIsolation") else None,
            labels={"batchemu.service-job-name": job["jobName"][:128], "batchemu.account": job["_account"]})

    def failure_reason(self, job: dict, exit_code, reason, oom: bool) -> str:
        """SageMaker's FailureReason: the container's /opt/ml/output/failure message, else its
        exit code; a container that never ran is the caller's error (ClientError)."""
        if exit_code is None:
            return f"ClientError: {reason or 'the training container could not be started'}"
        try:
            # The container wrote this directory: a symlink there must not make the server
            # read (and publish as FailureReason) a host file outside it.
            message = within(self.attempt_dir(job), "output", "failure").read_text(errors="replace").strip()
        except (OSError, Rejected):
            message = ""
        if message:
            return f"AlgorithmError: {message}"[:FAILURE_MAX]
        if oom:
            return f"AlgorithmError: OutOfMemoryError: Container killed due to memory usage, exit code: {exit_code}"
        return f"AlgorithmError: , exit code: {exit_code}"


def _write(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2))
