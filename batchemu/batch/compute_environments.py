"""Compute environments (ref §3): create, describe, update, delete.

Roles, subnets and security groups are opaque well-formed strings: no IAM or EC2 resource has
to exist (the setup friction users hit with moto, peers §1.5). Capacity is `maxvCpus`.
ECS_MANAGED_INSTANCES resources' own rules are batch.managed_instances'.
Every ECS-orchestrated compute environment, MANAGED or UNMANAGED, owns an ECS cluster named
`<name>_Batch_<uuid>` (ref §2.1, §3.6) that is created and deleted with it through
`backend.clusters`; EKS ones have none.
"""

from __future__ import annotations

import math
import uuid

from batchemu.batch import instance_types, managed_instances
from batchemu.batch.backend import Backend
from batchemu.batch.common import (check_list_or_max, check_new, check_not_settling, check_tags,
                                   describe, live, load_all, save)
from batchemu.batch.errors import ClientException, wrapped
from batchemu.batch.kubernetes_names import check_eks_configuration
from batchemu.context import RequestContext
from batchemu.store.jobs import Jobs
from batchemu.vocabulary import arns, lifecycle

KIND = arns.COMPUTE_ENVIRONMENT
MAX_PER_REGION = 50  # ref §3.7
EC2_TYPES = ("EC2", "SPOT")
FARGATE_TYPES = ("FARGATE", "FARGATE_SPOT")
MANAGED_INSTANCES_TYPES = (managed_instances.TYPE,)
# ComputeResource.subnets is required for these types only (model, since botocore 1.43.93).
SUBNET_TYPES = EC2_TYPES + FARGATE_TYPES
# Members that make no sense on Fargate (ref §3.1: "Don't specify it").
EC2_ONLY = ("allocationStrategy", "minvCpus", "desiredvCpus", "instanceTypes", "imageId",
            "ec2KeyPair", "instanceRole", "tags", "placementGroup", "bidPercentage",
            "spotIamFleetRole", "launchTemplate", "ec2Configuration", "scalingPolicy")
# ref §3.5: changing any of these replaces instances (an "infrastructure update").
INFRASTRUCTURE = ("allocationStrategy", "bidPercentage", "ec2Configuration", "ec2KeyPair",
                  "imageId", "instanceRole", "instanceTypes", "launchTemplate", "placementGroup",
                  "securityGroupIds", "subnets", "tags", "type", "updateToLatestImageVersion")
# The strategies an update may set (the model's CRUpdateAllocationStrategy: "BEST_FIT isn't
# supported when updating"), which are also the ones that allow infrastructure updates.
INFRA_STRATEGIES = ("BEST_FIT_PROGRESSIVE", "BEST_FIT_PROGRESSIVE_ORDERED", "SPOT_CAPACITY_OPTIMIZED",
                    "SPOT_PRICE_CAPACITY_OPTIMIZED", "SPOT_CAPACITY_OPTIMIZED_PRIORITIZED")
SERVICE_LINKED_ROLE = "role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch"


