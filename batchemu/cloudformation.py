"""CloudFormation's AWS::Batch::ComputeEnvironment, JobQueue, JobDefinition and
SchedulingPolicy resources, created, updated and deleted through batchemu's own Batch
operations, so a stack (moto's CloudFormation, on the same endpoint) and the Batch API agree.

moto's CloudFormation finds the class of a resource type in a map (moto.cloudformation.parsing
`get_model_map()`); `install()` puts these classes there in place of moto's Batch ones (which
would create the resources in moto's own Batch backend, invisible to batchemu). A class turns
the template's properties into the Batch operation's parameters by the botocore input shape
(PascalCase property -> member, template strings -> integers/booleans where the shape says so,
map keys kept as written) and calls the operation through `BatchOperations` (validated like an
HTTP request), in the stack's account and region.

Ref and Fn::GetAtt as CloudFormation documents them: Ref is the ARN for all four types (a job
definition's with its revision); GetAtt ComputeEnvironmentArn, JobQueueArn, JobDefinitionArn,
and SchedulingPolicy Arn. CloudFormation waits for each resource to settle (CREATING/UPDATING
-> VALID, DELETING -> gone), and disables a compute environment or queue before deleting it;
so do these handlers (moto runs a stack operation inside its request).
Knows no HTTP and no Batch rule: every rule is the operation's.
"""

from __future__ import annotations

import time
import uuid

from batchemu.context import RequestContext
from batchemu.wire import members
from batchemu.wire.errors import ApiError

NAME_LIMIT = 128  # Batch names (ref §15); CloudFormation's generated names are truncated to it


class BatchOperations:
    """`ops(account, region, operation, params) -> dict`: one Batch operation, validated
    against the model as an HTTP request is, then run by `handler` (the BatchProvider)."""

    def __init__(self, handler, spec, validator, clock, settle_seconds: float):
        self.handler = handler
        self.spec = spec
        self.validator = validator
        self.clock = clock
        self.wait_seconds = 5 + 3 * settle_seconds  # longest a settling resource can take, and then some

    def __call__(self, account: str, region: str, operation: str, params: dict) -> dict:
        ctx = RequestContext(account, region, request_id=str(uuid.uuid4()), now_ms=self.clock())
        self.validator.validate(params, self.spec.operation(operation).input_shape)
        return self.handler(ctx, operation, params)

    def shape(self, operation: str, *path: str):
        shape = self.spec.operation(operation).input_shape
        for name in path:
            shape = shape.members[name]
        return shape


_installed: list[BatchOperations] = []  # the newest server's operations serve moto's stacks


def install(ops: BatchOperations) -> None:
    """Serve moto's CloudFormation Batch resources with `ops` (moto must be loaded)."""
    from moto.cloudformation import parsing  # lazy for start-up time (called once moto is loaded)

    uninstall(ops)  # again after a moto reset: once, and newest
    _installed.append(ops)
    model_map = parsing.get_model_map()  # cached by moto: the dict every stack operation reads
    for resource in (ComputeEnvironment, JobQueue, JobDefinition, SchedulingPolicy):
        model_map[resource.TYPE] = resource
    parsing.get_name_type_map()[SchedulingPolicy.TYPE] = SchedulingPolicy.NAME


def uninstall(ops: BatchOperations) -> None:
    if ops in _installed:
        _installed.remove(ops)


def _ops() -> BatchOperations:
    if not _installed:
        raise _failure("no batchemu server is running in this process")
    return _installed[-1]


def _failure(message: str) -> Exception:
    from moto.cloudformation.exceptions import ValidationError  # lazy for start-up time (moto is loaded)

    # How CloudFormation reports a resource handler's error in a stack event.
    return ValidationError(message=f'Resource handler returned message: "{message}" '
                                   "(HandlerErrorCode: InvalidRequest)")


# -- template properties -> operation parameters -----------------------------------------------

