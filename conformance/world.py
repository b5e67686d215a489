"""Builds the server state a request needs (a compute environment for a queue, a job for
DescribeJobs, a quota-management queue for a quota share, ...) through a boto3 client, once
per World, with request shapes taken from the AWS documentation's examples.

Only valid, documented requests; nothing here asserts behaviour (the tests do).
"""

from __future__ import annotations

import json

from conformance.harness import JOB_IMAGE, unique, wait_settled

# examples-1.json, "To create a managed EC2 compute environment" (trimmed to one instance type).
EC2_RESOURCES = {"type": "EC2", "minvCpus": 0, "maxvCpus": 16, "desiredvCpus": 0,
                 "instanceTypes": ["optimal"], "subnets": ["subnet-220c0e0a"],
                 "securityGroupIds": ["sg-cf5093b2"], "instanceRole": "ecsInstanceRole"}
# A SageMaker CreateTrainingJob request, the payload SubmitServiceJob carries (ref §13.3).
TRAINING_JOB = {
    "TrainingJobName": "conformance-training",
    "AlgorithmSpecification": {"TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/algo:1",
                               "TrainingInputMode": "File"},
    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
    "OutputDataConfig": {"S3OutputPath": "s3://conformance-bucket/output"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}
QUOTA_INSTANCE_TYPE = "ml.m5.large"


def container_properties(command=("sh", "-c", "exit 0")) -> dict:
    return {"image": JOB_IMAGE, "command": list(command),
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}]}


