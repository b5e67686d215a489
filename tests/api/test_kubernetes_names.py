"""The Kubernetes names AWS Batch checks before storing them, through real boto3: a compute
environment's eksConfiguration (cluster ARN, namespace) and a pod's metadata.namespace in a job
definition and in SubmitJob's override (model: EksConfiguration, EksMetadata). What the runner
does with them: tests/runners/test_kubernetes_places_unit.py and the cluster tests."""

import pytest
from botocore.exceptions import ClientError

ARN = "arn:aws:eks:us-east-1:123456789012:cluster/batch"
EC2 = {"type": "EC2", "maxvCpus": 8, "subnets": ["subnet-1"], "instanceRole": "ecsInstanceRole",
       "instanceTypes": ["optimal"], "securityGroupIds": ["sg-1"], "allocationStrategy": "BEST_FIT_PROGRESSIVE"}
POD = {"containers": [{"name": "main", "image": "busybox", "resources": {"limits": {"cpu": "1", "memory": "64Mi"}}}]}


def refused(call, **params) -> str:
    with pytest.raises(ClientError) as exc:
        call(**params)
    assert exc.value.response["Error"]["Code"] == "ClientException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return exc.value.response["Error"]["Message"]


@pytest.mark.parametrize("eks, needle", [
    ({"eksClusterArn": ARN, "kubernetesNamespace": "default"}, "kubernetesNamespace can't be set to default"),
    ({"eksClusterArn": ARN, "kubernetesNamespace": "kube-batch"}, "kubernetesNamespace can't start with \"kube-\""),
    ({"eksClusterArn": ARN, "kubernetesNamespace": "Batch_Jobs"}, "kubernetesNamespace must match the regular"),
    ({"eksClusterArn": ARN, "kubernetesNamespace": "-batch"}, "kubernetesNamespace must match the regular"),
    ({"eksClusterArn": ARN, "kubernetesNamespace": "b" * 64}, "must be fewer than 64 characters long (got 64)"),
    ({"eksClusterArn": ARN, "kubernetesNamespace": ""}, '"kubernetesNamespace" (it cannot be an empty string)'),  # the wire's required check
    ({"eksClusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/batch", "kubernetesNamespace": "batch"},
     "is not the ARN of an Amazon EKS cluster"),
    ({"eksClusterArn": "batch", "kubernetesNamespace": "batch"}, "is not the ARN of an Amazon EKS cluster"),
])
def test_an_eks_configuration_aws_would_refuse_is_not_stored(batch, eks, needle):
    assert needle in refused(batch.create_compute_environment, computeEnvironmentName="eks", type="MANAGED",
                             computeResources=EC2, eksConfiguration=eks)
    assert batch.describe_compute_environments(computeEnvironments=["eks"])["computeEnvironments"] == []


def test_a_valid_eks_configuration_is_kept_as_given(batch):
    eks = {"eksClusterArn": ARN, "kubernetesNamespace": "kubernetes-batch" + "x" * 47}   # 63 characters
    batch.create_compute_environment(computeEnvironmentName="eks", type="MANAGED", computeResources=EC2,
                                     eksConfiguration=eks)
    (ce,) = batch.describe_compute_environments(computeEnvironments=["eks"])["computeEnvironments"]
    assert ce["eksConfiguration"] == eks and ce["containerOrchestrationType"] == "EKS"


@pytest.mark.parametrize("namespace, needle", [
    ("default", "podProperties.metadata.namespace can't be set to default"),
    ("kubeflow", "podProperties.metadata.namespace can't start with \"kube\""),   # EksMetadata: "kube"
    ("UPPER", "podProperties.metadata.namespace must match the regular expression"),
])
def test_a_pod_namespace_follows_the_same_rules(batch, namespace, needle):
    assert needle in refused(batch.register_job_definition, jobDefinitionName="pod", type="container",
                             eksProperties={"podProperties": {**POD, "metadata": {"namespace": namespace}}})


def test_a_pod_namespace_is_kept_and_an_override_replaces_it(batch):
    batch.create_compute_environment(computeEnvironmentName="eks", type="MANAGED", computeResources=EC2,
                                     eksConfiguration={"eksClusterArn": ARN, "kubernetesNamespace": "batch"})
    batch.create_job_queue(jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "eks"}])
    metadata = {"namespace": "team-a", "labels": {"a": "1"}, "annotations": {"x": "1"}}
    batch.register_job_definition(jobDefinitionName="pod", type="container",
                                  eksProperties={"podProperties": {**POD, "metadata": metadata}})
    (definition,) = batch.describe_job_definitions(jobDefinitionName="pod")["jobDefinitions"]
    assert definition["eksProperties"]["podProperties"]["metadata"] == metadata
    override = {"podProperties": {"metadata": {"namespace": "team-b", "labels": {"b": "2"}, "annotations": {"y": "2"}}}}
    job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="pod", eksPropertiesOverride=override)["jobId"]
    (job,) = batch.describe_jobs(jobs=[job_id])["jobs"]
    assert job["eksProperties"]["podProperties"]["metadata"] == {
        "namespace": "team-b", "labels": {"a": "1", "b": "2"}, "annotations": {"x": "1", "y": "2"}}
    bad = {"podProperties": {"metadata": {"namespace": "kube-system"}}}
    assert "eksPropertiesOverride.podProperties.metadata.namespace can't start with \"kube\"" in refused(
        batch.submit_job, jobName="j", jobQueue="q", jobDefinition="pod", eksPropertiesOverride=bad)
