"""Service jobs through real boto3 (ref §13.3): SubmitServiceJob validation, DescribeServiceJob,
ListServiceJobs, UpdateServiceJob, TerminateServiceJob, tags; and training jobs that really run,
with the process runner and (marked docker) as a container built from the test image."""

import io
import json
import tarfile
import time

import pytest

from batchemu.testing import running_server
from tests import docker_support
from tests.helpers import client_error

IMAGE = docker_support.IMAGE


def sagemaker_queue(batch, name="sm", max_instances=4, **queue):
    batch.create_service_environment(serviceEnvironmentName=f"{name}-se", serviceEnvironmentType="SAGEMAKER_TRAINING",
                                     capacityLimits=[{"maxCapacity": max_instances, "capacityUnit": "NUM_INSTANCES"}])
    batch.create_job_queue(jobQueueName=name, priority=1,
                           serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": f"{name}-se"}], **queue)


def payload(name="tj", image="trainer:1", instances=1, **extra):
    request = {"TrainingJobName": name, "RoleArn": "arn:aws:iam::123456789012:role/sm",
               "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
               "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": instances, "VolumeSizeInGB": 1},
               "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
               "StoppingCondition": {"MaxRuntimeInSeconds": 600}}
    for key, value in extra.items():
        if key in ("ContainerEntrypoint", "ContainerArguments"):
            request["AlgorithmSpecification"][key] = value
        else:
            request[key] = value
    return json.dumps(request)


def submit(batch, name="job", queue="sm", **extra):
    extra.setdefault("serviceRequestPayload", payload(name=f"tj-{name}"))
    return batch.submit_service_job(jobName=name, jobQueue=queue, serviceJobType="SAGEMAKER_TRAINING", **extra)


