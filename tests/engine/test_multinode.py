"""Multi-node parallel jobs (ref §12) through the one engine, with a scripted runner: the gang
is placed at once or waits, the main node starts first and the others once its address is
known, the job follows the main node (result, retries, timeout), the other nodes are stopped
when it exits, and the node environment is as ref §6.9 gives it."""

from batchemu.context import RequestContext
from batchemu.runners import base
from batchemu.vocabulary.reasons import TIMED_OUT
from tests.engine.harness import ACCOUNT, REGION, Harness


def multinode(h, name="mnp", num=3, main=0, vcpus="1", command=("true",), **extra):
    ranges = [{"targetNodes": "0:", "container": {
        "image": "busybox", "command": list(command),
        "resourceRequirements": [{"type": "VCPU", "value": vcpus}, {"type": "MEMORY", "value": "128"}]}}]
    h.call("RegisterJobDefinition", jobDefinitionName=name, type="multinode",
           nodeProperties={"numNodes": num, "mainNode": main, "nodeRangeProperties": ranges}, **extra)
    return name


def started(h):
    return [s.job_id for s in h.runner.started]


def test_the_main_node_starts_first_and_the_others_once_its_address_is_known():
    h = Harness()
    h.compute_environment(max_vcpus=4)
    h.queue()
    job_id = h.submit(definition=multinode(h, main=1))
    h.tick()
    assert h.status(job_id) == "STARTING"
    assert started(h) == [f"{job_id}#1"]
    assert [h.status(f"{job_id}#{i}") for i in range(3)] == ["RUNNABLE", "STARTING", "RUNNABLE"]
    main_env = h.runner.spec(f"{job_id}#1").environment
    assert (main_env["AWS_BATCH_JOB_NODE_INDEX"], main_env["AWS_BATCH_JOB_NUM_NODES"],
            main_env["AWS_BATCH_JOB_MAIN_NODE_INDEX"]) == ("1", "3", "1")
    assert "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS" not in main_env  # only the other nodes (ref §6.9)

    h.runner.run(f"{job_id}#1", address="10.1.2.3")
    h.tick()
    assert h.status(job_id) == "RUNNING"
    assert sorted(started(h)) == sorted([f"{job_id}#0", f"{job_id}#1", f"{job_id}#2"])
    worker = h.runner.spec(f"{job_id}#2")
    assert worker.environment["AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"] == "10.1.2.3"
    assert worker.environment["AWS_BATCH_JOB_NODE_INDEX"] == "2"
    assert worker.group_network == h.runner.spec(f"{job_id}#1").group_network  # one network per job
    node = h.job(f"{job_id}#1")
    assert node["nodeDetails"] == {"nodeIndex": 1, "isMainNode": True}
    assert node["container"]["networkInterfaces"] == [{"privateIpv4Address": "10.1.2.3"}]
    assert h.job(job_id)["nodeProperties"]["numNodes"] == 3


def test_the_job_is_the_main_nodes_and_the_other_nodes_are_stopped_when_it_exits():
    h = Harness()
    h.compute_environment(max_vcpus=4)
    h.queue()
    job_id = h.submit(definition=multinode(h))
    h.tick()
    h.runner.run(f"{job_id}#0", address="10.0.0.2")
    h.tick()
    h.runner.run(f"{job_id}#1")
    h.runner.run(f"{job_id}#2")
    h.runner.exit(f"{job_id}#2", 3)  # a node's own failure changes nothing else (ref §12)
    h.tick()
    assert h.status(job_id) == "RUNNING" and h.status(f"{job_id}#2") == "FAILED"
    h.runner.exit(f"{job_id}#0", 0)
    h.tick()
    job = h.job(job_id)
    assert job["status"] == "SUCCEEDED"
    assert job["attempts"][0]["container"]["exitCode"] == 0
    assert (f"{job_id}#1", 1, 1) in h.runner.stopped  # the last running node is stopped
    h.runner.exit(f"{job_id}#1", 143)
    h.tick()
    assert h.status(f"{job_id}#1") == "FAILED"


def test_a_main_node_failure_retries_the_whole_job_and_runs_every_node_again():
    h = Harness()
    h.compute_environment(max_vcpus=4)
    h.queue()
    job_id = h.submit(definition=multinode(h, num=2), retryStrategy={"attempts": 2})
    h.tick()
    h.runner.run(f"{job_id}#0", address="10.0.0.2")
    h.tick()
    h.runner.run(f"{job_id}#1")
    h.runner.exit(f"{job_id}#0", 1)
    h.tick()
    h.runner.exit(f"{job_id}#1", 143)
    h.tick()
    h.tick()
    assert h.status(job_id) == "STARTING"  # the second attempt
    assert h.runner.spec(f"{job_id}#0").attempt == 2
    h.runner.run(f"{job_id}#0", address="10.0.0.9")
    h.tick()
    assert h.runner.spec(f"{job_id}#1").environment["AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"] == "10.0.0.9"
    h.runner.exit(f"{job_id}#0", 0)
    h.tick()
    job = h.job(job_id)
    assert job["status"] == "SUCCEEDED"
    assert [a["container"]["exitCode"] for a in job["attempts"]] == [1, 0]