def create_compute_environment(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    name = params["computeEnvironmentName"]
    check_new(backend, ctx, KIND, name, "computeEnvironmentName", "compute environment", MAX_PER_REGION)
    ce_type = params["type"]
    resources = params.get("computeResources")
    if ce_type == "MANAGED":
        if resources is None:
            raise ClientException("computeResources must be specified when creating a MANAGED "
                                  "compute environment")
        if params.get("unmanagedvCpus") is not None:
            raise ClientException("unmanagedvCpus can only be specified for an UNMANAGED compute environment")
        resources = _check_new_resources(ctx, dict(resources))
    else:
        if resources is not None:
            raise ClientException("computeResources cannot be specified for an UNMANAGED compute environment")
        if params.get("unmanagedvCpus") is not None and params["unmanagedvCpus"] < 0:
            raise ClientException("unmanagedvCpus must be greater than or equal to 0")
    eks = params.get("eksConfiguration")
    if eks is not None:
        check_eks_configuration(eks)
        eks = _eks_configuration(dict(eks), eks.get("accessEntry"))
    arn = arns.make(ctx, KIND, name)
    cluster = None if eks else f"{name}_Batch_{uuid.uuid4()}"  # ref §2.1
    doc = {
        "computeEnvironmentName": name,
        "computeEnvironmentArn": arn,
        "type": ce_type,
        "state": params.get("state") or "ENABLED",
        "computeResources": resources,
        "unmanagedvCpus": params.get("unmanagedvCpus") if ce_type == "UNMANAGED" else None,
        "serviceRole": _role_arn(ctx, params.get("serviceRole")),
        "ecsClusterArn": cluster and f"arn:{ctx.partition}:ecs:{ctx.region}:{ctx.account}:cluster/{cluster}",
        "eksConfiguration": eks,
        "containerOrchestrationType": "EKS" if eks else "ECS",
        "uuid": str(uuid.uuid4()),
        "tags": check_tags(params.get("tags")),
        "context": params.get("context"),
        "ecsSettings": _ecs_settings(params.get("ecsSettings"), eks),
        "createdAt": ctx.now_ms,
    }
    lifecycle.begin(doc, "CREATING", "VALID", ctx.now_ms, backend.settle_ms,
                    lifecycle.HEALTHY_REASON[KIND])
    save(backend, ctx, KIND, name, arn, doc)
    if cluster:
        backend.clusters.create(ctx.account, ctx.region, cluster)  # after save: see ecs_clusters()
    backend.changed()
    return {"computeEnvironmentName": name, "computeEnvironmentArn": arn}


def describe_compute_environments(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    check_list_or_max(params, "computeEnvironments", "ComputeEnvironments", ctx)
    docs = describe(backend, ctx, KIND, params, "computeEnvironments", "computeEnvironmentName")
    in_use = Jobs(backend.store).vcpus_in_use()
    for doc in docs:
        cr = doc.get("computeResources")
        if cr and cr.get("desiredvCpus") is not None:
            # desiredvCpus follows demand: what running jobs hold, never below minvCpus and
            # never below what the user set (ref §3.5: it can't be decreased by an update).
            used = math.ceil(in_use.get(doc["computeEnvironmentArn"], 0.0))
            doc["computeResources"] = dict(cr, desiredvCpus=min(cr["maxvCpus"], max(cr["desiredvCpus"], used)))
    return {"computeEnvironments": docs}


def update_compute_environment(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    doc = live(backend, ctx, KIND, params["computeEnvironment"], "Compute environment")
    check_not_settling(doc, "update")
    if params.get("state"):
        doc["state"] = params["state"]
    if params.get("unmanagedvCpus") is not None:
        if doc["type"] != "UNMANAGED":
            raise ClientException("unmanagedvCpus can only be specified for an UNMANAGED compute environment")
        doc["unmanagedvCpus"] = params["unmanagedvCpus"]
    if params.get("serviceRole") is not None:
        new_role = _role_arn(ctx, params["serviceRole"])
        if _is_service_linked(new_role) != _is_service_linked(doc["serviceRole"]):
            raise ClientException("serviceRole: a service-linked role can't be replaced by a regular "
                                  "IAM role, or a regular role by the service-linked role")
        doc["serviceRole"] = new_role
    if params.get("computeResources"):
        if doc["type"] == "UNMANAGED":
            raise ClientException("computeResources cannot be specified for an UNMANAGED compute environment")
        doc["computeResources"] = _updated_resources(ctx, doc["computeResources"], dict(params["computeResources"]))
    if params.get("updatePolicy") is not None:
        policy = dict(doc.get("updatePolicy") or {"terminateJobsOnUpdate": False,
                                                  "jobExecutionTimeoutMinutes": 30})
        policy.update({k: v for k, v in params["updatePolicy"].items() if v is not None})
        doc["updatePolicy"] = policy
    if params.get("context") is not None:
        doc["context"] = params["context"]
    if params.get("ecsSettings") is not None:
        settings = _ecs_settings(params["ecsSettings"], doc.get("eksConfiguration"))
        doc["ecsSettings"] = {**(doc.get("ecsSettings") or {}), **settings}
    if params.get("eksConfiguration") is not None:
        if doc.get("containerOrchestrationType") != "EKS":
            raise ClientException("eksConfiguration can only be updated for a compute environment whose "
                                  "containerOrchestrationType is EKS")
        access = params["eksConfiguration"].get("accessEntry")
        if access is not None:
            doc["eksConfiguration"] = _eks_configuration(dict(doc["eksConfiguration"]), access)
    lifecycle.begin(doc, "UPDATING", "VALID", ctx.now_ms, backend.settle_ms, lifecycle.HEALTHY_REASON[KIND])
    save(backend, ctx, KIND, doc["computeEnvironmentName"], doc["computeEnvironmentArn"], doc)
    backend.changed()
    return {"computeEnvironmentName": doc["computeEnvironmentName"],
            "computeEnvironmentArn": doc["computeEnvironmentArn"]}


def delete_compute_environment(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    doc = live(backend, ctx, KIND, params["computeEnvironment"], "Compute environment")
    check_not_settling(doc, "delete")  # ref §3.4
    if doc["state"] != "DISABLED":
        raise ClientException(f"Cannot delete, compute environment {doc['computeEnvironmentName']} "
                              "is ENABLED; disable it with UpdateComputeEnvironment first")
    for queue in load_all(backend, ctx, arns.JOB_QUEUE):
        if queue["status"] == "DELETED":
            continue
        if any(o["computeEnvironment"] == doc["computeEnvironmentArn"]
               for o in queue.get("computeEnvironmentOrder") or []):
            raise ClientException("Cannot delete, found existing JobQueue relationship")  # ref §3.4
    lifecycle.begin(doc, "DELETING", "DELETED", ctx.now_ms, backend.settle_ms)
    save(backend, ctx, KIND, doc["computeEnvironmentName"], doc["computeEnvironmentArn"], doc)
    cluster = cluster_name(doc)
    if cluster:
        backend.clusters.delete(ctx.account, ctx.region, cluster)
    backend.changed()
    return {}


def cluster_name(doc: dict) -> str | None:
    """The name of the ECS cluster a compute environment owns (None: an EKS one has none)."""
    arn = doc.get("ecsClusterArn")
    return arn.split(":cluster/", 1)[1] if arn and ":cluster/" in arn else None


def ecs_clusters(backend: Backend, now_ms: int) -> list[tuple[str, str, str]]:
    """(account, region, cluster name) of every compute environment that is not being deleted:
    the clusters an ECS emulation that lost its state (moto's is in memory) must hold again.
    Create and delete save the document before they touch `backend.clusters`, so a caller that
    starts taking create/delete calls and then reads this list misses none."""
    out = []
    for account, region, doc in backend.store.list_every_scope(KIND):
        if lifecycle.is_gone(doc, now_ms):
            continue
        if lifecycle.settle(doc, now_ms)["status"] in ("DELETING", "DELETED"):
            continue
        cluster = cluster_name(doc)
        if cluster:
            out.append((account, region, cluster))
    return out


# -- rules -----------------------------------------------------------------------------------

def _check_new_resources(ctx: RequestContext, cr: dict) -> dict:
    cr_type = cr["type"]
    if cr_type in SUBNET_TYPES and cr.get("subnets") is None:
        raise ClientException(f"computeResources.subnets is required for {cr_type} compute resources")
    if cr.get("managedInstancesProvider") is not None and cr_type not in MANAGED_INSTANCES_TYPES:
        raise ClientException(f"computeResources.managedInstancesProvider is only valid for "
                              f"{managed_instances.TYPE} compute resources, not {cr_type}")
    cr["capacityTags"] = managed_instances.check_capacity_tags(cr.get("capacityTags"), cr_type)
    if cr_type in MANAGED_INSTANCES_TYPES:
        given = [k for k in EC2_ONLY + ("subnets", "securityGroupIds") if cr.get(k) is not None]
        if given:
            raise ClientException(f"computeResources.{given[0]} isn't applicable to {cr_type} compute "
                                  "resources: networking, instance profile and instance selection are "
                                  "set inside managedInstancesProvider")
        if cr.get("managedInstancesProvider") is None:
            raise ClientException(f"computeResources.managedInstancesProvider is required for {cr_type} "
                                  "compute resources")
        cr["managedInstancesProvider"] = managed_instances.check_provider(cr["managedInstancesProvider"])
    elif cr_type in FARGATE_TYPES:
        given = [k for k in EC2_ONLY if cr.get(k) is not None]
        if given:
            raise ClientException(f"computeResources.{given[0]} isn't applicable to {cr_type} compute "
                                  f"resources; don't specify it")
        if not cr.get("securityGroupIds"):
            raise ClientException(f"computeResources.securityGroupIds must contain at least one security "
                                  f"group for {cr_type} compute resources")
        _check_fargate_lists(cr)
    else:
        if not cr.get("instanceRole"):
            raise wrapped(ctx, "Instance role is required.")  # ref §3.1 / Appendix A
        if not cr.get("instanceTypes"):
            raise ClientException(f"computeResources.instanceTypes is required for {cr_type} compute "
                                  "resources (for example [\"optimal\"])")
        instance_types.check(ctx, cr["instanceTypes"])
        strategy = cr.get("allocationStrategy") or "BEST_FIT"
        if strategy.startswith("SPOT_") and cr_type != "SPOT":
            raise ClientException(f"computeResources.allocationStrategy {strategy} is only valid for SPOT "
                                  "compute resources")
        if cr_type == "SPOT" and strategy == "BEST_FIT" and not cr.get("spotIamFleetRole"):
            raise ClientException("computeResources.spotIamFleetRole is required for SPOT compute resources "
                                  "with the BEST_FIT allocation strategy")
        cr["allocationStrategy"] = strategy
        cr.setdefault("minvCpus", 0)
        if cr.get("minvCpus") is None:
            cr["minvCpus"] = 0
        if cr.get("desiredvCpus") is None:
            cr["desiredvCpus"] = cr["minvCpus"]
        if not cr.get("ec2Configuration"):
            cr["ec2Configuration"] = [{"imageType": "ECS_AL2023"}]  # ref §3.1 default
    _check_vcpus(cr)
    return cr


def _check_fargate_lists(cr: dict) -> None:
    if len(cr.get("subnets") or []) > 16:
        raise ClientException("computeResources.subnets: Fargate compute resources can have at most 16 subnets")
    if len(cr.get("securityGroupIds") or []) > 5:
        raise ClientException("computeResources.securityGroupIds: at most 5 security groups can be specified")


def _check_vcpus(cr: dict) -> None:
    lo, hi, want = cr.get("minvCpus"), cr["maxvCpus"], cr.get("desiredvCpus")
    if hi < 0:
        raise ClientException(f"computeResources.maxvCpus must be greater than or equal to 0, got {hi}")
    if lo is not None and lo < 0:
        raise ClientException(f"computeResources.minvCpus must be greater than or equal to 0, got {lo}")
    if lo is not None and lo > hi:
        raise ClientException(f"computeResources.minvCpus ({lo}) can't be greater than maxvCpus ({hi})")
    if want is not None and not ((lo or 0) <= want <= hi):
        raise ClientException(f"computeResources.desiredvCpus ({want}) must be between minvCpus "
                              f"({lo or 0}) and maxvCpus ({hi})")


def _updated_resources(ctx: RequestContext, current: dict, change: dict) -> dict:
    cr = dict(current)
    fargate = cr["type"] in FARGATE_TYPES
    managed = cr["type"] in MANAGED_INSTANCES_TYPES
    new_type = change.get("type")
    if new_type and new_type != cr["type"] and managed_instances.TYPE in (new_type, cr["type"]):
        raise ClientException(f"computeResources.type can't change to or from {managed_instances.TYPE} "
                              f"(this compute environment is {cr['type']})")  # model text
    if change.get("managedInstancesProvider") is not None and not managed:
        raise ClientException(f"computeResources.managedInstancesProvider is only valid for "
                              f"{managed_instances.TYPE} compute environments, not {cr['type']}")
    if change.get("capacityTags") is not None:
        cr["capacityTags"] = managed_instances.check_capacity_tags(change["capacityTags"], cr["type"])
    if managed:
        given = [k for k in EC2_ONLY + ("subnets", "securityGroupIds", "updateToLatestImageVersion")
                 if change.get(k) is not None]
        if given:
            raise ClientException(f"computeResources.{given[0]} can't be updated for a {cr['type']} compute "
                                  "environment; only maxvCpus, managedInstancesProvider and capacityTags can")
        if change.get("managedInstancesProvider") is not None:
            cr["managedInstancesProvider"] = managed_instances.updated_provider(
                cr["managedInstancesProvider"], change["managedInstancesProvider"])
    elif fargate:
        given = [k for k in EC2_ONLY if change.get(k) is not None]
        given += [k for k in ("type", "updateToLatestImageVersion") if change.get(k) is not None]
        if given:
            raise ClientException(f"computeResources.{given[0]} can't be updated for a {cr['type']} compute "
                                  "environment; only maxvCpus, subnets and securityGroupIds can")
        for key in ("subnets", "securityGroupIds"):
            if change.get(key):  # an empty list means "no change" on Fargate (ref §3.5)
                cr[key] = change[key]
        _check_fargate_lists(cr)
    else:
        infra = [k for k in INFRASTRUCTURE if k in change and change[k] is not None]
        if infra:
            strategy = change.get("allocationStrategy") or cr.get("allocationStrategy") or "BEST_FIT"
            if strategy not in INFRA_STRATEGIES:
                raise ClientException(
                    f"computeResources.{infra[0]} requires an infrastructure update, which compute "
                    f"environments using the {strategy} allocation strategy don't support; use "
                    f"{', '.join(INFRA_STRATEGIES)}")
            new_type = change.get("type")
            if new_type and new_type not in EC2_TYPES:
                raise ClientException("computeResources.type can only change between EC2 and SPOT")
        instance_types.check(ctx, change.get("instanceTypes"))
        for key, value in change.items():
            if value is None or key in ("minvCpus", "maxvCpus", "desiredvCpus"):
                continue
            if value == "":  # ref §3.5: an empty string removes an optional value
                cr.pop(key, None)
            elif key == "launchTemplate" and value.get("launchTemplateId") == "":
                cr.pop(key, None)
            else:
                cr[key] = value
        if "minvCpus" in change and change["minvCpus"] is not None:
            cr["minvCpus"] = change["minvCpus"]
        if change.get("desiredvCpus") is not None:
            if change["desiredvCpus"] < (current.get("desiredvCpus") or 0):
                raise ClientException(
                    f"computeResources.desiredvCpus can't be decreased (current "
                    f"{current.get('desiredvCpus')}, requested {change['desiredvCpus']})")  # ref §3.5
            cr["desiredvCpus"] = change["desiredvCpus"]
    if change.get("maxvCpus") is not None:
        cr["maxvCpus"] = change["maxvCpus"]
    if not (fargate or managed) and cr.get("desiredvCpus") is not None and cr.get("minvCpus") is not None:
        cr["desiredvCpus"] = max(cr["desiredvCpus"], cr["minvCpus"])
        cr["desiredvCpus"] = min(cr["desiredvCpus"], cr["maxvCpus"])
    _check_vcpus(cr)
    return cr


def _ecs_settings(settings: dict | None, eks: dict | None) -> dict | None:
    if settings is not None and eks is not None:
        raise ClientException("ecsSettings applies to Amazon ECS compute environments; this one is an "
                              "Amazon EKS compute environment (eksConfiguration)")
    return dict(settings) if settings is not None else None


def _eks_configuration(eks: dict, access: dict | None) -> dict:
    """eksConfiguration with accessEntry as recorded: the caller's desiredState and the observed
    status, read-only (model). batchemu has no cluster: the entry is ACTIVE when Batch was told to
    manage one (ENABLED), INACTIVE otherwise."""
    if access is None:
        eks.pop("accessEntry", None)  # not given: none recorded, none described (model)
        return eks
    desired = access["desiredState"]
    eks["accessEntry"] = {"desiredState": desired, "status": "ACTIVE" if desired == "ENABLED" else "INACTIVE"}
    return eks


def _role_arn(ctx: RequestContext, role: str | None) -> str:
    if not role:
        return f"arn:{ctx.partition}:iam::{ctx.account}:{SERVICE_LINKED_ROLE}"
    if role.startswith("arn:"):
        return role
    return f"arn:{ctx.partition}:iam::{ctx.account}:role/{role}"  # a bare name has no path (ref §3.1)


def _is_service_linked(role_arn: str) -> bool:
    return "role/aws-service-role/" in role_arn