def to_params(value, shape):
    """Template properties as the parameters of botocore `shape` (wire.members, strict: an
    unknown property or a value of the wrong kind fails the resource, as CloudFormation's
    schema check does)."""
    try:
        return members.to_members(value, shape, strict=True)
    except members.Mismatch as exc:
        text = str(exc)
        raise _failure(f"Encountered {text}" if text.startswith("unsupported property") else text) from None


def _generated(name: str) -> str:
    return name[:NAME_LIMIT]


# -- the resources -----------------------------------------------------------------------------

class _Resource:
    """One resource of a stack; moto reads `physical_resource_id` (Ref) and calls
    get_cfn_attribute (Fn::GetAtt), delete, and the class methods below."""

    TYPE = NAME = ARN_ATTRIBUTE = ""
    CF_ONLY: tuple = ()  # template properties that are CloudFormation's, not the operation's
    REPLACE_ON: tuple = ()  # properties whose change replaces the resource (createOnlyProperties)

    def __init__(self, account: str, region: str, arn: str, properties: dict):
        self.account, self.region, self.arn, self.properties = account, region, arn, properties

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == cls.ARN_ATTRIBUTE

    def get_cfn_attribute(self, attr: str) -> str:
        if attr == self.ARN_ATTRIBUTE:
            return self.arn
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException  # lazy (moto loaded)
        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME

    @classmethod
    def replaces(cls, old: dict, new: dict) -> bool:
        """Whether changing `old` properties to `new` replaces the resource."""
        return any(old.get(p) != new.get(p) for p in cls.REPLACE_ON)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name,
                                        **kwargs):
        properties = dict(cloudformation_json.get("Properties") or {})
        name = properties.get(cls.NAME) or _generated(resource_name)
        return cls.create(account_id, region_name, name, properties)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        properties = dict(cloudformation_json.get("Properties") or {})
        if cls.replaces(original_resource.properties, properties):
            return cls.replace(original_resource, new_resource_name, properties)
        original_resource.update(properties)
        original_resource.properties = properties
        return original_resource

    @classmethod
    def replace(cls, original, new_resource_name, properties):
        """CloudFormation's replacement: the new resource first, then the old one deleted."""
        name = properties.get(cls.NAME) or _generated(new_resource_name)
        if properties.get(cls.NAME) and properties.get(cls.NAME) == original.properties.get(cls.NAME):
            raise _failure(f"CloudFormation cannot update a stack when a custom-named resource requires "
                           f"replacing. Rename {name} and update the stack again.")
        new = cls.create(original.account, original.region, name, properties)
        original.delete(original.account, original.region)
        return new

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        cls(account_id, region_name, resource_name, {}).delete(account_id, region_name)

    # -- helpers for the subclasses ------------------------------------------------------------

    @classmethod
    def call(cls, account: str, region: str, operation: str, params: dict) -> dict:
        try:
            return _ops()(account, region, operation, params)
        except ApiError as err:
            raise _failure(err.message) from None

    @classmethod
    def params(cls, operation: str, properties: dict, *path: str) -> dict:
        given = {k: v for k, v in properties.items() if k not in cls.CF_ONLY}
        return to_params(given, _ops().shape(operation, *path))

    def retag(self, properties: dict) -> None:
        """Tags are updated in place where CloudFormation does (TagResource/UntagResource)."""
        old, new = self.properties.get("Tags") or {}, properties.get("Tags") or {}
        gone = [k for k in old if k not in new]
        if gone:
            self.call(self.account, self.region, "UntagResource", {"resourceArn": self.arn, "tagKeys": gone})
        changed = {str(k): str(v) for k, v in new.items() if old.get(k) != v}
        if changed:
            self.call(self.account, self.region, "TagResource", {"resourceArn": self.arn, "tags": changed})

    @classmethod
    def created(cls, account: str, region: str, operation: str, arn_member: str, name: str, properties: dict):
        """The resource `operation` creates from `properties` (named `name`), once settled."""
        params = cls.params(operation, {**properties, cls.NAME: name})
        resource = cls(account, region, cls.call(account, region, operation, params)[arn_member], properties)
        resource.wait(*cls.DESCRIBE)
        return resource

    def delete_settled(self, update: str, delete: str, key: str) -> None:
        """CloudFormation's delete of an environment or queue: DISABLED first (AWS refuses to
        delete an ENABLED one, ref §3.4, §4.4), then deleted, each step settled."""
        found = self.call(self.account, self.region, self.DESCRIBE[0], {self.DESCRIBE[1]: [self.arn]})
        docs = found[self.DESCRIBE[2]]
        if not docs or docs[0]["status"] in ("DELETING", "DELETED"):
            return  # already gone: CloudFormation's delete succeeds
        if docs[0]["state"] == "ENABLED":
            self.call(self.account, self.region, update, {key: self.arn, "state": "DISABLED"})
            self.wait(*self.DESCRIBE)
        self.call(self.account, self.region, delete, {key: self.arn})
        self.wait(*self.DESCRIBE, gone=True)

    def wait(self, describe: str, list_member: str, result_member: str, gone: bool = False) -> None:
        """Until the resource has settled (VALID or INVALID), or with `gone` is deleted."""
        deadline = time.monotonic() + _ops().wait_seconds
        while True:
            found = self.call(self.account, self.region, describe, {list_member: [self.arn]})[result_member]
            status = found[0]["status"] if found else "DELETED"
            if (status == "DELETED") if gone else (status in ("VALID", "INVALID")):
                return
            if time.monotonic() > deadline:
                raise _failure(f"{self.arn} is still {status}")
            time.sleep(0.05)


