"""What a user made in moto's services on one endpoint survives a restart of `python -m batchemu`
on the same data dir (README "What survives a restart"): Step Functions state machines (an
execution runs to SUCCEEDED afterwards), custom event buses and their rules (a rule delivers
after the restart), Lambda functions with their code, versions and aliases (Invoke runs the
kept code; a rule on a custom bus invokes the function), and a reset forgets all of them.
Each server is a process of its own, so nothing of moto's memory carries over."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from tests import docker_support
from tests.e2e.support import new_account, wait_until

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
PASS_MACHINE = {"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "Result": {"said": "hello"},
                                                         "End": True}}}


class Server:
    """`python -m batchemu --data-dir D --allow-reset` in a process of its own."""

    def __init__(self, data_dir: Path, *extra: str):
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHEMU_")}
        self.log = data_dir.parent / f"{data_dir.name}-server-{time.monotonic_ns()}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "batchemu", "--port", "0", "--data-dir", str(data_dir), "--allow-reset",
                 "--runner", "process", *extra],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            found = wait_until(lambda: self._listening(), 90, "the server to say it listens")
        except AssertionError:
            self.stop()
            raise AssertionError(f"batchemu did not start:\n{self.log.read_text(errors='replace')}") from None
        self.url = found.group(1)

    def _listening(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"batchemu exited ({self.proc.returncode})")
        return re.search(r"listening on (http://\S+)", self.log.read_text(errors="replace"))

    def client(self, service: str, account: str):
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, aws_access_key_id=account,
                            aws_secret_access_key="test",
                            config=BotoConfig(retries={"max_attempts": 1}, read_timeout=120))

    def reset(self, path: str) -> None:
        request = urllib.request.Request(self.url + path, method="POST", data=b"",
                                         headers={"Host": "localhost"})
        with urllib.request.urlopen(request, timeout=120) as answer:
            assert json.loads(answer.read()) == {"status": "ok"}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


@pytest.fixture
def servers():
    started = []

    def start(data_dir: Path, *extra: str) -> Server:
        server = Server(data_dir, *extra)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def machines(server, account) -> list:
    return server.client("stepfunctions", account).list_state_machines()["stateMachines"]


def finished_execution(sfn, execution_arn: str) -> dict:
    return eventually(lambda: (lambda e: e if e["status"] != "RUNNING" else None)(
        sfn.describe_execution(executionArn=execution_arn)), 30, "the execution to end")


def eventually(check, timeout: float, what: str):
    """wait_until at a gentler pace, for checks that are requests to the server."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.5)
    return value


