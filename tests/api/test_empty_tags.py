"""An empty `tags` map on the create calls (issue 15): the model says TagrisTagsMap has
`min: 1`, but Airflow's BatchOperator (SubmitJob) and the Snakemake AWS Batch executor
(RegisterJobDefinition) send `tags: {}` by default and run on real AWS daily, so AWS accepts
it. TagResource still needs at least one tag (batch/provider.EMPTY_TAGS_ALLOWED says why)."""

import json

from tests.helpers import client_error


def test_every_create_call_accepts_an_empty_tags_map(batch):
    ce = batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED", tags={})
    sp = batch.create_scheduling_policy(name="sp", fairsharePolicy={}, tags={})
    batch.create_job_queue(jobQueueName="jq", priority=1, tags={},
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
    jd = batch.register_job_definition(jobDefinitionName="jd", type="container", tags={},
                                       containerProperties={"image": "busybox", "command": ["true"],
                                                            "resourceRequirements": [
                                                                {"type": "VCPU", "value": "1"},
                                                                {"type": "MEMORY", "value": "128"}]})
    job = batch.submit_job(jobName="j", jobQueue="jq", jobDefinition="jd", tags={})
    cr = batch.create_consumable_resource(consumableResourceName="licence", totalQuantity=1, tags={})
    batch.create_service_environment(serviceEnvironmentName="se", serviceEnvironmentType="SAGEMAKER_TRAINING",
                                     capacityLimits=[{"maxCapacity": 2, "capacityUnit": "ml.m5.large"}], tags={})
    policy = batch.create_scheduling_policy(name="qs-policy", tags={},
                                            quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"})["arn"]
    batch.create_job_queue(jobQueueName="qm", priority=1, schedulingPolicyArn=policy,
                           serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "se"}])
    share = batch.create_quota_share(quotaShareName="team", jobQueue="qm", tags={},
                                     capacityLimits=[{"maxCapacity": 1, "capacityUnit": "ml.m5.large"}],
                                     resourceSharingConfiguration={"strategy": "RESERVE"},
                                     preemptionConfiguration={"inSharePreemption": "DISABLED"})
    payload = json.dumps({"TrainingJobName": "tj", "AlgorithmSpecification": {"TrainingImage": "t:1"},
                          "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1}})
    service_job = batch.submit_service_job(jobName="sj", jobQueue="qm", serviceJobType="SAGEMAKER_TRAINING",
                                           serviceRequestPayload=payload, quotaShareName="team", tags={})
    # Each resource exists and carries no tags.
    for arn in (ce["computeEnvironmentArn"], sp["arn"], jd["jobDefinitionArn"], job["jobArn"],
                cr["consumableResourceArn"], service_job["jobArn"]):
        assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {}, arn
    assert batch.describe_jobs(jobs=[job["jobId"]])["jobs"][0]["jobName"] == "j"
    assert batch.describe_quota_share(quotaShareArn=share["quotaShareArn"])["quotaShareName"] == "team"


def test_tag_resource_still_needs_a_tag(batch):
    arn = batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")["computeEnvironmentArn"]
    message = client_error(batch.tag_resource, resourceArn=arn, tags={})
    assert message == "Value at 'tags' failed to satisfy constraint: Member must have length between 1 and 50"


def test_more_than_50_tags_are_still_refused_on_create(batch):
    message = client_error(batch.create_compute_environment, computeEnvironmentName="ce", type="UNMANAGED",
                           tags={f"k{i}": "v" for i in range(51)})
    assert "Member must have length between 1 and 50" in message
