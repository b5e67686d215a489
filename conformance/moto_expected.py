"""The tests of moto 5.2.1's Batch suite (tests/test_batch, tests/test_batch_simple) expected to
fail against batchemu, and why (read by conformance/moto_suite.py).

Three lists, each `test id -> reason`:

* AWS_DIFFERS: the assertion checks moto's own behaviour, which real AWS does not have; the
  reason names the AWS fact and the section of the reference
  (/work/shared/reference/aws-batch-semantics.md, "ref §N") that records it. batchemu keeps
  AWS's behaviour, so these stay failures.
* OTHER_PARTS: behaviour other parts of issue 16 add (multi-node jobs: multinode16). Expected
  to pass once that part is merged; then delete it here (the runner reports it as an
  "unexpected pass" meanwhile).
* NEEDS_RESET: tests that create a fixed name ("test") and rely on moto's reset between tests
  (`POST /moto-api/reset`, called by `mock_aws` unless MOTO_CALL_RESET_API=false). AWS refuses a
  second scheduling policy of the same name (a moto create silently overwrites it), so they fail
  without the reset calls and pass in mode `reset`.

A test id is pytest's: `<file>::<function>[<parameters>]`.
"""

from __future__ import annotations

DELETE_ENABLED = ("AWS refuses to delete an ENABLED compute environment or job queue: disable it "
                  "first (ref §3.4, §4.4); moto deletes it")
VCPU_FRACTION = ("On EC2 a VCPU resourceRequirement must be a whole number: 'Value 1.0 for type VCPU "
                 "in resourceRequirement is not valid' [observed] (ref §5.3); the [True] case registers "
                 "VCPU 0.25 on EC2, which moto accepts")
LIST_DEFAULT = ("ListJobs without jobStatus lists RUNNING jobs only (ref §6.6); the test expects every "
                "job, as moto lists them")
TIMEOUT_MIN = ("timeout.attemptDurationSeconds is at least 60 s (ref §10); the test uses 1-3 s")
STREAM_NAMES = ("Log streams are <definition name>/default/<ECS task id> (ref §6.10); the test "
                "reads <definition name>/default/<job id>, moto's naming")
WORDING = ("asserts moto's own message text; batchemu answers a ClientException in AWS's words "
           "(ref §1.4 validation messages, Appendix A), which no test should pin to moto's")