def log_messages(logs, group: str) -> list:
    try:
        events = logs.filter_log_events(logGroupName=group)["events"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return []
        raise
    return [e["message"] for e in events]


def test_state_machines_buses_and_rules_come_back_after_a_restart(tmp_path, servers):
    account = new_account()
    role = f"arn:aws:iam::{account}:role/states"
    first = servers(tmp_path)
    sfn, events, logs = (first.client(s, account) for s in ("stepfunctions", "events", "logs"))
    created = sfn.create_state_machine(
        name="hello", definition=json.dumps({"StartAt": "Old", "States": {"Old": {"Type": "Succeed"}}}),
        roleArn=role, type="STANDARD", tags=[{"key": "team", "value": "data"}],
        tracingConfiguration={"enabled": True})
    sfn.update_state_machine(stateMachineArn=created["stateMachineArn"], definition=json.dumps(PASS_MACHINE),
                             loggingConfiguration={"level": "ERROR", "includeExecutionData": True})
    gone = sfn.create_state_machine(name="gone", definition=json.dumps(PASS_MACHINE), roleArn=role)
    sfn.delete_state_machine(stateMachineArn=gone["stateMachineArn"])
    with pytest.raises(ClientError):  # refused by moto: nothing is kept of it
        sfn.create_state_machine(name="broken", definition="{not json", roleArn=role)
    before = sfn.describe_state_machine(stateMachineArn=created["stateMachineArn"])
    succeed = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    versioned = sfn.create_state_machine(name="versioned", definition=succeed, roleArn=role, publish=True)
    sfn.update_state_machine(stateMachineArn=versioned["stateMachineArn"], definition=json.dumps(PASS_MACHINE),
                             publish=True, versionDescription="second")
    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=[
        {"stateMachineVersionArn": versioned["stateMachineVersionArn"], "weight": 100}])["stateMachineAliasArn"]

    bus_arn = events.create_event_bus(Name="orders", Description="order events",
                                      Tags=[{"Key": "team", "Value": "data"}])["EventBusArn"]
    logs.create_log_group(logGroupName="/orders/seen")
    events.put_rule(Name="placed", EventBusName="orders", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="placed", EventBusName="orders", Targets=[
        {"Id": "log", "Arn": f"arn:aws:logs:{REGION}:{account}:log-group:/orders/seen"}])
    events.create_event_bus(Name="dropped")
    events.delete_event_bus(Name="dropped")
    described_bus = events.describe_event_bus(Name="orders")
    first.stop()

    second = servers(tmp_path)
    sfn, events, logs = (second.client(s, account) for s in ("stepfunctions", "events", "logs"))
    after = sfn.describe_state_machine(stateMachineArn=created["stateMachineArn"])
    for field in ("stateMachineArn", "name", "definition", "roleArn", "type", "loggingConfiguration",
                  "tracingConfiguration", "creationDate"):
        assert after[field] == before[field], field
    assert json.loads(after["definition"]) == PASS_MACHINE
    assert after["loggingConfiguration"]["level"] == "ERROR" and after["tracingConfiguration"] == {"enabled": True}
    assert sfn.list_tags_for_resource(resourceArn=created["stateMachineArn"])["tags"] == [
        {"key": "team", "value": "data"}]
    assert [m["name"] for m in machines(second, account)] == ["hello", "versioned"]  # deleted stays deleted
    arn = versioned["stateMachineArn"]
    assert sfn.describe_state_machine(stateMachineArn=f"{arn}:1")["definition"] == succeed
    assert json.loads(sfn.describe_state_machine(stateMachineArn=f"{arn}:2")["definition"]) == PASS_MACHINE
    assert sfn.describe_state_machine_alias(stateMachineAliasArn=alias)["routingConfiguration"] == [
        {"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    execution = sfn.start_execution(stateMachineArn=created["stateMachineArn"], input="{}")
    done = finished_execution(sfn, execution["executionArn"])
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"said": "hello"}

    buses = {b["Name"]: b for b in events.list_event_buses()["EventBuses"]}
    assert sorted(buses) == ["default", "orders"] and buses["orders"]["Arn"] == bus_arn
    bus = events.describe_event_bus(Name="orders")
    assert bus["Description"] == "order events" and bus["CreationTime"] == described_bus["CreationTime"]
    assert events.list_tags_for_resource(ResourceARN=bus_arn)["Tags"] == [{"Key": "team", "Value": "data"}]
    rule = events.describe_rule(Name="placed", EventBusName="orders")
    assert json.loads(rule["EventPattern"]) == {"source": ["shop"]} and rule["State"] == "ENABLED"
    sent = events.put_events(Entries=[{"EventBusName": "orders", "Source": "shop", "DetailType": "Order Placed",
                                       "Detail": json.dumps({"order": 7})}])
    assert sent["FailedEntryCount"] == 0
    seen = eventually(lambda: log_messages(logs, "/orders/seen"), 20, "the rule to deliver")
    assert json.loads(seen[0])["detail"] == {"order": 7}

    events.remove_targets(Rule="placed", EventBusName="orders", Ids=["log"])
    events.delete_rule(Name="placed", EventBusName="orders")
    second.stop()

    third = servers(tmp_path)
    events = third.client("events", account)
    assert events.list_rules(EventBusName="orders")["Rules"] == []  # the deletion was kept
    third.reset("/moto-api/reset")  # what moto's own harness posts
    third.stop()

    fourth = servers(tmp_path)
    assert machines(fourth, account) == []
    assert [b["Name"] for b in fourth.client("events", account).list_event_buses()["EventBuses"]] == ["default"]


def function_zip(reply: str) -> bytes:
    code = ("import os\n"
            "def handler(event, context):\n"
            f"    print('invoked with', event)\n"
            f"    return {{'reply': {reply!r}, 'env': os.environ.get('GREETING'), 'event': event}}\n")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("app.py", code)
    return out.getvalue()


@pytest.mark.docker
def test_lambda_functions_come_back_and_run_their_kept_code(tmp_path, servers, lambda_image):
    account = new_account()
    first = servers(tmp_path)
    iam, lam = first.client("iam", account), first.client("lambda", account)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "lambda.amazonaws.com"}}]}
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    created = lam.create_function(FunctionName="greet", Runtime="python3.12", Role=role, Handler="app.handler",
                                  Code={"ZipFile": function_zip("v1")}, Timeout=30, Publish=True,
                                  Environment={"Variables": {"GREETING": "hi"}}, Tags={"team": "data"})
    lam.update_function_code(FunctionName="greet", ZipFile=function_zip("v2"))
    lam.update_function_configuration(FunctionName="greet", Environment={"Variables": {"GREETING": "hello"}},
                                      MemorySize=256)
    lam.create_alias(FunctionName="greet", Name="stable", FunctionVersion="1")
    lam.create_function(FunctionName="gone", Runtime="python3.12", Role=role, Handler="app.handler",
                        Code={"ZipFile": function_zip("gone")})
    lam.delete_function(FunctionName="gone")
    before = lam.get_function(FunctionName="greet")["Configuration"]
    events = first.client("events", account)
    events.create_event_bus(Name="greetings")
    events.put_rule(Name="greet", EventBusName="greetings", EventPattern=json.dumps({"source": ["people"]}))
    events.put_targets(Rule="greet", EventBusName="greetings", Targets=[{"Id": "fn", "Arn": created["FunctionArn"]}])
    first.stop()

    second = servers(tmp_path)
    lam, logs, events = (second.client(s, account) for s in ("lambda", "logs", "events"))
    # The rule fires first: no Lambda request has been made to this server yet.
    assert events.put_events(Entries=[{"EventBusName": "greetings", "Source": "people", "DetailType": "Hi",
                                       "Detail": json.dumps({"who": "ada"})}])["FailedEntryCount"] == 0
    logged = eventually(lambda: [m for m in log_messages(logs, "/aws/lambda/greet") if "invoked with" in m],
                        180, "the rule on the kept bus to invoke the kept function")
    assert "ada" in logged[0]

    got = lam.get_function(FunctionName="greet")
    after = got["Configuration"]
    for field in ("FunctionArn", "CodeSha256", "CodeSize", "Handler", "Runtime", "Role", "MemorySize", "Timeout",
                  "Environment", "LastModified"):
        assert after[field] == before[field], field
    assert got["Tags"] == {"team": "data"}
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["greet"]
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="greet")["Versions"]] == ["$LATEST", "1"]
    assert lam.get_alias(FunctionName="greet", Name="stable")["FunctionVersion"] == "1"

    answer = json.loads(lam.invoke(FunctionName="greet", Payload=json.dumps({"n": 1}))["Payload"].read())
    assert answer == {"reply": "v2", "env": "hello", "event": {"n": 1}}
    # "name:version" (moto 5.2 ignores Invoke's Qualifier parameter and runs $LATEST)
    answer = json.loads(lam.invoke(FunctionName="greet:1", Payload=b"{}")["Payload"].read())
    assert answer["reply"] == "v1" and answer["env"] == "hi"  # the published version kept its own code

    second.reset("/batchemu/reset")
    second.stop()
    third = servers(tmp_path)
    assert third.client("lambda", account).list_functions()["Functions"] == []


@pytest.fixture(scope="module")
def lambda_image():
    docker_support.lambda_image()


def test_an_ephemeral_server_keeps_no_copy():
    """Nothing could read the copies of an --ephemeral server's functions and state machines."""
    from batchemu.testing import running_server

    account = new_account()
    with running_server() as server:
        sfn = server.client("stepfunctions", access_key=account)
        sfn.create_state_machine(name="brief", definition=json.dumps(PASS_MACHINE),
                                 roleArn=f"arn:aws:iam::{account}:role/states")
        assert [m["name"] for m in sfn.list_state_machines()["stateMachines"]] == ["brief"]
        assert not server.emulator.pipelines.durable.has_any("states")
