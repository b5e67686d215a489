"""The AWS SDK for JavaScript v3 (@aws-sdk/client-batch, pinned in conformance/js/package-lock.json)
run by this machine's node against the server: conformance/js/scenarios.mjs creates a compute
environment, a queue and a definition, runs a job to SUCCEEDED on the process runner (its
command runs on this host) and reports its exit code, pages with the SDK's paginators,
checks that the SDK turns our error into its ClientException, and cancels and terminates jobs
with the bulk CancelJobs and TerminateJobs commands.

node_modules is installed on first use (`npm ci` from the lock file; npm's registry must be
reachable then) and git-ignored.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance.harness import JOB_IMAGE, REGION, SECRET, NotImplementedYet
from conformance.registry import covers

JS = Path(__file__).parent / "js"
SDK = JS / "node_modules" / "@aws-sdk" / "client-batch" / "package.json"

pytestmark = pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                                reason="node and npm are not installed")


@pytest.fixture(scope="session")
def js_sdk():
    """conformance/js/node_modules, installed from the lock file if it isn't there yet."""
    with open(JS / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs at once must not both run npm
        if not SDK.exists():
            command = ["npm", "ci"] if (JS / "package-lock.json").exists() else ["npm", "install"]
            result = subprocess.run([*command, "--no-audit", "--no-fund"], cwd=JS, capture_output=True,
                                    text=True, timeout=300)
            assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr}"
    return JS


def run_scenario(js_sdk, endpoint, account, name: str, sent: set) -> dict:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
           "BATCHEMU_ENDPOINT": endpoint.url, "AWS_ACCESS_KEY_ID": account,
           "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": REGION, "JOB_IMAGE": JOB_IMAGE}
    result = subprocess.run(["node", "scenarios.mjs", name], cwd=js_sdk, env=env, capture_output=True,
                            text=True, timeout=120)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    sent.update(line["sent"] for line in lines if "sent" in line)
    for line in lines:
        if "notImplemented" in line:
            raise NotImplementedYet(line["notImplemented"], line["message"])
    assert result.returncode == 0, f"node scenarios.mjs {name} failed:\n{result.stderr}"
    (outcome,) = [line["result"] for line in lines if "result" in line]
    return outcome


@covers("js", "CreateComputeEnvironment", "DescribeComputeEnvironments", "CreateJobQueue", "DescribeJobQueues",
        "RegisterJobDefinition", "SubmitJob", "DescribeJobs", "ListJobs")
def test_a_job_runs_to_success_and_errors_parse(js_sdk, job_endpoint, account, calls):
    out = run_scenario(js_sdk, job_endpoint, account, "job", calls["js"])
    assert out["status"] == "SUCCEEDED" and out["exitCode"] == 0
    assert out["startedAt"] <= out["stoppedAt"]
    assert out["listed"] == [out["jobId"]]  # the paginator walked ListJobs to the end
    error = out["error"]
    assert error["name"] == "ClientException" and error["isClientException"] is True
    assert error["httpStatusCode"] == 400 and error["fault"] == "client"
    assert "no-such-queue" in error["message"] and error["requestId"]


@covers("js", "SubmitJob", "DescribeJobs", "CancelJobs", "TerminateJobs")
def test_bulk_cancel_and_terminate(js_sdk, job_endpoint, account, calls):
    out = run_scenario(js_sdk, job_endpoint, account, "bulk", calls["js"])
    # Model: per-job results; an id that can't be found counts as successful; CancelJobs
    # cancels only the PENDING job and leaves the RUNNING one to TerminateJobs (ref §6.7).
    assert out["cancelled"] == {"successful": [out["running"], out["pending"], out["unknown"]], "errors": []}
    assert out["pendingAfter"] == {"status": "FAILED", "reason": "js bulk", "isCancelled": True}
    assert out["runningAfterCancel"] == "RUNNING"
    assert out["terminated"] == {"successful": [out["running"]], "errors": []}
    assert out["stopped"] == {"status": "FAILED", "reason": "js stop", "isTerminated": True}


@covers("js", "CreateConsumableResource", "DescribeConsumableResource", "UpdateConsumableResource",
        "ListConsumableResources", "DeleteConsumableResource")
def test_consumable_resource_with_the_paginator(js_sdk, endpoint, account, calls):
    out = run_scenario(js_sdk, endpoint, account, "consumable", calls["js"])
    assert out["described"] == {"totalQuantity": 3, "resourceType": "REPLENISHABLE"}
    assert out["updatedTotal"] == 2
    assert sorted(name for page in out["pages"] for name in page) == sorted(out["names"])
    assert [len(page) for page in out["pages"]] == [1, 1]
    assert out["after"] == [out["names"][0]]


@covers("js", "CreateServiceEnvironment", "DescribeServiceEnvironments", "CreateSchedulingPolicy",
        "CreateJobQueue", "CreateQuotaShare", "DescribeQuotaShare", "ListQuotaShares")
def test_quota_share_in_a_quota_management_queue(js_sdk, endpoint, account, calls):
    out = run_scenario(js_sdk, endpoint, account, "quota", calls["js"])
    assert out["described"] == {"quotaShareName": out["share"]["quotaShareName"],
                                "capacityLimits": [{"maxCapacity": 2, "capacityUnit": "ml.m5.large"}]}
    assert out["listed"] == [out["share"]["quotaShareArn"]]