def wait_for(batch, job_id, statuses, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        d = batch.describe_service_job(jobId=job_id)
        if d["status"] in statuses:
            return d
        assert time.monotonic() < deadline, f"service job still {d['status']}: {d.get('statusReason')}"
        time.sleep(0.05)


def test_submit_and_describe(batch):
    sagemaker_queue(batch)
    out = submit(batch, tags={"team": "ml"}, schedulingPriority=5, retryStrategy={"attempts": 2},
                 timeoutConfig={"attemptDurationSeconds": 600})
    assert out["jobName"] == "job" and out["jobArn"].endswith(f":service-job/{out['jobId']}")
    d = wait_for(batch, out["jobId"], {"RUNNABLE"})  # runner none: nothing runs
    assert d["jobQueue"].endswith(":job-queue/sm") and d["serviceJobType"] == "SAGEMAKER_TRAINING"
    assert d["capacityUsage"] == [{"capacityUnit": "NUM_INSTANCES", "quantity": 1.0}]
    assert d["schedulingPriority"] == 5 and d["retryStrategy"] == {"attempts": 2}
    assert d["timeoutConfig"] == {"attemptDurationSeconds": 600} and d["tags"] == {"team": "ml"}
    assert json.loads(d["serviceRequestPayload"])["TrainingJobName"] == "tj-job"
    assert d["attempts"] == [] and "isTerminated" not in d
    assert batch.list_tags_for_resource(resourceArn=out["jobArn"])["tags"] == {"team": "ml"}
    batch.tag_resource(resourceArn=out["jobArn"], tags={"env": "dev"})
    assert batch.describe_service_job(jobId=out["jobId"])["tags"] == {"team": "ml", "env": "dev"}
    assert "Service job nope does not exist" in client_error(batch.describe_service_job, jobId="nope")


def test_submit_validation(batch):
    sagemaker_queue(batch)
    batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED", computeResources={
        "type": "EC2", "maxvCpus": 4, "subnets": ["s"], "instanceRole": "r", "instanceTypes": ["optimal"],
        "securityGroupIds": ["sg"]})
    batch.create_job_queue(jobQueueName="ecs", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
    assert "JobQueue nope not found." in client_error(submit, batch, queue="nope")
    assert "service jobs need a SAGEMAKER_TRAINING job queue" in client_error(submit, batch, queue="ecs")
    assert "must be the JSON of a SageMaker CreateTrainingJob request" in client_error(
        submit, batch, serviceRequestPayload="{not json")
    assert "must be at most 10 KiB" in client_error(
        submit, batch, serviceRequestPayload=payload(HyperParameters={"x": "y" * 11000}))
    assert "InstanceCount must be a whole number of at least 1" in client_error(
        submit, batch, serviceRequestPayload=payload(instances=0))
    assert "retryStrategy.attempts must be between 1 and 10" in client_error(
        submit, batch, retryStrategy={"attempts": 11})
    assert "schedulingPriority must be between 0 and 9999" in client_error(submit, batch, schedulingPriority=10000)
    assert "shareIdentifier can't be specified" in client_error(submit, batch, shareIdentifier="a")
    assert "quotaShareName can't be specified" in client_error(submit, batch, quotaShareName="a")
    assert "jobName must be 1 to 128 characters" in client_error(submit, batch, name="-bad")
    batch.update_job_queue(jobQueue="sm", state="DISABLED")
    assert "is not in ENABLED state" in client_error(submit, batch)


def channels(*names):
    return [{"ChannelName": n, "DataSource": {"S3DataSource": {"S3Uri": "s3://b/k", "S3DataType": "S3Prefix"}}}
            for n in names]


@pytest.mark.parametrize("name, rule", [
    ("../" * 20 + "tmp/x", "must be 1 to 64 characters of [A-Za-z0-9\\.\\-_]+"),
    ("/tmp/batchemu-escape", "must be 1 to 64 characters of [A-Za-z0-9\\.\\-_]+"),
    ("", "must be 1 to 64 characters"),
    ("a" * 65, "must be 1 to 64 characters"),
    ("..", "can't be '.' or '..'"),
    (".", "can't be '.' or '..'"),
    (7, "must be 1 to 64 characters"),
])
def test_channel_names_that_are_not_plain_names_are_refused_at_submit(batch, name, rule):
    """A channel name becomes a directory under the data dir: SageMaker's own pattern and
    length, and never '.'/'..', are checked when the job is submitted (issue 12 item 13)."""
    sagemaker_queue(batch)
    message = client_error(submit, batch, serviceRequestPayload=payload(InputDataConfig=channels("train", name)))
    assert message.startswith(f"serviceRequestPayload: InputDataConfig[1].ChannelName {name!r} ")
    assert rule in message
    assert batch.list_service_jobs(jobQueue="sm", jobStatus="SUBMITTED")["jobSummaryList"] == []


def test_training_payload_members_batchemu_reads_are_type_checked_at_submit(batch):
    sagemaker_queue(batch)
    cases = [
        ({"InputDataConfig": channels("train", "train")}, "InputDataConfig[1].ChannelName 'train' is given more than once"),
        ({"InputDataConfig": {"ChannelName": "x"}}, "InputDataConfig must be a list, got dict"),
        ({"InputDataConfig": ["train"]}, "InputDataConfig[0] must be an object"),
        ({"TrainingJobName": "../x"}, "TrainingJobName '../x' must be 1 to 63 characters matching"),
        ({"HyperParameters": ["a"]}, "HyperParameters must be an object, got list"),
        ({"Environment": "A=1"}, "Environment must be an object, got str"),
        ({"ResourceConfig": 3}, "ResourceConfig must be an object, got int"),
        ({"EnableNetworkIsolation": "yes"}, "EnableNetworkIsolation must be true or false, got str"),
        ({"ContainerEntrypoint": "train"}, "AlgorithmSpecification.ContainerEntrypoint must be a list of strings"),
    ]
    for extra, text in cases:
        message = client_error(submit, batch, serviceRequestPayload=payload(**extra))
        assert message.startswith(f"serviceRequestPayload: {text}"), message
    ok = submit(batch, serviceRequestPayload=payload(InputDataConfig=channels("train", "v1.0_eval-set")))
    assert batch.describe_service_job(jobId=ok["jobId"])["jobName"] == "job"


def test_fair_share_queue_needs_a_share_identifier(batch):
    policy = batch.create_scheduling_policy(name="fs", fairsharePolicy={})["arn"]
    sagemaker_queue(batch, schedulingPolicyArn=policy)
    assert "shareIdentifier is required" in client_error(submit, batch)
    job = submit(batch, shareIdentifier="teamA")["jobId"]
    assert batch.describe_service_job(jobId=job)["shareIdentifier"] == "teamA"


def test_client_token_rejects_an_identical_second_request(batch):
    sagemaker_queue(batch)
    submit(batch, clientToken="tok")
    assert "an identical SubmitServiceJob request was already accepted" in client_error(
        submit, batch, clientToken="tok")
    submit(batch, name="other", clientToken="tok")   # not identical: a new job
    submit(batch)                                     # no token: always a new job


def test_list_service_jobs(batch):
    sagemaker_queue(batch)
    ids = [submit(batch, name=n, **extra)["jobId"] for n, extra in
           (("Alpha", {}), ("alpha-2", {}), ("beta", {}))]
    wait_for(batch, ids[-1], {"RUNNABLE"})
    assert batch.list_service_jobs(jobQueue="sm")["jobSummaryList"] == []           # RUNNING by default
    runnable = batch.list_service_jobs(jobQueue="sm", jobStatus="RUNNABLE")["jobSummaryList"]
    assert [j["jobId"] for j in runnable] == ids[::-1]                              # newest first
    first = runnable[-1]
    assert first["jobName"] == "Alpha" and first["serviceJobType"] == "SAGEMAKER_TRAINING"
    assert first["capacityUsage"] == [{"capacityUnit": "NUM_INSTANCES", "quantity": 1.0}]
    named = batch.list_service_jobs(jobQueue="sm", filters=[{"name": "JOB_NAME", "values": ["ALPHA*"]}])
    assert [j["jobName"] for j in named["jobSummaryList"]] == ["alpha-2", "Alpha"]   # jobStatus ignored
    created = batch.describe_service_job(jobId=ids[1])["createdAt"]
    after = batch.list_service_jobs(jobQueue="sm", filters=[{"name": "AFTER_CREATED_AT", "values": [str(created)]}])
    assert [j["jobId"] for j in after["jobSummaryList"]] == [ids[2]]
    everywhere = batch.list_service_jobs(jobStatus="RUNNABLE")["jobSummaryList"]   # jobQueue is optional
    assert len(everywhere) == 3
    pages = batch.get_paginator("list_service_jobs").paginate(jobQueue="sm", jobStatus="RUNNABLE",
                                                             PaginationConfig={"PageSize": 2})
    assert [len(p["jobSummaryList"]) for p in pages] == [2, 1]
    assert "only one filter can be used at a time" in client_error(
        batch.list_service_jobs, jobQueue="sm", filters=[{"name": "JOB_NAME", "values": ["a"]},
                                                         {"name": "JOB_NAME", "values": ["b"]}])


def test_update_and_terminate(batch):
    sagemaker_queue(batch)
    job = submit(batch)["jobId"]
    out = batch.update_service_job(jobId=job, schedulingPriority=42)
    assert out["jobId"] == job and batch.describe_service_job(jobId=job)["schedulingPriority"] == 42
    batch.terminate_service_job(jobId=job, reason="changed my mind")
    d = batch.describe_service_job(jobId=job)
    assert d["status"] == "FAILED" and d["statusReason"] == "changed my mind" and d["isTerminated"] is True
    assert "only unfinished jobs can be updated" in client_error(batch.update_service_job, jobId=job,
                                                                 schedulingPriority=1)
    assert "does not exist" in client_error(batch.terminate_service_job, jobId="nope", reason="x")


TRAIN = ('import json,os; hp=json.load(open(os.environ["SM_INPUT_CONFIG_DIR"]+"/hyperparameters.json")); '
         'open(os.environ["SM_MODEL_DIR"]+"/out","w").write("epochs="+hp["epochs"]); print("trained", hp["epochs"])')


def test_training_job_runs_with_the_process_runner(tmp_path):
    with running_server(runner="process", data_dir=tmp_path) as server:
        batch = server.client("batch")
        sagemaker_queue(batch)
        ok = submit(batch, "ok", serviceRequestPayload=payload(
            name="tj-ok", HyperParameters={"epochs": "3"}, ContainerEntrypoint=["python3", "-c", TRAIN]))["jobId"]
        bad = submit(batch, "bad", serviceRequestPayload=payload(
            name="tj-bad", ContainerEntrypoint=["sh", "-c", 'echo "bad data" > "$SM_OUTPUT_DIR/failure"; exit 3']))["jobId"]
        d = wait_for(batch, ok, {"SUCCEEDED", "FAILED"})
        assert d["status"] == "SUCCEEDED", d.get("statusReason")
        assert d["startedAt"] <= d["stoppedAt"] and d["scheduledAt"] <= d["startedAt"]
        assert d["attempts"][0]["serviceResourceId"]["value"].endswith(":training-job/tj-ok")
        assert (tmp_path / "service-jobs" / ok / "1" / "model" / "out").read_text() == "epochs=3"
        stream = d["attempts"][0]["serviceResourceId"]["value"].rsplit("/", 1)[1]
        logs = server.client("logs")
        (found,) = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                             logStreamNamePrefix=f"{stream}/")["logStreams"]
        events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs",
                                     logStreamName=found["logStreamName"])["events"]
        assert [e["message"] for e in events] == ["trained 3"]
        d = wait_for(batch, bad, {"SUCCEEDED", "FAILED"})
        assert d["status"] == "FAILED"
        assert d["statusReason"] == "Received status from SageMaker: AlgorithmError: bad data"