def test_the_timeout_is_the_whole_jobs():
    h = Harness()
    h.compute_environment(max_vcpus=4)
    h.queue()
    job_id = h.submit(definition=multinode(h, num=2), timeout={"attemptDurationSeconds": 60})
    h.tick()
    h.runner.run(f"{job_id}#0", address="10.0.0.2")
    h.tick()
    h.runner.run(f"{job_id}#1")
    h.tick()
    h.advance(61)
    h.tick()
    assert {(f"{job_id}#0", 1), (f"{job_id}#1", 1)} <= {s[:2] for s in h.runner.stopped}
    h.runner.exit(f"{job_id}#0", 137)
    h.tick()
    job = h.job(job_id)
    assert (job["status"], job["statusReason"]) == ("FAILED", TIMED_OUT)


def test_the_gang_waits_until_every_node_fits_at_once():
    h = Harness()
    h.compute_environment(max_vcpus=4)
    h.queue()
    h.definition(vcpus="2")
    blocker = h.submit()
    h.tick()
    job_id = h.submit(definition=multinode(h, num=3))  # 3 vCPUs; 2 free
    h.tick()
    assert h.status(job_id) == "RUNNABLE" and started(h) == [blocker]
    h.runner.run(blocker)
    h.tick()
    h.runner.exit(blocker, 0)
    h.tick()
    assert h.status(job_id) == "STARTING"


def test_a_gang_bigger_than_every_compute_environment_is_blocked_with_awss_reason():
    h = Harness()
    h.compute_environment(max_vcpus=2)
    h.queue()
    job_id = h.submit(definition=multinode(h, num=3))
    h.tick()
    job = h.job(job_id)
    assert job["status"] == "RUNNABLE"
    assert job["statusReason"].startswith("MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE")


def test_terminating_a_node_terminates_its_whole_job():
    h = Harness()
    h.compute_environment(max_vcpus=4)
    h.queue()
    job_id = h.submit(definition=multinode(h, num=2))
    h.tick()
    h.runner.run(f"{job_id}#0", address="10.0.0.2")
    h.tick()
    h.call("TerminateJob", jobId=f"{job_id}#1", reason="enough")
    h.tick()
    assert (f"{job_id}#0", 1, 1) in h.runner.stopped
    h.runner.exit(f"{job_id}#0", 143)
    h.tick()
    job = h.job(job_id)
    assert (job["status"], job["statusReason"], job.get("isTerminated")) == ("FAILED", "enough", True)


def test_after_a_restart_running_nodes_are_re_attached_and_a_lost_main_node_ends_the_job():
    h = Harness()
    h.compute_environment(max_vcpus=4)
    h.queue()
    kept = h.submit(definition=multinode(h, num=2))
    lost = h.submit(name="other", definition="mnp")
    h.tick()
    for job_id in (kept, lost):
        h.runner.run(f"{job_id}#0", address="10.0.0.2")
    h.tick()
    for job_id in (kept, lost):
        h.runner.run(f"{job_id}#1")
    h.tick()
    # Everything of `kept` is found running; `lost` lost its main node.
    h.runner.survivors = [base.Survivor(f"{kept}#0", 1, running=True), base.Survivor(f"{kept}#1", 1, running=True),
                          base.Survivor(f"{lost}#1", 1, running=True)]
    h.restart()
    h.tick()
    assert h.status(kept) == "RUNNING" and h.status(lost) == "FAILED"
    assert (f"{lost}#1", 1, 1) in h.runner.stopped  # its other node is stopped
    h.runner.live[f"{kept}#0"] = 1
    h.runner.exit(f"{kept}#0", 0)
    h.tick()
    assert h.status(kept) == "SUCCEEDED"


