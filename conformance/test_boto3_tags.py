"""Tags through boto3 on every taggable kind of resource: given at creation, added with
TagResource, removed with UntagResource, read with ListTagsForResource; array children
can't be tagged (ref §2.1).
"""

from __future__ import annotations

from conformance.harness import client_error
from conformance.registry import covers
from conformance.world import World


@covers("boto3", "TagResource", "UntagResource", "ListTagsForResource")
def test_tags_on_every_kind_of_resource(batch):
    w = World(batch)
    ce = batch.describe_compute_environments(computeEnvironments=[w.compute_environment()])
    queue = batch.describe_job_queues(jobQueues=[w.job_queue()])
    resources = {
        "compute environment": ce["computeEnvironments"][0]["computeEnvironmentArn"],
        "job queue": queue["jobQueues"][0]["jobQueueArn"],
        "job definition": w.job_definition()["arn"],
        "scheduling policy": w.scheduling_policy(),
        "job": batch.describe_jobs(jobs=[w.job()["id"]])["jobs"][0]["jobArn"],
    }
    for kind, arn in resources.items():
        assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {}, kind
        batch.tag_resource(resourceArn=arn, tags={"team": "research", "cost-centre": "42"})
        batch.tag_resource(resourceArn=arn, tags={"team": "platform"})  # overwrites one key
        assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "platform", "cost-centre": "42"}, kind
        batch.untag_resource(resourceArn=arn, tagKeys=["team", "not-there"])
        assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"cost-centre": "42"}, kind


@covers("boto3", "SubmitJob", "TagResource", "ListTagsForResource")
def test_tags_given_at_submit_and_not_on_array_children(batch):
    w = World(batch)
    out = batch.submit_job(jobName="tagged", jobQueue=w.job_queue(), jobDefinition=w.job_definition()["arn"],
                           arrayProperties={"size": 2}, tags={"run": "nightly"})
    assert batch.list_tags_for_resource(resourceArn=out["jobArn"])["tags"] == {"run": "nightly"}
    # ref §2.1 / model: "Tagging child jobs isn't supported".
    client_error(batch.tag_resource, resourceArn=out["jobArn"] + ":0", tags={"run": "child"})
