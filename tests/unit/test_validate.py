"""wire/validate.py against the batch model: required members, types, enums, min/max, empty
required strings, unknown members, and the case-insensitive enum exemption (ref §1.4, §9)."""

from __future__ import annotations

import pytest

from batchemu.batch.provider import CASE_INSENSITIVE_ENUMS, EMPTY_TAGS_ALLOWED
from batchemu.wire import spec as wire_spec
from batchemu.wire.errors import ApiError
from batchemu.wire.validate import Validator

SPEC = wire_spec.load("batch")
VALIDATOR = Validator("ClientException", CASE_INSENSITIVE_ENUMS, empty_allowed=EMPTY_TAGS_ALLOWED)
CR = {"type": "EC2", "maxvCpus": 4, "subnets": ["subnet-1"]}
JOB = {"jobName": "j", "jobQueue": "q", "jobDefinition": "d"}


def problem(operation: str, params: dict) -> str:
    """The error message the validator gives; fails the test when the input is accepted."""
    with pytest.raises(ApiError) as exc:
        VALIDATOR.validate(params, SPEC.operation(operation).input_shape)
    assert exc.value.code == "ClientException" and exc.value.status == 400
    return exc.value.message


def accepted(operation: str, params: dict) -> None:
    VALIDATOR.validate(params, SPEC.operation(operation).input_shape)


def test_valid_input_is_accepted():
    accepted("CreateComputeEnvironment", {"computeEnvironmentName": "ce", "type": "MANAGED",
                                          "computeResources": CR, "tags": {"a": "b"}})
    accepted("DescribeComputeEnvironments", {})


def test_missing_required_top_level():
    message = problem("CreateComputeEnvironment", {"type": "MANAGED"})
    assert message == 'Missing required parameter in input: "computeEnvironmentName"'


def test_missing_required_nested():
    # ComputeResource requires [type, maxvCpus] (subnets only for some types: the Batch rules).
    message = problem("CreateComputeEnvironment", {"computeEnvironmentName": "ce", "type": "MANAGED",
                                                   "computeResources": {"type": "EC2", "subnets": ["s"]}})
    assert message == 'Missing required parameter in computeResources: "maxvCpus"'


def test_missing_required_in_a_list_item():
    message = problem("SubmitJob", {**JOB, "retryStrategy": {"evaluateOnExit": [
        {"action": "EXIT"}, {"onExitCode": "1"}]}})
    assert message == 'Missing required parameter in retryStrategy.evaluateOnExit[1]: "action"'


@pytest.mark.parametrize("value, type_name", [("4", "str"), (4.5, "float"), (True, "bool"),
                                              (None, "NoneType"), ([4], "list")])
def test_wrong_type_for_an_integer(value, type_name):
    message = problem("CreateComputeEnvironment", {"computeEnvironmentName": "ce", "type": "MANAGED",
                                                   "computeResources": {**CR, "maxvCpus": value}})
    assert "computeResources.maxvCpus" in message
    assert f"<class '{type_name}'>" in message and "valid types: <class 'int'>" in message


@pytest.mark.parametrize("params, path", [
    ({"computeEnvironmentName": 5, "type": "MANAGED"}, "computeEnvironmentName"),
    ({"computeEnvironmentName": "ce", "type": "UNMANAGED", "tags": ["a"]}, "tags"),
    ({"computeEnvironmentName": "ce", "type": "MANAGED", "computeResources": {**CR, "subnets": "s"}},
     "computeResources.subnets"),
    ({"computeEnvironmentName": "ce", "type": "UNMANAGED", "tags": {"a": 1}}, "tags.a"),
])
def test_wrong_types_name_the_member(params, path):
    assert f"Invalid type for parameter {path}," in problem("CreateComputeEnvironment", params)


def test_enum_violation_names_member_and_allowed_values():
    message = problem("CreateComputeEnvironment", {"computeEnvironmentName": "ce", "type": "managed"})
    assert message == ("Value 'managed' at 'type' failed to satisfy constraint: "
                       "Member must satisfy enum value set: [MANAGED, UNMANAGED]")


def test_nested_enum_violation_path():
    message = problem("CreateComputeEnvironment", {"computeEnvironmentName": "ce", "type": "MANAGED",
                                                   "computeResources": {**CR, "type": "GPU"}})
    assert "at 'computeResources.type'" in message
    assert "[EC2, SPOT, FARGATE, FARGATE_SPOT, ECS_MANAGED_INSTANCES]" in message


def test_enum_inside_a_list():
    message = problem("SubmitJob", {**JOB, "retryStrategy": {"evaluateOnExit": [
        {"action": "EXIT"}, {"action": "again"}]}})
    assert message.startswith("Value 'again' at 'retryStrategy.evaluateOnExit[1].action'")
    assert "[RETRY, EXIT]" in message


@pytest.mark.parametrize("action", ["retry", "Exit", "RETRY"])
def test_retry_action_is_case_insensitive(action):
    accepted("SubmitJob", {**JOB, "retryStrategy": {"evaluateOnExit": [{"action": action}]}})


