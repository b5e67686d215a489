"""GetJobQueueSnapshot through boto3 (ref §13.5): the front of a FIFO queue lists its RUNNABLE
jobs in dispatch order, i.e. submission order.
"""

from __future__ import annotations

from conformance.harness import wait_job
from conformance.registry import covers
from conformance.world import World


@covers("boto3", "GetJobQueueSnapshot", "SubmitJob")
def test_front_of_a_fifo_queue(batch):
    w = World(batch)
    queue, jd = w.held_job_queue(), w.job_definition()["arn"]
    jobs = [batch.submit_job(jobName=f"waiting-{i}", jobQueue=queue, jobDefinition=jd) for i in range(3)]
    for job in jobs:
        wait_job(batch, job["jobId"], "RUNNABLE")
    snapshot = batch.get_job_queue_snapshot(jobQueue=queue)
    front = snapshot["frontOfQueue"]
    assert [j["jobArn"] for j in front["jobs"]] == [job["jobArn"] for job in jobs]
    assert all(isinstance(j["earliestTimeAtPosition"], int) for j in front["jobs"])
    assert isinstance(front["lastUpdatedAt"], int)
