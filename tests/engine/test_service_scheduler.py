"""Service jobs in the scheduler (ref §13.3), with a manual clock and a scripted runner: states
and fields, capacity in instances, retries on the statusReason, terminate, time limits, the
SageMaker container contract (command, /opt/ml files, environment), restarts."""

import json

import pytest

from batchemu.runners.base import Survivor
from tests.engine.harness import Harness

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/trainer:1"


@pytest.fixture()
def h(tmp_path):
    h = Harness()
    h.scheduler.service_jobs.training._root = tmp_path / "service-jobs"
    service_queue(h)
    return h


def service_queue(h, name="sm", environment="se", max_instances=4, **queue):
    h.call("CreateServiceEnvironment", serviceEnvironmentName=environment, serviceEnvironmentType="SAGEMAKER_TRAINING",
           capacityLimits=[{"maxCapacity": max_instances, "capacityUnit": "NUM_INSTANCES"}])
    h.call("CreateJobQueue", jobQueueName=name, priority=1,
           serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": environment}], **queue)


def payload(name="train-1", instances=1, image=IMAGE, **extra):
    request = {"TrainingJobName": name, "RoleArn": "arn:aws:iam::123456789012:role/sm",
               "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
               "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": instances, "VolumeSizeInGB": 10},
               "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
               "StoppingCondition": {"MaxRuntimeInSeconds": 3600}}
    if image is None:
        del request["AlgorithmSpecification"]["TrainingImage"]
        request["AlgorithmSpecification"]["AlgorithmName"] = "arn:aws:sagemaker:us-east-1:1:algorithm/x"
    request.update(extra)
    return json.dumps(request)


def submit(h, name="job", queue="sm", **extra):
    extra.setdefault("serviceRequestPayload", payload(name=f"tj-{name}"))
    return h.call("SubmitServiceJob", jobName=name, jobQueue=queue, serviceJobType="SAGEMAKER_TRAINING",
                  **extra)["jobId"]


def job(h, job_id):
    return h.call("DescribeServiceJob", jobId=job_id)


def status(h, job_id):
    return job(h, job_id)["status"]


