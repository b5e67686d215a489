"""README's "Event-driven pipelines" commands, copied out of the README and run with the real
aws CLI (v1) against a live server (process runner, --time-scale 60): each block does what the
README says it does. The account and endpoint in the text are replaced by the test's own."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from batchemu.testing import running_server
from tests.helpers import wait_until
from tests.e2e.support import new_account

pytestmark = pytest.mark.skipif(shutil.which("aws") is None, reason="the aws CLI is not installed")
README = Path(__file__).resolve().parents[2] / "README.md"


def blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Event-driven pipelines"):text.index("## Consumable resources")]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    account = new_account()
    with running_server(runner="process", time_scale=60) as server:
        environ = {"PATH": os.environ["PATH"], "HOME": str(home), "AWS_ACCESS_KEY_ID": account,
                   "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_CONFIG_FILE": str(home / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
                   "AWS_PAGER": ""}
        yield server, account, environ, home


def run_block(env, index: int) -> str:
    server, account, environ, home = env
    script = blocks()[index].replace("123456789012", account).replace("http://127.0.0.1:8000", server.url)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=home, env=environ,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def documents(out: str) -> list:
    """The JSON documents the aws CLI printed, one per command."""
    decoder, found, pos = json.JSONDecoder(), [], 0
    while out[pos:].strip():
        doc, end = decoder.raw_decode(out, len(out) - len(out[pos:].lstrip()))
        found.append(doc)
        pos = end
    return found


def job_output(env, name: str) -> list[str]:
    server, account, _, _ = env
    batch, logs = (server.client(s, access_key=account) for s in ("batch", "logs"))

    def finished():
        found = batch.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": [name]}])["jobSummaryList"]
        done = [j for j in found if j["status"] == "SUCCEEDED"]
        return done[0] if done else None
    job = batch.describe_jobs(jobs=[wait_until(finished, timeout=20)["jobId"]])["jobs"][0]
    return wait_until(lambda: [e["message"] for e in logs.get_log_events(
        logGroupName="/aws/batch/job", logStreamName=job["container"]["logStreamName"])["events"]])


def test_the_readme_blocks_in_order(env):
    assert len(blocks()) == 5
    run_block(env, 0)                                   # queue and job definition
    out = run_block(env, 1)                             # a rule with a Batch target
    assert "from-event" in out
    assert job_output(env, "from-event") == ["file=a.csv from=my.app"]

    out = run_block(env, 2)                             # the dead-letter queue
    message = documents(out)[-1]["Messages"][0]
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_RESOURCE" and attributes["RETRY_ATTEMPTS"] == "0"
    assert attributes["ERROR_MESSAGE"].startswith("ClientException: JobDefinition name no-such-definition does not exist")

    run_block(env, 3)                                   # S3 -> EventBridge -> Batch
    assert job_output(env, "on-upload") == ["file=incoming/data.csv from="]

    run_block(env, 4)                                   # schedules
    line = job_output(env, "every-minute")[0]           # rate(1 minute) at --time-scale 60: ~1 s
    assert re.fullmatch(r"file=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ from=", line), line
    server, account, _, _ = env
    scheduler = server.client("scheduler", access_key=account)
    assert scheduler.get_schedule(Name="hourly-report")["ScheduleExpression"] == "rate(1 hour)"
    rules = {r["Name"]: r.get("ScheduleExpression") for r in server.client("events", access_key=account).list_rules()["Rules"]}
    assert rules["nightly"] == "cron(0 2 ? * MON-FRI *)"
    server.client("events", access_key=account).disable_rule(Name="every-minute")