def test_cancelling_a_job_waiting_for_its_next_attempt_ends_its_waiting_nodes():
    h = Harness()
    h.compute_environment(max_vcpus=4)
    h.queue()
    job_id = h.submit(definition=multinode(h, num=2), retryStrategy={"attempts": 2})
    h.tick()
    h.call("UpdateJobQueue", jobQueue="q", state="DISABLED")  # holds the retried job RUNNABLE
    h.runner.exit(f"{job_id}#0", None, reason="CannotPullContainerError: nope",
                  status_reason="Task failed to start")  # the main node never starts: another attempt
    h.tick()
    assert h.status(job_id) == "RUNNABLE" and h.status(f"{job_id}#1") == "RUNNABLE"
    h.call("CancelJob", jobId=job_id, reason="no more")
    h.tick()
    assert h.status(job_id) == "FAILED"
    node = h.job(f"{job_id}#1")
    assert (node["status"], node["statusReason"]) == ("FAILED", "no more")


def test_a_nested_range_wins_for_its_nodes_and_counts_in_the_gangs_need():
    h = Harness()
    h.compute_environment(max_vcpus=8)
    h.queue()
    wide = {"image": "busybox", "command": ["wide"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]}
    narrow = dict(wide, command=["narrow"], resourceRequirements=[{"type": "VCPU", "value": "3"},
                                                                  {"type": "MEMORY", "value": "64"}])
    h.call("RegisterJobDefinition", jobDefinitionName="nested", type="multinode", nodeProperties={
        "numNodes": 4, "mainNode": 0, "nodeRangeProperties": [{"targetNodes": "0:", "container": wide},
                                                              {"targetNodes": "2:2", "container": narrow}]})
    job_id = h.submit(definition="nested")
    h.tick()
    h.runner.run(f"{job_id}#0", address="10.0.0.2")
    h.tick()
    assert [h.runner.spec(f"{job_id}#{i}").command for i in range(4)] == [["wide"], ["wide"], ["narrow"], ["wide"]]
    assert h.runner.spec(f"{job_id}#2").vcpus == 3
    summary = h.call("ListJobs", jobQueue="q", jobStatus="RUNNING")["jobSummaryList"][0]
    assert summary["capacityUsage"] == [{"capacityUnit": "VCPU", "quantity": 6.0}]  # 1 + 1 + 3 + 1


def test_an_injected_pull_failure_of_the_main_nodes_image_fails_the_attempt_without_a_container():
    h = Harness()
    h.compute_environment(max_vcpus=4)
    h.queue()
    job_id = h.submit(definition=multinode(h, num=2))
    h.scheduler.faults.fail_pulls(RequestContext(ACCOUNT, REGION), "busybox")
    h.tick()
    job = h.job(job_id)
    assert job["status"] == "FAILED" and h.runner.started == []
    assert job["attempts"][0]["container"]["reason"].startswith("CannotPullContainerError: ")
    assert h.status(f"{job_id}#1") == "FAILED"  # never started: it ends with its job


def test_a_lost_node_instance_ends_the_node_and_the_jobs_attempt_and_a_host_ec2_rule_retries_it():
    from batchemu.context import RequestContext
    h = Harness()
    h.compute_environment(max_vcpus=4)
    h.queue()
    job_id = h.submit(definition=multinode(h, num=2, retryStrategy={"attempts": 2, "evaluateOnExit": [
        {"onStatusReason": "Host EC2*", "action": "RETRY"}, {"onReason": "*", "action": "EXIT"}]}))
    h.tick()
    h.runner.run(f"{job_id}#0", address="10.0.0.2")
    h.tick()
    h.runner.run(f"{job_id}#1")
    h.tick()
    nodes = [h.job(f"{job_id}#{i}") for i in range(2)]
    # one node per simulated instance (AWS places them so)
    assert nodes[0]["container"]["containerInstanceArn"] != nodes[1]["container"]["containerInstanceArn"]

    future = h.scheduler.faults.post(RequestContext(ACCOUNT, REGION), "lose-instance", jobId=f"{job_id}#1")
    h.tick()
    answer = future.result(0)
    reason = f"Host EC2 (instance {answer['instanceId']}) terminated."
    assert sorted(e["jobId"] for e in answer["jobs"]) == sorted([job_id, f"{job_id}#1"])
    h.tick()
    # no grace for a lost host: the lost node, and every node of the job's attempt
    assert {(j, g) for j, _, g in h.runner.stopped} == {(f"{job_id}#0", 0), (f"{job_id}#1", 0)}
    h.runner.exit(f"{job_id}#1", 137)
    h.runner.exit(f"{job_id}#0", 137)
    h.tick()
    lost = h.job(f"{job_id}#1")
    assert lost["attempts"][0]["statusReason"] == reason and "exitCode" not in lost["attempts"][0]["container"]
    job = h.job(job_id)
    assert job["status"] in ("RUNNABLE", "STARTING")   # retried by the Host EC2* rule
    (attempt,) = job["attempts"]
    assert attempt["statusReason"] == reason and "exitCode" not in attempt["container"]
