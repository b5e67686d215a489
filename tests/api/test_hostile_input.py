"""Hostile input is a ClientException and never reaches the store (issue 12, "bad input must
never be a 500 or poison the store"): lone surrogates, NaN/Infinity and 1e999, deep nesting,
members the model leaves optional but the service needs, integers wider than AWS's Java types,
and AWS's own limits and name patterns. Sent raw, as an attacker would, over real HTTP."""

from __future__ import annotations


import pytest

from batchemu.testing import running_server
from tests.helpers import wait_until
from tests.raw_client import RawClient
from tests.e2e.support import new_account

CE = {"type": "EC2", "maxvCpus": 4, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"],
      "instanceRole": "ecsInstanceRole", "instanceTypes": ["optimal"]}
CONTAINER = {"image": "busybox", "command": ["true"],
             "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}]}


@pytest.fixture(scope="module")
def server():
    with running_server() as s:
        yield s


@pytest.fixture()
def raw(server):
    client = RawClient(server.port, access_key=new_account())
    yield client
    client.close()


@pytest.fixture()
def queue(raw):
    assert raw.post("/v1/createcomputeenvironment", {
        "computeEnvironmentName": "ce", "type": "MANAGED", "computeResources": CE})[0] == 200
    assert raw.post("/v1/createjobqueue", {"jobQueueName": "q", "priority": 1, "computeEnvironmentOrder": [
        {"order": 1, "computeEnvironment": "ce"}]})[0] == 200
    assert raw.post("/v1/registerjobdefinition", {"jobDefinitionName": "jd", "type": "container",
                                                  "containerProperties": CONTAINER})[0] == 200
    return raw


def client_error(answer) -> str:
    status, headers, body = answer
    assert status == 400, (status, body)
    assert headers["x-amzn-ErrorType"] == "ClientException"
    assert body["__type"] == "ClientException"
    return body["message"]


def submit(raw, **extra):
    return raw.post("/v1/submitjob", {"jobName": "j", "jobQueue": "q", "jobDefinition": "jd", **extra})


# -- 1. lone surrogates -----------------------------------------------------------------------

@pytest.mark.parametrize("path, body", [
    ("/v1/describejobs", '{"jobs":["\\ud800"]}'),
    ("/v1/describejobqueues", '{"jobQueues":["\\udfff"]}'),
    ("/v1/createcomputeenvironment", '{"computeEnvironmentName":"ce9","type":"UNMANAGED","tags":{"a":"\\ud800"}}'),
    ("/v1/createcomputeenvironment", '{"computeEnvironmentName":"ce9","type":"UNMANAGED","tags":{"\\udc00":"v"}}'),
    ("/v1/listjobs", '{"jobQueue":"q\\ud800"}'),
])
def test_a_lone_surrogate_is_refused_anywhere(raw, path, body):
    assert "lone UTF-16 surrogate" in client_error(raw.post(path, body))


def test_a_surrogate_in_raw_bytes_or_other_encodings_is_not_utf8(raw):
    # UTF-8's encoding of U+D800 (invalid UTF-8) and a UTF-16 body are refused, not guessed at.
    assert "not UTF-8" in client_error(raw.post("/v1/describejobs", b'{"jobs":["\xed\xa0\x80"]}'))
    assert "not UTF-8" in client_error(raw.post("/v1/describejobs", '{"jobs":[]}'.encode("utf-16")))


def test_a_tag_value_with_a_surrogate_is_not_stored_but_a_real_pair_is(raw):
    client_error(raw.post("/v1/createcomputeenvironment",
                          '{"computeEnvironmentName":"ce8","type":"UNMANAGED","tags":{"a":"x\\ud83d"}}'))
    status, _, body = raw.post("/v1/describecomputeenvironments", {"computeEnvironments": ["ce8"]})
    assert status == 200 and body["computeEnvironments"] == []
    # An escaped surrogate pair is one character (U+1F600) and is fine.
    status, _, _ = raw.post("/v1/createcomputeenvironment",
                            '{"computeEnvironmentName":"ce8","type":"UNMANAGED","tags":{"a":"\\ud83d\\ude00"}}')
    assert status == 200
    _, _, body = raw.post("/v1/describecomputeenvironments", {"computeEnvironments": ["ce8"]})
    assert body["computeEnvironments"][0]["tags"] == {"a": "\U0001F600"}


# -- 2. NaN, Infinity, numbers out of range -------------------------------------------------------

@pytest.mark.parametrize("value", ["1e999", "nan", "NaN", "inf", "-1", "0", "1" + "0" * 400, "0x10", " 1"])
def test_vcpu_overrides_that_are_not_finite_positive_numbers_are_refused(queue, value):
    message = client_error(submit(queue, containerOverrides={
        "resourceRequirements": [{"type": "VCPU", "value": value}]}))
    assert "containerOverrides.resourceRequirements" in message and "VCPU" in message


@pytest.mark.parametrize("kind, value", [("MEMORY", "1e999"), ("MEMORY", "nan"), ("MEMORY", "2"),
                                         ("MEMORY", "512.5"), ("GPU", "1e999"), ("GPU", "-1")])
def test_memory_and_gpu_overrides_must_be_whole_numbers_in_range(queue, kind, value):
    message = client_error(submit(queue, containerOverrides={
        "resourceRequirements": [{"type": kind, "value": value}]}))
    assert kind in message


def test_requirement_values_in_job_definitions_are_bounded_too(raw):
    for value in ("1" + "0" * 400, "1e999", "nan"):
        for kind in ("VCPU", "MEMORY", "GPU"):
            requirements = [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}]
            requirements = [r for r in requirements if r["type"] != kind] + [{"type": kind, "value": value}]
            client_error(raw.post("/v1/registerjobdefinition", {
                "jobDefinitionName": "big", "type": "container",
                "containerProperties": {"image": "busybox", "resourceRequirements": requirements}}))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_non_finite_json_numbers_are_refused_before_any_service_sees_them(queue, literal):
    body = '{"jobName":"j","jobQueue":"q","jobDefinition":"jd","timeout":{"attemptDurationSeconds":%s}}'
    assert "not valid JSON" in client_error(queue.post("/v1/submitjob", body % literal))
    policy = ('{"name":"p","fairsharePolicy":{"shareDistribution":[{"shareIdentifier":"a",'
              '"weightFactor":%s}]}}')
    assert "not valid JSON" in client_error(queue.post("/v1/createschedulingpolicy", policy % literal))