def test_channel_directories_are_made_inside_the_attempt_directory(tmp_path):
    with running_server(runner="process", data_dir=tmp_path / "data") as server:
        batch = server.client("batch")
        sagemaker_queue(batch)
        script = 'ls "$SM_INPUT_DIR/data" > "$SM_MODEL_DIR/channels"; echo "$SM_CHANNEL_TRAIN" > "$SM_MODEL_DIR/train"'
        job = submit(batch, "ch", serviceRequestPayload=payload(
            name="tj-ch", InputDataConfig=channels("train", "v1.0_eval-set"),
            ContainerEntrypoint=["sh", "-c", script]))["jobId"]
        d = wait_for(batch, job, {"SUCCEEDED", "FAILED"})
        assert d["status"] == "SUCCEEDED", d.get("statusReason")
        root = tmp_path / "data" / "service-jobs" / job / "1"
        assert (root / "model" / "channels").read_text().split() == ["train", "v1.0_eval-set"]
        assert (root / "model" / "train").read_text().strip() == str(root / "input" / "data" / "train")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


# -- a real training container --------------------------------------------------------------------

TRAIN_SCRIPT = """#!/bin/sh
set -e
test "$(basename "$0")" = train   # the image has no ENTRYPOINT: SageMaker's `train` is the program
cat /opt/ml/input/config/hyperparameters.json
grep -q '"epochs": "5"' /opt/ml/input/config/hyperparameters.json
echo "model for $TRAINING_JOB_NAME with $GREETING" > /opt/ml/model/out
"""


