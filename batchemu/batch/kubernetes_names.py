"""The Kubernetes names AWS Batch checks before it stores them: a compute environment's
`eksConfiguration` (the EKS cluster's ARN and the namespace Batch manages pods in) and a pod's
`metadata.namespace` (job definition or SubmitJob override). Pure checks on wire values: no
store, no cluster (AWS also checks that the cluster exists; batchemu has none to ask).
"""

from __future__ import annotations

import re

from batchemu.batch.errors import ClientException

# model: EksConfiguration.kubernetesNamespace and EksMetadata.namespace (an RFC 1123 label).
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# An EKS cluster's ARN (model example: arn:aws:eks:us-east-1:123456789012:cluster/ClusterForBatch);
# EKS cluster names are 1-100 letters, digits, hyphens and underscores, starting alphanumeric.
_CLUSTER_ARN = re.compile(r"^arn:aws(-[a-z]+)*:eks:[a-z0-9-]+:[0-9]{12}:cluster/[0-9A-Za-z][0-9A-Za-z_-]{0,99}$")


def check_namespace(value, field: str, reserved_prefix: str) -> None:
    """The model's rules for a namespace Batch runs pods in: not empty, fewer than 64
    characters, not `default`, not starting with `reserved_prefix` (the compute environment's
    documentation says "kube-", EksMetadata's "kube"), and an RFC 1123 label."""
    if not value:
        raise ClientException(f"{field} can't be empty")
    if len(value) > 63:
        raise ClientException(f"{field} must be fewer than 64 characters long (got {len(value)})")
    if value == "default":
        raise ClientException(f"{field} can't be set to default")
    if value.startswith(reserved_prefix):
        raise ClientException(f"{field} can't start with \"{reserved_prefix}\" (got {value!r})")
    if not _LABEL.match(value):
        raise ClientException(f"{field} must match the regular expression ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ "
                              f"(got {value!r})")


def check_eks_configuration(eks: dict) -> None:
    """CreateComputeEnvironment's eksConfiguration (both members are required by the model)."""
    arn = eks.get("eksClusterArn")
    if not _CLUSTER_ARN.match(arn or ""):
        raise ClientException(f"eksConfiguration.eksClusterArn {arn!r} is not the ARN of an Amazon EKS cluster "
                              "(arn:aws:eks:<region>:<account>:cluster/<name>)")
    check_namespace(eks.get("kubernetesNamespace"), "eksConfiguration.kubernetesNamespace", "kube-")