class World:
    def __init__(self, client):
        self.client = client
        self._made = {}

    def _once(self, key, make):
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]

    # -- compute -----------------------------------------------------------------------------

    def compute_environment(self, key="ce") -> str:
        def make():
            name = unique("ce")
            self.client.create_compute_environment(computeEnvironmentName=name, type="MANAGED",
                                                   computeResources=EC2_RESOURCES)
            self.settle_ce(name)
            return name
        return self._once(key, make)

    def settle_ce(self, name):
        return wait_settled(lambda: _first(self.client.describe_compute_environments(
            computeEnvironments=[name])["computeEnvironments"]), what=f"compute environment {name}")

    def job_queue(self, key="queue", policy_arn=None) -> str:
        def make():
            name = unique("queue")
            extra = {"schedulingPolicyArn": policy_arn} if policy_arn else {}
            self.client.create_job_queue(jobQueueName=name, priority=1, **extra,
                                         computeEnvironmentOrder=[{"order": 1, "computeEnvironment":
                                                                   self.compute_environment()}])
            self.settle_queue(name)
            return name
        return self._once(key, make)

    def settle_queue(self, name):
        return wait_settled(lambda: _first(self.client.describe_job_queues(
            jobQueues=[name])["jobQueues"]), what=f"job queue {name}")

    def held_job_queue(self) -> str:
        """An ENABLED queue whose only compute environment is DISABLED: its jobs wait in
        RUNNABLE on any deployment, whatever its runner (ref §3.3: no new placements)."""
        def make():
            name = self.job_queue("held-queue")
            ce = self.compute_environment()
            self.client.update_compute_environment(computeEnvironment=ce, state="DISABLED")
            self.settle_ce(ce)
            return name
        return self._once("held-queue", make)

    def disabled_compute_environment(self) -> str:
        """A DISABLED compute environment no queue uses (what DeleteComputeEnvironment needs)."""
        def make():
            name = self.compute_environment("lonely-ce")
            self.client.update_compute_environment(computeEnvironment=name, state="DISABLED")
            self.settle_ce(name)
            return name
        return self._once("disabled-ce", make)

    def disabled_job_queue(self) -> str:
        def make():
            name = self.job_queue("doomed-queue")
            self.client.update_job_queue(jobQueue=name, state="DISABLED")
            self.settle_queue(name)
            return name
        return self._once("disabled-queue", make)

    # -- definitions, policies, jobs -----------------------------------------------------------

    def job_definition(self, key="jd", **extra) -> dict:
        """{name, arn} of a registered container job definition."""
        def make():
            out = self.client.register_job_definition(
                jobDefinitionName=unique("jd"), type="container",
                containerProperties=container_properties(), **extra)
            return {"name": out["jobDefinitionName"], "arn": out["jobDefinitionArn"]}
        return self._once(key, make)

    def scheduling_policy(self, key="policy") -> str:
        def make():
            return self.client.create_scheduling_policy(
                name=unique("policy"),
                fairsharePolicy={"shareDecaySeconds": 3600, "computeReservation": 1,
                                 "shareDistribution": [{"shareIdentifier": "A1", "weightFactor": 1.0}]},
            )["arn"]
        return self._once(key, make)

    def job(self, key="job") -> dict:
        """{id, name, queue} of a submitted job."""
        def make():
            name = unique("job")
            queue = self.job_queue()
            out = self.client.submit_job(jobName=name, jobQueue=queue,
                                         jobDefinition=self.job_definition()["arn"])
            return {"id": out["jobId"], "name": name, "queue": queue}
        return self._once(key, make)

    # -- consumable resources ------------------------------------------------------------------

    def consumable_resource(self, key="cr") -> str:
        def make():
            name = unique("licence")
            self.client.create_consumable_resource(consumableResourceName=name, totalQuantity=10,
                                                   resourceType="REPLENISHABLE")
            return name
        return self._once(key, make)

    def job_using_consumable_resource(self) -> dict:
        """A job whose definition needs 1 of the consumable resource (ref §13.1)."""
        def make():
            resource = self.consumable_resource()
            jd = self.job_definition("cr-jd", consumableResourceProperties={
                "consumableResourceList": [{"consumableResource": resource, "quantity": 1}]})
            name = unique("cr-job")
            out = self.client.submit_job(jobName=name, jobQueue=self.job_queue(), jobDefinition=jd["arn"])
            return {"id": out["jobId"], "name": name, "resource": resource}
        return self._once("cr-job", make)

    # -- service environments, service jobs, quota shares ----------------------------------------

    def service_environment(self, key="se", quota_management=False) -> str:
        """A SAGEMAKER_TRAINING service environment; with quota_management its capacity is
        counted per instance type, which is what quota shares need (ref §13.2, §13.4)."""
        def make():
            name = unique("se")
            unit = QUOTA_INSTANCE_TYPE if quota_management else "NUM_INSTANCES"
            self.client.create_service_environment(
                serviceEnvironmentName=name, serviceEnvironmentType="SAGEMAKER_TRAINING",
                capacityLimits=[{"maxCapacity": 4, "capacityUnit": unit}])
            self.settle_se(name)
            return name
        return self._once(key, make)

    def settle_se(self, name):
        return wait_settled(lambda: _first(self.client.describe_service_environments(
            serviceEnvironments=[name])["serviceEnvironments"]), what=f"service environment {name}")

    def disabled_service_environment(self) -> str:
        def make():
            name = self.service_environment("lonely-se")
            self.client.update_service_environment(serviceEnvironment=name, state="DISABLED")
            self.settle_se(name)
            return name
        return self._once("disabled-se", make)

    def service_queue(self, key="service-queue", quota_management=False) -> str:
        """A SAGEMAKER_TRAINING job queue; with quota_management it has a quotaSharePolicy
        scheduling policy and a per-instance-type service environment (ref §13.4)."""
        def make():
            name = unique("sq")
            extra = {}
            if quota_management:
                extra["schedulingPolicyArn"] = self.client.create_scheduling_policy(
                    name=unique("quota-policy"),
                    quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"})["arn"]
            se = self.service_environment(f"{key}-se", quota_management=quota_management)
            self.client.create_job_queue(jobQueueName=name, priority=1, jobQueueType="SAGEMAKER_TRAINING",
                                         serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": se}],
                                         **extra)
            self.settle_queue(name)
            return name
        return self._once(key, make)

    def held_service_queue(self) -> str:
        """A SAGEMAKER_TRAINING queue whose service environment is DISABLED: its service jobs
        wait in RUNNABLE on any deployment (ref §13.2: disabling stops new placements)."""
        def make():
            name = self.service_queue("held-service-queue")
            se = self.service_environment("held-service-queue-se")
            self.client.update_service_environment(serviceEnvironment=se, state="DISABLED")
            self.settle_se(se)
            return name
        return self._once("held-service-queue", make)

    def service_job(self, key="service-job") -> dict:
        """{id, name, queue, arn} of a service job that waits in RUNNABLE."""
        def make():
            name = unique("training")
            queue = self.held_service_queue()
            out = self.client.submit_service_job(jobName=name, jobQueue=queue,
                                                 serviceJobType="SAGEMAKER_TRAINING",
                                                 serviceRequestPayload=json.dumps(TRAINING_JOB))
            return {"id": out["jobId"], "name": name, "queue": queue, "arn": out.get("jobArn")}
        return self._once(key, make)

    def quota_share(self, key="quota-share") -> dict:
        """{name, arn, queue} of a quota share in a quota-management queue."""
        def make():
            queue = self.service_queue("quota-queue", quota_management=True)
            name = unique("share")
            out = self.client.create_quota_share(
                quotaShareName=name, jobQueue=queue,
                capacityLimits=[{"maxCapacity": 2, "capacityUnit": QUOTA_INSTANCE_TYPE}],
                resourceSharingConfiguration={"strategy": "RESERVE"},
                preemptionConfiguration={"inSharePreemption": "DISABLED"})
            return {"name": name, "arn": out["quotaShareArn"], "queue": queue}
        return self._once(key, make)

    def disabled_quota_share(self) -> dict:
        def make():
            share = self.quota_share("doomed-share")
            self.client.update_quota_share(quotaShareArn=share["arn"], state="DISABLED")
            wait_settled(lambda: self.client.describe_quota_share(quotaShareArn=share["arn"]),
                         what=f"quota share {share['name']}")
            return share
        return self._once("disabled-share", make)


def _first(items):
    return items[0] if items else None