def test_lifecycle_fields_and_the_sagemaker_container_contract(h, tmp_path):
    request = payload(name="tj-1", HyperParameters={"epochs": "3", "lr": "0.1"},
                      Environment={"MY_VAR": "x"},
                      InputDataConfig=[{"ChannelName": "train", "ContentType": "text/csv",
                                        "DataSource": {"S3DataSource": {"S3Uri": "s3://b/train"}}}])
    t0 = h.now
    job_id = submit(h, serviceRequestPayload=request)
    d = job(h, job_id)
    assert d["status"] == "SUBMITTED" and d["createdAt"] == t0 and d["attempts"] == []
    assert d["capacityUsage"] == [{"capacityUnit": "NUM_INSTANCES", "quantity": 1.0}]
    assert d["jobArn"].endswith(f":service-job/{job_id}") and d["serviceRequestPayload"] == request
    assert "startedAt" not in d and "scheduledAt" not in d and "latestAttempt" not in d
    h.advance(1)
    h.tick()
    d = job(h, job_id)
    assert d["status"] == "STARTING" and d["scheduledAt"] == t0 + 1000
    training_arn = "arn:aws:sagemaker:us-east-1:123456789012:training-job/tj-1"
    assert d["latestAttempt"] == {"serviceResourceId": {"name": "TrainingJobArn", "value": training_arn}}
    spec = h.runner.spec(job_id)
    assert spec.image == IMAGE and spec.command == ["train"]
    (mount,) = spec.mounts
    assert mount.target == "/opt/ml"
    root = tmp_path / "service-jobs" / job_id / "1"
    assert mount.source == str(root)
    assert json.loads((root / "input/config/hyperparameters.json").read_text()) == {"epochs": "3", "lr": "0.1"}
    assert json.loads((root / "input/config/inputdataconfig.json").read_text()) == {
        "train": {"TrainingInputMode": "File", "ContentType": "text/csv"}}
    assert (root / "input/data/train").is_dir() and (root / "model").is_dir() and (root / "output").is_dir()
    assert spec.environment["MY_VAR"] == "x" and spec.environment["TRAINING_JOB_NAME"] == "tj-1"
    assert spec.environment["TRAINING_JOB_ARN"] == training_arn
    assert spec.environment["SM_MODEL_DIR"] == "/opt/ml/model"
    assert spec.environment["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    h.advance(2)
    h.runner.run(job_id)
    h.runner.output(job_id, "epoch 1")
    h.tick()
    d = job(h, job_id)
    assert d["status"] == "RUNNING" and d["startedAt"] == t0 + 3000
    (running,) = h.call("ListServiceJobs", jobQueue="sm")["jobSummaryList"]
    assert running["jobId"] == job_id and running["status"] == "RUNNING"
    h.advance(4)
    h.runner.exit(job_id, 0)
    h.tick()
    d = job(h, job_id)
    assert d["status"] == "SUCCEEDED" and d["stoppedAt"] == t0 + 7000
    assert d["attempts"] == [{"serviceResourceId": {"name": "TrainingJobArn", "value": training_arn},
                              "startedAt": t0 + 3000, "stoppedAt": t0 + 7000,
                              "statusReason": "Received status from SageMaker: Completed"}]
    stream = h.store.query("SELECT group_name, stream_name, message FROM log_events")
    assert [(r["group_name"], r["message"]) for r in stream] == [("/aws/sagemaker/TrainingJobs", "epoch 1")]
    assert stream[0]["stream_name"] == f"tj-1/algo-1-{(t0 + 1000) // 1000}"


def test_failure_reason_comes_from_the_failure_file_or_the_exit_code(h, tmp_path):
    a = submit(h, name="a")
    b = submit(h, name="b")
    h.tick()
    (tmp_path / "service-jobs" / a / "1" / "output" / "failure").write_text("loss was NaN\n")
    for job_id in (a, b):
        h.runner.run(job_id)
        h.runner.exit(job_id, 2)
    h.tick()
    assert job(h, a)["statusReason"] == "Received status from SageMaker: AlgorithmError: loss was NaN"
    d = job(h, b)
    assert d["status"] == "FAILED" and d["statusReason"] == "Received status from SageMaker: AlgorithmError: , exit code: 2"
    assert d["attempts"][0]["statusReason"] == d["statusReason"]


def test_a_failure_file_that_links_outside_the_attempt_directory_is_not_read(h, tmp_path):
    secret = tmp_path / "host-secret"
    secret.write_text("root:hash")
    job_id = submit(h)
    h.tick()
    h.runner.run(job_id)
    output = tmp_path / "service-jobs" / job_id / "1" / "output"
    (output / "failure").symlink_to(secret)  # what a hostile training container can write
    h.runner.exit(job_id, 2)
    h.tick()
    d = job(h, job_id)
    assert d["statusReason"] == "Received status from SageMaker: AlgorithmError: , exit code: 2"


def test_capacity_in_instances_fifo_and_too_big_jobs_block_with_a_time_limit(h):
    service_queue(h, "limited", "small", max_instances=4, jobStateTimeLimitActions=[{
        "reason": "MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE", "state": "RUNNABLE",
        "maxTimeSeconds": 600, "action": "TERMINATE"}])
    three = submit(h, "three", serviceRequestPayload=payload(instances=3))
    two = submit(h, "two", serviceRequestPayload=payload(instances=2))
    one = submit(h, "one", serviceRequestPayload=payload(instances=1))
    h.tick()
    # 3 of 4 instances in use: "two" waits at the head, and "one" behind it (FIFO, no back-fill).
    assert [status(h, j) for j in (three, two, one)] == ["STARTING", "RUNNABLE", "RUNNABLE"]
    h.runner.run(three)
    h.runner.exit(three, 0)
    h.tick()
    assert [status(h, j) for j in (two, one)] == ["STARTING", "STARTING"]
    big = submit(h, "big", queue="limited", serviceRequestPayload=payload(instances=5))
    h.tick()
    d = job(h, big)
    assert d["status"] == "RUNNABLE" and d["statusReason"].startswith("MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE")
    h.advance(600)
    h.tick()
    d = job(h, big)
    assert d["status"] == "FAILED" and d["isTerminated"] is True
    assert d["statusReason"] == ("Terminated by JobStateTimeLimit action due to reason: "
                                 "MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE")


def test_retries_follow_evaluate_on_exit_on_the_status_reason(h):
    strategy = {"attempts": 3, "evaluateOnExit": [
        {"action": "RETRY", "onStatusReason": "Received status from SageMaker: AlgorithmError: , exit code: 1"},
        {"action": "EXIT", "onStatusReason": "*"}]}
    job_id = submit(h, retryStrategy=strategy)
    h.tick()
    h.runner.run(job_id)
    h.runner.exit(job_id, 1)
    h.tick()                                          # retried: a new training job, attempt 2
    d = job(h, job_id)
    assert d["status"] == "STARTING" and len(d["attempts"]) == 1
    assert d["latestAttempt"]["serviceResourceId"]["value"].endswith("training-job/tj-job-2")
    assert h.runner.spec(job_id).attempt == 2
    h.runner.run(job_id)
    h.runner.exit(job_id, 7)                          # EXIT on anything else
    h.tick()
    d = job(h, job_id)
    assert d["status"] == "FAILED" and len(d["attempts"]) == 2
    assert d["statusReason"].endswith("exit code: 7")


def test_terminate_before_and_after_start(h):
    waiting = submit(h, "waiting", serviceRequestPayload=payload(instances=4))
    queued = submit(h, "queued")
    h.tick()
    h.call("TerminateServiceJob", jobId=queued, reason="not needed")
    d = job(h, queued)
    assert d["status"] == "FAILED" and d["statusReason"] == "not needed" and d["isTerminated"] is True
    h.runner.run(waiting)
    h.tick()
    h.call("TerminateServiceJob", jobId=waiting, reason="stop it")
    h.tick()
    assert h.runner.stopped == [(waiting, 1, 1)]
    assert status(h, waiting) == "RUNNING"            # until the container has stopped
    h.runner.exit(waiting, 143)
    h.tick()
    d = job(h, waiting)
    assert d["status"] == "FAILED" and d["statusReason"] == "stop it" and d["isTerminated"] is True
    h.call("TerminateServiceJob", jobId=waiting, reason="again")   # finished: a no-op
    assert job(h, waiting)["statusReason"] == "stop it"


def test_timeout_stops_the_attempt(h):
    job_id = submit(h, timeoutConfig={"attemptDurationSeconds": 60})
    h.tick()
    h.runner.run(job_id)
    assert h.tick() == h.now + 60_000
    h.advance(60)
    h.tick()
    assert h.runner.stopped == [(job_id, 1, 1)]
    h.runner.exit(job_id, 137)
    h.tick()
    d = job(h, job_id)
    assert d["status"] == "FAILED" and d["statusReason"] == "Job attempt duration exceeded timeout"


def test_a_request_without_a_training_image_fails_as_sagemaker_would_refuse_it(h):
    job_id = submit(h, serviceRequestPayload=payload(image=None))
    h.tick()
    d = job(h, job_id)
    assert d["status"] == "FAILED" and h.runner.started == []
    assert d["statusReason"].startswith("Received status from SageMaker: ValidationException: batchemu runs "
                                        "AlgorithmSpecification.TrainingImage")


def test_a_stored_channel_name_that_leaves_the_attempt_directory_is_refused_at_run_time(h, tmp_path):
    """Defence in depth: a job stored before SubmitServiceJob checked channel names (or by hand)
    fails its attempt; no directory is made outside its own."""
    from batchemu.store.service_jobs import ServiceJobs

    job_id = submit(h, serviceRequestPayload=payload(InputDataConfig=[{"ChannelName": "train"}]))
    jobs = ServiceJobs(h.store)
    doc = jobs.get(job_id)
    escape = "../" * 6 + "escaped"
    doc["serviceRequestPayload"] = payload(InputDataConfig=[{"ChannelName": escape}])
    assert jobs.update(doc)
    h.tick()
    d = job(h, job_id)
    assert d["status"] == "FAILED" and h.runner.started == []
    assert d["statusReason"].startswith(f"Received status from SageMaker: InputDataConfig[0].ChannelName {escape!r}")
    assert not (tmp_path / "escaped").exists()
    assert not list(tmp_path.rglob("escaped"))


def test_disabled_environment_places_nothing_and_priority_between_queues(h):
    h.call("UpdateServiceEnvironment", serviceEnvironment="se", state="DISABLED")
    job_id = submit(h)
    h.tick()
    assert status(h, job_id) == "RUNNABLE"
    h.call("UpdateServiceEnvironment", serviceEnvironment="se", state="ENABLED")
    h.tick()
    assert status(h, job_id) == "STARTING"


def test_container_entrypoint_and_network_isolation(h):
    request = payload(EnableNetworkIsolation=True)
    request = json.loads(request)
    request["AlgorithmSpecification"].update(ContainerEntrypoint=["python", "fit.py"], ContainerArguments=["--x", "1"])
    job_id = submit(h, serviceRequestPayload=json.dumps(request))
    h.tick()
    spec = h.runner.spec(job_id)
    assert spec.command == ["python", "fit.py", "--x", "1"] and spec.network == "none"


def test_restart_reattaches_or_fails_the_attempt_as_lost(h):
    kept = submit(h, "kept")
    lost = submit(h, "lost", retryStrategy={"attempts": 2})
    h.tick()
    h.runner.run(kept)
    h.runner.run(lost)
    h.tick()
    h.runner.survivors = [Survivor(kept, 1, running=True)]
    h.scheduler.recover()
    assert status(h, kept) == "RUNNING"
    d = job(h, lost)
    assert d["status"] == "RUNNABLE" and d["attempts"][0]["statusReason"].startswith(
        "Received status from SageMaker: InternalServerError")


def test_restart_starts_again_a_training_attempt_that_never_got_a_container(h):
    job_id = submit(h, "starting")
    h.tick()
    assert status(h, job_id) == "STARTING"
    h.restart()
    (spec,) = h.runner.started
    assert (spec.job_id, spec.attempt) == (job_id, 1) and spec.environment["TRAINING_JOB_NAME"] == "tj-starting"
    h.runner.run(job_id)
    h.runner.exit(job_id, 0)
    h.tick()
    d = job(h, job_id)
    assert d["status"] == "SUCCEEDED" and len(d["attempts"]) == 1
    assert d["attempts"][0]["statusReason"] == "Received status from SageMaker: Completed"


def test_restart_finds_running_a_training_attempt_that_started_while_the_server_was_down(h):
    job_id = submit(h)
    h.tick()
    h.advance(5)
    started = h.now
    h.advance(60)
    h.runner.survivors = [Survivor(job_id, 1, running=True, started_ms=started)]
    h.restart()
    d = job(h, job_id)
    assert d["status"] == "RUNNING" and d["startedAt"] == started and h.runner.started == []


def test_update_service_job_priority_reorders_a_fair_share_queue(h):
    policy = h.call("CreateSchedulingPolicy", name="fs", fairsharePolicy={})["arn"]
    service_queue(h, "fs-q", "fs-se", max_instances=1, schedulingPolicyArn=policy)
    h.call("UpdateServiceEnvironment", serviceEnvironment="fs-se", state="DISABLED")
    first = submit(h, "first", queue="fs-q", shareIdentifier="a")
    second = submit(h, "second", queue="fs-q", shareIdentifier="a")
    out = h.call("UpdateServiceJob", jobId=second, schedulingPriority=10)
    assert out == {"jobArn": job(h, second)["jobArn"], "jobName": "second", "jobId": second}
    h.call("UpdateServiceEnvironment", serviceEnvironment="fs-se", state="ENABLED")
    h.tick()
    assert status(h, second) == "STARTING" and status(h, first) == "RUNNABLE"


def test_snapshot_of_a_sagemaker_queue_counts_instances(h):
    running = submit(h, "running", serviceRequestPayload=payload(instances=3))
    h.tick()
    h.advance(1)
    waiting = [submit(h, f"w{i}", serviceRequestPayload=payload(instances=3)) for i in range(2)]
    h.tick()
    out = h.call("GetJobQueueSnapshot", jobQueue="sm")
    assert [j["jobArn"].rsplit("/", 1)[1] for j in out["frontOfQueue"]["jobs"]] == waiting
    assert all(":service-job/" in j["jobArn"] for j in out["frontOfQueue"]["jobs"])
    assert out["queueUtilization"]["totalCapacityUsage"] == [{"capacityUnit": "NUM_INSTANCES", "quantity": 3.0}]
    h.runner.run(running)
    h.advance(1)
    h.runner.exit(running, 0)
    h.tick()
    out = h.call("GetJobQueueSnapshot", jobQueue="sm")
    # w0 started (3 of 4 instances); w1 waits and moved to the head when w0 was scheduled.
    assert [j["jobArn"].rsplit("/", 1)[1] for j in out["frontOfQueue"]["jobs"]] == waiting[1:]
    assert out["frontOfQueue"]["jobs"][0]["earliestTimeAtPosition"] == h.now
    assert out["queueUtilization"]["totalCapacityUsage"] == [{"capacityUnit": "NUM_INSTANCES", "quantity": 3.0}]