@pytest.fixture(scope="module")
def training_image():
    client = docker_support.docker_client()
    tag = "batchemu-test/trainer:latest"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, text, mode in (("Dockerfile", f"FROM {IMAGE}\nCOPY train /usr/local/bin/train\n", 0o644),
                                 ("train", TRAIN_SCRIPT, 0o755)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=tag, network_mode="none", rm=True)
    yield tag
    client.close()


@pytest.mark.docker
def test_training_image_runs_as_sagemaker_runs_it(training_image, tmp_path):
    with running_server(runner="docker", data_dir=tmp_path, pull_policy="never") as server:
        batch = server.client("batch")
        sagemaker_queue(batch)
        job = submit(batch, "docker", serviceRequestPayload=payload(
            name="tj-docker", image=training_image, HyperParameters={"epochs": "5"},
            Environment={"GREETING": "hello"}))["jobId"]
        d = wait_for(batch, job, {"SUCCEEDED", "FAILED"}, timeout=120)
        assert d["status"] == "SUCCEEDED", d.get("statusReason")
        model = tmp_path / "service-jobs" / job / "1" / "model" / "out"
        assert model.read_text() == "model for tj-docker with hello\n"
        logs = server.client("logs")
        (stream,) = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs")["logStreams"]
        assert stream["logStreamName"].startswith("tj-docker/algo-1-")
        events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs",
                                     logStreamName=stream["logStreamName"], startFromHead=True)["events"]
        assert any('"epochs": "5"' in e["message"] for e in events)