class ComputeEnvironment(_Resource):
    TYPE, NAME, ARN_ATTRIBUTE = "AWS::Batch::ComputeEnvironment", "ComputeEnvironmentName", "ComputeEnvironmentArn"
    CF_ONLY = ("ReplaceComputeEnvironment", "UpdatePolicy")
    REPLACE_ON = ("ComputeEnvironmentName", "Type", "Tags", "EksConfiguration")
    DESCRIBE = ("DescribeComputeEnvironments", "computeEnvironments", "computeEnvironments")

    @classmethod
    def create(cls, account, region, name, properties):
        resource = cls.created(account, region, "CreateComputeEnvironment", "computeEnvironmentArn", name,
                               properties)
        if properties.get("UpdatePolicy"):  # Create has no updatePolicy (ref §3.5): Update sets it
            resource.update_with({"UpdatePolicy": properties["UpdatePolicy"]})
        return resource

    @classmethod
    def replaces(cls, old: dict, new: dict) -> bool:
        fleet_role = [(p.get("ComputeResources") or {}).get("SpotIamFleetRole") for p in (old, new)]
        return super().replaces(old, new) or fleet_role[0] != fleet_role[1]

    def update(self, properties: dict) -> None:
        old_resources = self.properties.get("ComputeResources") or {}
        new_resources = properties.get("ComputeResources") or {}
        change = {k: v for k, v in properties.items()
                  if k in ("State", "ServiceRole", "UnmanagedvCpus", "UpdatePolicy", "Context", "EcsSettings")
                  and self.properties.get(k) != v}
        # Only the members that changed: an unchanged infrastructure member would ask for an
        # infrastructure update that the allocation strategy may not allow (ref §3.5).
        resources = {k: v for k, v in new_resources.items() if old_resources.get(k) != v}
        if resources:
            change["ComputeResources"] = resources
        if change:
            self.update_with(change)

    def update_with(self, change: dict) -> None:
        params = to_params(change, _ops().shape("UpdateComputeEnvironment"))  # UpdatePolicy included
        params["computeEnvironment"] = self.arn
        self.call(self.account, self.region, "UpdateComputeEnvironment", params)
        self.wait(*self.DESCRIBE)

    def delete(self, account_id=None, region_name=None) -> None:
        self.delete_settled("UpdateComputeEnvironment", "DeleteComputeEnvironment", "computeEnvironment")