def test_other_enums_are_case_sensitive():
    assert "EC2" in problem("CreateComputeEnvironment", {"computeEnvironmentName": "ce",
                                                         "type": "MANAGED",
                                                         "computeResources": {**CR, "type": "ec2"}})


def test_list_min_and_max():
    too_few = problem("UntagResource", {"resourceArn": "arn", "tagKeys": []})
    assert too_few == ("Value at 'tagKeys' failed to satisfy constraint: "
                       "Member must have length between 1 and 50")  # reported once, not twice
    too_many = problem("UntagResource", {"resourceArn": "arn", "tagKeys": [f"k{i}" for i in range(51)]})
    assert too_many == too_few
    accepted("UntagResource", {"resourceArn": "arn", "tagKeys": [f"k{i}" for i in range(50)]})


def test_map_min_and_max():
    empty = problem("TagResource", {"resourceArn": "arn", "tags": {}})
    assert "at 'tags'" in empty and "between 1 and 50" in empty
    assert "between 1 and 50" in problem("TagResource", {"resourceArn": "arn",
                                                         "tags": {f"k{i}": "v" for i in range(51)}})
    accepted("TagResource", {"resourceArn": "arn", "tags": {f"k{i}": "v" for i in range(50)}})


def test_empty_tags_exemption_is_per_operation_and_member():
    # SubmitJob's top-level tags may be empty (Airflow sends {}); the same shape elsewhere may not.
    accepted("SubmitJob", {**JOB, "tags": {}})
    assert "between 1 and 50" in problem("SubmitJob", {**JOB, "tags": {f"k{i}": "v" for i in range(51)}})
    assert "at 'computeResources.capacityTags'" in problem(
        "CreateComputeEnvironment", {"computeEnvironmentName": "ce", "type": "MANAGED",
                                     "computeResources": {**CR, "capacityTags": {}}})
    plain = Validator("ClientException")  # without the declaration the model's min holds
    with pytest.raises(ApiError):
        plain.validate({**JOB, "tags": {}}, SPEC.operation("SubmitJob").input_shape)


def test_string_min_and_max():
    base = {"jobName": "j", "jobQueue": "q", "serviceJobType": "SAGEMAKER_TRAINING",
            "serviceRequestPayload": "{}"}
    assert problem("SubmitServiceJob", {**base, "clientToken": ""}) == (
        "Value at 'clientToken' failed to satisfy constraint: Member must have length between 1 and 64")
    assert "between 1 and 64" in problem("SubmitServiceJob", {**base, "clientToken": "x" * 65})
    accepted("SubmitServiceJob", {**base, "clientToken": "x" * 64})


def test_number_range():
    # The limit is the installed model's: 1..7200 since botocore 1.43.93 (it was 1..360).
    message = problem("UpdateComputeEnvironment", {"computeEnvironment": "ce",
                                                   "updatePolicy": {"jobExecutionTimeoutMinutes": 7201}})
    assert message == ("Value '7201' at 'updatePolicy.jobExecutionTimeoutMinutes' failed to satisfy "
                       "constraint: Member must have value between 1 and 7200")
    assert "between 1 and 7200" in problem("UpdateComputeEnvironment", {
        "computeEnvironment": "ce", "updatePolicy": {"jobExecutionTimeoutMinutes": 0}})
    accepted("UpdateComputeEnvironment", {"computeEnvironment": "ce",
                                          "updatePolicy": {"jobExecutionTimeoutMinutes": 7200}})


@pytest.mark.parametrize("operation, params, member", [
    ("CancelJob", {"jobId": "", "reason": "r"}, "jobId"),
    ("CancelJob", {"jobId": "j", "reason": ""}, "reason"),
    ("CreateComputeEnvironment", {"computeEnvironmentName": "", "type": "UNMANAGED"},
     "computeEnvironmentName"),
])
def test_empty_required_string(operation, params, member):
    assert problem(operation, params) == (
        f'Missing required parameter in input: "{member}" (it cannot be an empty string)')


def test_empty_optional_string_is_fine():
    accepted("UpdateComputeEnvironment", {"computeEnvironment": "ce", "serviceRole": ""})


def test_unknown_members_are_ignored():
    accepted("CreateComputeEnvironment", {"computeEnvironmentName": "ce", "type": "MANAGED",
                                          "fromANewerSdk": {"x": 1},
                                          "computeResources": {**CR, "brandNew": True}})


def test_several_problems_are_counted_and_joined():
    message = problem("CreateComputeEnvironment", {"type": "managed"})
    assert message.startswith("2 validation errors detected: ")
    assert '"computeEnvironmentName"' in message and "'managed'" in message


def test_a_value_with_a_newline_stays_one_problem():
    message = problem("SubmitJob", {**JOB, "containerOverrides": {"command": "echo a\necho b"}})
    assert not message.startswith("2 validation errors")
    assert "containerOverrides.command" in message
