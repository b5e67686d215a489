"""Step Functions' PascalCase Batch parameters -> the SubmitJob members, and DescribeJobs'
answers -> Step Functions' casing (batchemu/stepfunctions.py), against the botocore model."""

from batchemu.stepfunctions import to_pascal
from batchemu.wire.members import to_members
from batchemu.wire import spec as wire_spec

BATCH = wire_spec.load("batch")


def test_pascal_case_parameters_become_the_operations_members():
    params = to_members({
        "JobName": "j", "JobQueue": "q", "JobDefinition": "d",
        "ArrayProperties": {"Size": 3},
        "ContainerOverrides": {"Environment": [{"Name": "A", "Value": "1"}, {"name": "B", "value": "2"}],
                               "ResourceRequirements": [{"Type": "VCPU", "Value": 2}]},
        "Parameters": {"Key1": "value1", "Key2": 100, "Flag": True},
        "DependsOn": [{"JobId": "x", "Type": "SEQUENTIAL"}],
        "RetryStrategy": {"Attempts": 2}, "Tags": {"Team": "a"}, "PropagateTags": True,
    }, BATCH.operation("SubmitJob").input_shape)
    assert params == {
        "jobName": "j", "jobQueue": "q", "jobDefinition": "d", "arrayProperties": {"size": 3},
        "containerOverrides": {"environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                               "resourceRequirements": [{"type": "VCPU", "value": "2"}]},
        # map keys as written, values as the strings the API takes
        "parameters": {"Key1": "value1", "Key2": "100", "Flag": "true"},
        "dependsOn": [{"jobId": "x", "type": "SEQUENTIAL"}],
        "retryStrategy": {"attempts": 2}, "tags": {"Team": "a"}, "propagateTags": True}


def test_unknown_parameters_are_kept_for_the_validator_to_name():
    params = to_members({"JobName": "j", "NoSuchThing": 1}, BATCH.operation("SubmitJob").input_shape)
    assert params == {"jobName": "j", "NoSuchThing": 1}


def test_a_job_detail_is_recased_but_its_maps_keep_their_keys():
    detail = BATCH.operation("DescribeJobs").output_shape.members["jobs"].member
    job = to_pascal({"jobId": "1", "status": "FAILED", "parameters": {"inputKey": "a"},
                     "tags": {"myTag": "x"},
                     "container": {"exitCode": 3, "environment": [{"name": "myVar", "value": "v"}]},
                     "attempts": [{"container": {"logStreamName": "s"}, "statusReason": "r"}],
                     "arrayProperties": {"statusSummary": {"FAILED": 1}, "size": 2}}, detail)
    assert job == {"JobId": "1", "Status": "FAILED", "Parameters": {"inputKey": "a"}, "Tags": {"myTag": "x"},
                   "Container": {"ExitCode": 3, "Environment": [{"Name": "myVar", "Value": "v"}]},
                   "Attempts": [{"Container": {"LogStreamName": "s"}, "StatusReason": "r"}],
                   "ArrayProperties": {"StatusSummary": {"FAILED": 1}, "Size": 2}}