AWS_DIFFERS = {
    "tests/test_batch/test_batch_compute_envs.py::test_create_ec2_managed_compute_environment__without_required_params":
        "expects 'Resource minvCpus is required.'; minvCpus is optional in the model (default 0) and "
        "the message is known only from moto (ref §3.1 [moto]); where evidence is thin batchemu "
        "accepts what the model allows",
    "tests/test_batch/test_batch_compute_envs.py::test_create_managed_compute_environment_with_unknown_instance_type":
        "batchemu refuses the unknown type as AWS does, as a ClientException 'Error executing request, "
        "Exception : Instance type can only be one of [...]' [observed, Netflix/metaflow#70] "
        "(ref §3.1, Appendix A); the test asserts moto's code InvalidParameterValue",
    "tests/test_batch/test_batch_compute_envs.py::test_delete_managed_compute_environment": DELETE_ENABLED,
    "tests/test_batch/test_batch_compute_envs.py::test_delete_unmanaged_compute_environment": DELETE_ENABLED,
    "tests/test_batch/test_batch_compute_envs.py::test_update_iam_role":
        "expects serviceRole 'unknown' refused with InvalidParameterValue; AWS does not check a role "
        "at the call: the environment goes INVALID later (ref §3.1)",
    "tests/test_batch/test_batch_job_queue.py::test_create_job_queue":
        "creates a queue with schedulingPolicyArn 'policy_arn', which names no scheduling policy; "
        "the attached policy decides fair-share scheduling (ref §4.1, §11.4), and batchemu refuses "
        "a policy that does not exist",
    "tests/test_batch/test_batch_job_queue.py::test_create_job_queue_incorrect_state":
        "expects 'state JUNK must be one of ENABLED | DISABLED'; " + WORDING,
    "tests/test_batch/test_batch_job_queue.py::test_create_job_queue_twice":
        "expects 'Job queue <name> already exists'; " + WORDING,
    "tests/test_batch/test_batch_job_queue.py::test_create_job_queue_without_compute_environment":
        "expects 'At least 1 compute environment must be provided'; " + WORDING,
    "tests/test_batch/test_batch_job_queue.py::test_delete_job_queue": DELETE_ENABLED,
    "tests/test_batch/test_batch_job_queue.py::test_job_queue_bad_arn":
        "expects 'computeEnvironmentOrder is malformed'; " + WORDING,
    "tests/test_batch/test_batch_jobs.py::test_cancel_running_job":
        "expects no statusReason on a SUCCEEDED job; AWS reports 'Essential container in task exited' "
        "when the job's container exits (ref §6.5)",
    "tests/test_batch/test_batch_jobs.py::test_container_overrides":
        "expects AWS_BATCH_JOB_ID in DescribeJobs' container.environment; AWS injects the AWS_BATCH_* "
        "variables into the running container (ref §6.9), and batchemu does, but DescribeJobs shows "
        "the environment the job was given",
    "tests/test_batch/test_batch_jobs.py::test_dependencies": STREAM_NAMES,
    "tests/test_batch/test_batch_jobs.py::test_list_jobs": LIST_DEFAULT,
    "tests/test_batch/test_batch_jobs.py::test_register_job_definition_with_timeout": TIMEOUT_MIN,
    "tests/test_batch/test_batch_jobs.py::test_submit_job_array_size":
        LIST_DEFAULT + " (here ListJobs(arrayJobId) after the children SUCCEEDED)",
    "tests/test_batch/test_batch_jobs.py::test_submit_job_with_timeout": TIMEOUT_MIN,
    "tests/test_batch/test_batch_jobs.py::test_submit_job_with_timeout_set_at_definition": TIMEOUT_MIN,
    "tests/test_batch/test_batch_jobs.py::test_terminate_job": STREAM_NAMES,
    "tests/test_batch/test_batch_scheduling_policy.py::test_describe_default_scheduling_policy":
        "expects a policy created without fairsharePolicy to read back {computeReservation: 0, "
        "shareDecaySeconds: 0, shareDistribution: []}; the model documents those as the scheduler's "
        "defaults (ref §11.4), nothing shows AWS writing them into the policy, so batchemu echoes "
        "what was given ({}); without reset it also collides with an earlier policy 'test'",
    "tests/test_batch/test_batch_tags_job.py::test_submit_job_with_tags":
        "asserts moto's error code ValidationError; Batch's model has one client error code, "
        "ClientException (ref §1.4)",
    "tests/test_batch/test_batch_task_definition.py::test_delete_task_definition[True]": VCPU_FRACTION,
    "tests/test_batch/test_batch_task_definition.py::test_delete_task_definition_by_name[True]": VCPU_FRACTION,
    "tests/test_batch/test_batch_task_definition.py::test_describe_task_definition[True]": VCPU_FRACTION,
    "tests/test_batch/test_batch_task_definition.py::test_describe_task_definition[False]":
        "expects no platformCapabilities on a definition registered without it; RegisterJobDefinition "
        "defaults it to [\"EC2\"] (ref §5.1 [model]: 'If no value is specified, it defaults to EC2')",
    "tests/test_batch/test_batch_task_definition.py::test_register_task_definition[True]": VCPU_FRACTION,
    "tests/test_batch/test_batch_task_definition.py::test_reregister_task_definition[True]": VCPU_FRACTION,
    "tests/test_batch/test_batch_task_definition.py::test_register_task_definition_with_platform_capability[FARGATE]":
        "registers a FARGATE definition with the deprecated vcpus/memory (4 MiB); Fargate takes "
        "resourceRequirements only, and 4 MiB is no Fargate size (ref §5.3 [model])",
    "tests/test_batch/test_batch_jobs.py::test_submit_job_multinode":
        "Multi-node parallel jobs are not supported on UNMANAGED compute environments (ref §12, §11: "
        "the job stays RUNNABLE), and each node writes a log stream of its own (ref §12); the test runs "
        "one on an UNMANAGED environment and expects one stream holding both nodes' lines, as moto does",
}

OTHER_PARTS: dict = {
    # Empty: aws15's ECS clusters and CloudFormation resources, tasks16's EKS jobs and
    # multinode16's multi-node jobs are merged. test_submit_job_multinode moved to AWS_DIFFERS.
}

NEEDS_RESET = {
    f"tests/test_batch/{test}": "creates scheduling policy 'test' again; AWS refuses a duplicate name "
                                "(ref Appendix A: 'Object already exists'), moto overwrites; passes "
                                "with moto's reset between tests"
    for test in ("test_batch_scheduling_policy.py::test_delete_scheduling_policy",
                 "test_batch_scheduling_policy.py::test_describe_scheduling_policy",
                 "test_batch_scheduling_policy.py::test_update_scheduling_policy",
                 "test_batch_tags_scheduling_policy.py::test_create_with_tags")
}


def expected_failures(mode: str) -> dict[str, str]:
    """Every test expected to fail in `mode` ("reset" or "no-reset"), with its reason."""
    expected = {**AWS_DIFFERS, **OTHER_PARTS}
    if mode != "reset":  # with moto's reset calls (POST /moto-api/reset) they pass
        expected.update(NEEDS_RESET)
    return expected