class JobQueue(_Resource):
    TYPE, NAME, ARN_ATTRIBUTE = "AWS::Batch::JobQueue", "JobQueueName", "JobQueueArn"
    REPLACE_ON = ("JobQueueName", "JobQueueType")
    UPDATABLE = ("State", "Priority", "ComputeEnvironmentOrder", "SchedulingPolicyArn",
                 "JobStateTimeLimitActions", "ServiceEnvironmentOrder")
    DESCRIBE = ("DescribeJobQueues", "jobQueues", "jobQueues")

    @classmethod
    def create(cls, account, region, name, properties):
        return cls.created(account, region, "CreateJobQueue", "jobQueueArn", name, properties)

    def update(self, properties: dict) -> None:
        change = {k: properties[k] for k in self.UPDATABLE
                  if k in properties and self.properties.get(k) != properties[k]}
        if change:
            params = self.params("UpdateJobQueue", change)
            params["jobQueue"] = self.arn
            self.call(self.account, self.region, "UpdateJobQueue", params)
            self.wait(*self.DESCRIBE)
        self.retag(properties)

    def delete(self, account_id=None, region_name=None) -> None:
        self.delete_settled("UpdateJobQueue", "DeleteJobQueue", "jobQueue")


class JobDefinition(_Resource):
    """An update registers a new revision (a new ARN: Ref changes) and deregisters the old one
    unless ResourceRetentionPolicy.SkipDeregisterOnUpdate is true."""

    TYPE, NAME, ARN_ATTRIBUTE = "AWS::Batch::JobDefinition", "JobDefinitionName", "JobDefinitionArn"
    CF_ONLY = ("ResourceRetentionPolicy",)
    REPLACE_ON = ("JobDefinitionName",)

    @classmethod
    def create(cls, account, region, name, properties):
        params = cls.params("RegisterJobDefinition", {**properties, cls.NAME: name})
        arn = cls.call(account, region, "RegisterJobDefinition", params)["jobDefinitionArn"]
        resource = cls(account, region, arn, properties)
        resource.name = name
        return resource

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        properties = dict(cloudformation_json.get("Properties") or {})
        if cls.replaces(original_resource.properties, properties):
            return cls.replace(original_resource, new_resource_name, properties)
        name = getattr(original_resource, "name", None) or original_resource.arn.rsplit("/", 1)[1].split(":")[0]
        new = cls.create(original_resource.account, original_resource.region, name, properties)
        retention = properties.get("ResourceRetentionPolicy") or {}
        if str(retention.get("SkipDeregisterOnUpdate", "false")).lower() != "true":
            original_resource.delete()
        return new

    def delete(self, account_id=None, region_name=None) -> None:
        self.call(self.account, self.region, "DeregisterJobDefinition", {"jobDefinition": self.arn})


class SchedulingPolicy(_Resource):
    TYPE, NAME, ARN_ATTRIBUTE = "AWS::Batch::SchedulingPolicy", "Name", "Arn"
    REPLACE_ON = ("Name",)

    @classmethod
    def create(cls, account, region, name, properties):
        params = cls.params("CreateSchedulingPolicy", {**properties, cls.NAME: name})
        arn = cls.call(account, region, "CreateSchedulingPolicy", params)["arn"]
        return cls(account, region, arn, properties)

    def update(self, properties: dict) -> None:
        change = {k: properties[k] for k in ("FairsharePolicy", "QuotaSharePolicy")
                  if k in properties and self.properties.get(k) != properties[k]}
        if change:
            params = self.params("UpdateSchedulingPolicy", change)
            params["arn"] = self.arn
            self.call(self.account, self.region, "UpdateSchedulingPolicy", params)
        self.retag(properties)

    def delete(self, account_id=None, region_name=None) -> None:
        found = self.call(self.account, self.region, "DescribeSchedulingPolicies", {"arns": [self.arn]})
        if found["schedulingPolicies"]:
            self.call(self.account, self.region, "DeleteSchedulingPolicy", {"arn": self.arn})