def test_list_jobs_and_filters_keep_answering_after_such_submissions(queue):
    for value in ("1e999", "nan"):
        client_error(submit(queue, containerOverrides={"resourceRequirements": [{"type": "VCPU", "value": value}]}))
    assert submit(queue, containerOverrides={"resourceRequirements": [{"type": "VCPU", "value": "2"}]})[0] == 200
    for body in ({"jobQueue": "q", "jobStatus": "RUNNABLE"},
                 {"jobQueue": "q", "filters": [{"name": "JOB_NAME", "values": ["j*"]}]}):
        def listed(body=body):  # RUNNABLE once the scheduler's thread has moved it
            status, _, answer = queue.post("/v1/listjobs", body)
            assert status == 200, answer
            return len(answer["jobSummaryList"]) == 1
        assert wait_until(listed)


# -- 3. deep nesting ---------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [65, 1000, 100_000])
@pytest.mark.parametrize("path", ["/v1/describejobs", "/v1/submitjob", "/v1/createcomputeenvironment"])
def test_deeply_nested_json_is_refused(raw, path, depth):
    body = '{"tags":' + "[" * depth + "]" * depth + "}"
    assert "nested more than 64 levels" in client_error(raw.post(path, body))


def test_nesting_within_the_limit_is_only_a_type_error(raw):
    body = '{"jobs":' + "[" * 60 + "]" * 60 + "}"
    message = client_error(raw.post("/v1/describejobs", body))
    assert "nested" not in message and "jobs" in message


# -- 4. members the model leaves optional but the service needs -------------------------------------

@pytest.mark.parametrize("entry", [{"value": "x"}, {"name": "", "value": "x"}, {}])
def test_an_environment_variable_without_a_name_is_refused(queue, entry):
    message = client_error(submit(queue, containerOverrides={"environment": [entry]}))
    assert "containerOverrides.environment[0].name is required" in message
    message = client_error(queue.post("/v1/registerjobdefinition", {
        "jobDefinitionName": "noname", "type": "container",
        "containerProperties": {**CONTAINER, "environment": [{"name": "A", "value": "1"}, entry]}}))
    assert "containerProperties.environment[1].name is required" in message


