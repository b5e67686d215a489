"""A database written by an earlier version that let NaN, Infinity and lone surrogates through
(issue 12 item 2: SubmitJob VCPU "1e999" stored Infinity, and ListJobs, its JOB_NAME filter
and ListJobsByConsumableResource answered 500 for good, across restarts) is repaired by the
migration on open: the server answers again, the poisoned job is FAILED with a reason, and the
repair holds across a further restart."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest

from batchemu.store import db
from batchemu.store.migrations import MIGRATIONS, repair_non_json
from batchemu.testing import running_server

CE = {"type": "EC2", "maxvCpus": 4, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"],
      "instanceRole": "ecsInstanceRole", "instanceTypes": ["optimal"]}
CONTAINER = {"image": "busybox", "command": ["true"],
             "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}]}
REPAIR_VERSION = MIGRATIONS.index(repair_non_json) + 1


def _setup(batch):
    batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED", computeResources=CE,
                                     tags={"owner": "me"})
    batch.create_job_queue(jobQueueName="q", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
    batch.create_consumable_resource(consumableResourceName="licence", totalQuantity=5)
    batch.register_job_definition(
        jobDefinitionName="jd", type="container", containerProperties=CONTAINER,
        consumableResourceProperties={"consumableResourceList": [
            {"consumableResource": "licence", "quantity": 1}]})
    batch.create_scheduling_policy(name="fair", fairsharePolicy={
        "shareDistribution": [{"shareIdentifier": "a", "weightFactor": 1.0}]})
    good = batch.submit_job(jobName="good", jobQueue="q", jobDefinition="jd")["jobId"]
    bad = batch.submit_job(jobName="bad", jobQueue="q", jobDefinition="jd")["jobId"]
    return good, bad


def _poison(path, bad_job_id):
    """Write what the earlier version wrote (json.dumps allows NaN; a tag escape kept a lone
    surrogate) into a database of the schema before the repair."""
    conn = sqlite3.connect(path)
    (text,) = conn.execute("SELECT doc FROM jobs WHERE job_id=?", (bad_job_id,)).fetchone()
    doc = json.loads(text)
    doc["container"]["resourceRequirements"] = [{"type": "VCPU", "value": "1e999"},
                                                {"type": "MEMORY", "value": "128"}]
    doc["_need"]["vcpus"] = math.inf
    conn.execute("UPDATE jobs SET doc=?, vcpus=?, summary_json=NULL, detail_json=NULL WHERE job_id=?",
                 (json.dumps(doc), math.inf, bad_job_id))
    for kind, change in (("scheduling-policy", _nan_weight), ("compute-environment", _surrogate_tag)):
        (seq, text) = conn.execute("SELECT seq, doc FROM resources WHERE kind=?", (kind,)).fetchone()
        doc = json.loads(text)
        change(doc)
        conn.execute("UPDATE resources SET doc=? WHERE seq=?", (json.dumps(doc), seq))
    conn.commit()
    # The premise: SQLite's JSON functions cannot read such a row.
    with pytest.raises(sqlite3.OperationalError, match="malformed JSON"):
        conn.execute("SELECT json_extract(doc, '$.jobName') FROM jobs").fetchall()
    conn.close()


def _nan_weight(doc):
    doc["fairsharePolicy"]["shareDistribution"][0]["weightFactor"] = math.nan


def _surrogate_tag(doc):
    doc["tags"]["owner"] = "me\ud800"


def _check_answers(batch, good, bad):
    runnable = batch.list_jobs(jobQueue="q", jobStatus="RUNNABLE")["jobSummaryList"]
    assert [j["jobId"] for j in runnable] == [good]
    failed = batch.list_jobs(jobQueue="q", jobStatus="FAILED")["jobSummaryList"]
    assert [j["jobId"] for j in failed] == [bad]
    named = batch.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": ["*"]}])
    assert {j["jobId"] for j in named["jobSummaryList"]} == {good, bad}
    held = batch.list_jobs_by_consumable_resource(consumableResource="licence")["jobs"]
    assert good in {j["jobArn"].rsplit("/", 1)[1] for j in held}
    (job,) = batch.describe_jobs(jobs=[bad])["jobs"]
    assert job["status"] == "FAILED" and "not a finite number" in job["statusReason"]
    (policy,) = batch.describe_scheduling_policies(arns=[
        batch.list_scheduling_policies()["schedulingPolicies"][0]["arn"]])["schedulingPolicies"]
    assert "weightFactor" not in policy["fairsharePolicy"]["shareDistribution"][0]
    (ce,) = batch.describe_compute_environments(computeEnvironments=["ce"])["computeEnvironments"]
    assert ce["tags"] == {"owner": "me\ufffd"}


def test_a_poisoned_database_is_repaired_and_stays_repaired(tmp_path, monkeypatch):
    with monkeypatch.context() as earlier:  # the schema as it was before the repair
        earlier.setattr(db, "MIGRATIONS", MIGRATIONS[:REPAIR_VERSION - 1])
        with running_server(data_dir=str(tmp_path)) as server:
            good, bad = _setup(server.client("batch"))
    _poison(tmp_path / "batchemu.sqlite3", bad)
    for _restart in range(2):
        with running_server(data_dir=str(tmp_path)) as server:
            _check_answers(server.client("batch"), good, bad)
    conn = sqlite3.connect(tmp_path / "batchemu.sqlite3")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("SELECT count(*) FROM jobs WHERE vcpus > 1e308").fetchone()[0] == 0
    for (text,) in conn.execute("SELECT doc FROM jobs UNION ALL SELECT doc FROM resources"):
        json.loads(text, parse_constant=lambda word: pytest.fail(f"{word} left in {text}"))


def test_the_store_refuses_what_json_cannot_carry(tmp_path):
    from batchemu.store import Store
    from batchemu.store.documents import NotJson
    store = Store(str(tmp_path / "s.sqlite3"))
    for doc in ({"x": math.inf}, {"x": [math.nan]}, {"x": "a\ud800"}, {"a\udfff": 1}):
        with pytest.raises(NotJson):
            store.put("1", "r", "kind", "k", "arn", doc)
    store.put("1", "r", "kind", "k", "arn", {"x": "\U0001F600", "n": 1e308})
    assert store.get("1", "r", "kind", "k") == {"x": "\U0001F600", "n": 1e308}