# -- 6. AWS's limits and name patterns -----------------------------------------------------------

@pytest.mark.parametrize("max_vcpus", [2 ** 31, 2 ** 63, 10 ** 300])
def test_integers_wider_than_the_models_type_are_refused_naming_the_member(raw, max_vcpus):
    message = client_error(raw.post("/v1/createcomputeenvironment", {
        "computeEnvironmentName": "wide", "type": "MANAGED", "computeResources": {**CE, "maxvCpus": max_vcpus}}))
    assert "computeResources.maxvCpus" in message and "32-bit integer" in message


def test_a_long_member_takes_64_bits_and_no_more(raw):
    for value in (2 ** 63, -(2 ** 63) - 1):
        message = client_error(raw.post("/v1/createconsumableresource", {
            "consumableResourceName": "cr", "totalQuantity": value}))
        assert "totalQuantity" in message and "64-bit long" in message


def test_a_number_with_thousands_of_digits_is_refused(raw):
    body = '{"computeEnvironmentName":"x","type":"MANAGED","computeResources":{"maxvCpus":%s}}' % ("9" * 5000)
    assert "not valid JSON" in client_error(raw.post("/v1/createcomputeenvironment", body))


def test_compute_environment_order_must_be_within_aws_range(queue):
    for order in (-1, 2 ** 31 - 1 + 1):
        message = client_error(queue.post("/v1/createjobqueue", {
            "jobQueueName": "q2", "priority": 1,
            "computeEnvironmentOrder": [{"order": order, "computeEnvironment": "ce"}]}))
        assert "order" in message


@pytest.mark.parametrize("name", ["a\u0000b", "\u0000", "a\nb", "a b", "-a", "a" * 129, "é"])
def test_names_follow_aws_pattern(queue, name):
    checks = [
        ("/v1/createcomputeenvironment", {"computeEnvironmentName": name, "type": "UNMANAGED"}),
        ("/v1/createjobqueue", {"jobQueueName": name, "priority": 1,
                                "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "ce"}]}),
        ("/v1/registerjobdefinition", {"jobDefinitionName": name, "type": "container",
                                       "containerProperties": CONTAINER}),
        ("/v1/createschedulingpolicy", {"name": name}),
        ("/v1/createconsumableresource", {"consumableResourceName": name}),
        ("/v1/submitjob", {"jobName": name, "jobQueue": "q", "jobDefinition": "jd"}),
    ]
    for path, body in checks:
        status, _, answer = queue.post(path, body)
        assert status == 400 and answer["__type"] == "ClientException", (path, status, answer)


def test_a_refused_request_leaves_the_server_healthy(raw):
    raw.post("/v1/describejobs", "[" * 100_000)
    status, _, body = raw.post("/v1/describejobqueues", {})
    assert status == 200 and body == {"jobQueues": []}


@pytest.mark.parametrize("overrides", [
    {"command": ["echo", "a\u0000b"]},
    {"environment": [{"name": "A", "value": "x\u0000y"}]},
    {"environment": [{"name": "A\u0000B", "value": "x"}]},
    {"environment": [{"name": "A=B", "value": "x"}]},
])
def test_what_no_process_can_be_given_is_refused_at_submit(queue, overrides):
    # Accepted, such a job could never start (a runner cannot exec it) and held its vCPUs.
    assert "containerOverrides." in client_error(submit(queue, containerOverrides=overrides))


def test_nul_in_parameters_or_a_definitions_command_is_refused(queue):
    assert "parameters" in client_error(submit(queue, parameters={"x": "a\u0000"}))
    for extra in ({"parameters": {"x": "\u0000"}},
                  {"containerProperties": {**CONTAINER, "command": ["echo", "\u0000"]}}):
        body = {"jobDefinitionName": "nul", "type": "container", "containerProperties": CONTAINER, **extra}
        client_error(queue.post("/v1/registerjobdefinition", body))
