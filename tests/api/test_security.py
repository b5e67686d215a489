"""Who may drive the server (README "Security"): web pages in the user's browser and
DNS-rebinding pages are refused on every route, Batch and Logs requests need AWS credentials
or the server's own origin, --verify-signatures checks SigV4 signatures, and the event stream
is scoped to the caller's account. Refusals are JSON 403s a botocore client reads."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from batchemu.testing import running_server
from tests.helpers import sigv4_headers
from tests.e2e.support import new_account

NO_RETRIES = BotoConfig(retries={"max_attempts": 1, "mode": "standard"})
EVIL_PAGE = {"Origin": "http://evil.example", "Content-Type": "text/plain"}


def send(server, method, path, body=b"", headers=None, host=None):
    """One raw request to the server's socket with the given (or the server's own) Host header:
    (status, headers, parsed JSON body or raw bytes)."""
    headers = dict(headers or {})
    headers.setdefault("Host", host or f"127.0.0.1:{server.port}")
    conn = http.client.HTTPConnection(server.server.host, server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            return resp.status, resp.headers, json.loads(raw)
        except ValueError:
            return resp.status, resp.headers, raw
    finally:
        conn.close()


def signed(server, method, path, body=b"", headers=None, host=None, service="batch", **sign):
    """A request SigV4-signed as botocore signs it, Host header included in the signature."""
    host = host or f"127.0.0.1:{server.port}"
    headers = sigv4_headers(method, f"http://{host}{path}", body, headers, service=service, **sign)
    return send(server, method, path, body, headers, host)


def assert_refused(status, headers, doc, code="AccessDeniedException", *words):
    assert status == 403, doc
    assert headers["Content-Type"] == "application/json"
    assert headers["x-amzn-ErrorType"] == code and doc["__type"] == code
    for word in words:
        assert word in doc["message"], doc["message"]


def nothing_created(server, name):
    batch = server.client("batch", access_key="AKIDTESTTESTTEST")  # the default account
    assert batch.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"] == []
    assert batch.describe_job_queues(jobQueues=[name])["jobQueues"] == []
    assert batch.describe_job_definitions(jobDefinitionName=name)["jobDefinitions"] == []
    # No queue, so no job either (ListJobs would answer "not found" for the queue).


BROWSER_POSTS = [
    ("/v1/createcomputeenvironment", {"computeEnvironmentName": "{n}", "type": "UNMANAGED"}),
    ("/v1/createjobqueue", {"jobQueueName": "{n}", "priority": 1,
                            "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "{n}"}]}),
    ("/v1/registerjobdefinition", {"jobDefinitionName": "{n}", "type": "container", "containerProperties": {
        "image": "busybox", "command": ["sh", "-c", "touch /host/owned"],
        "volumes": [{"name": "root", "host": {"sourcePath": "/"}}],
        "mountPoints": [{"sourceVolume": "root", "containerPath": "/host"}],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]}}),
    ("/v1/submitjob", {"jobName": "{n}", "jobQueue": "{n}", "jobDefinition": "{n}"}),
]


def browser_body(template, name):
    return json.dumps(template).replace("{n}", name).encode()


# -- web pages and DNS rebinding --------------------------------------------------------------------

@pytest.mark.parametrize("host", ["attacker.example", None])
def test_browser_simple_posts_are_refused_and_create_nothing(server, host):
    """The four `text/plain` cross-origin POSTs a page can send without a preflight, from a
    rebinding name (Host: attacker.example) and from a foreign page to the right Host."""
    name = f"page-{uuid.uuid4().hex[:8]}"
    for path, template in BROWSER_POSTS:
        status, headers, doc = send(server, "POST", path, browser_body(template, name), EVIL_PAGE,
                                    host=f"{host}:{server.port}" if host else None)
        if host:
            assert_refused(status, headers, doc, "AccessDeniedException", "attacker.example",
                           "--allowed-hosts")
        else:
            assert_refused(status, headers, doc, "AccessDeniedException", "http://evil.example",
                           "--allowed-origins")
    nothing_created(server, name)


def test_dns_rebinding_request_is_refused_even_when_signed(server):
    status, headers, doc = signed(server, "POST", "/v1/describejobqueues", b"{}",
                                  host=f"attacker.example:{server.port}")
    assert_refused(status, headers, doc, "AccessDeniedException", "'attacker.example:", "--allowed-hosts")


def test_foreign_origin_is_refused_even_when_signed(server):
    status, headers, doc = signed(server, "POST", "/v1/describejobqueues", b"{}",
                                  {"Origin": "http://evil.example"})
    assert_refused(status, headers, doc, "AccessDeniedException", "evil.example", "--allowed-origins")
    # A page on another port of the same host is another origin, too.
    status, headers, doc = signed(server, "POST", "/v1/describejobqueues", b"{}",
                                  {"Origin": "http://127.0.0.1:1"})
    assert_refused(status, headers, doc)


def test_pages_cannot_drive_other_services_either(server):
    bucket = f"page-{uuid.uuid4().hex[:8]}"
    status, headers, doc = send(server, "PUT", f"/{bucket}", b"", {"Origin": "http://evil.example"})
    assert_refused(status, headers, doc)
    # An <img> or link to an SQS query URL sends no Origin, but the browser says it is cross-site.
    status, headers, doc = send(server, "GET", f"/?Action=CreateQueue&QueueName={bucket}",
                                headers={"Sec-Fetch-Site": "cross-site"})
    assert_refused(status, headers, doc, "AccessDeniedException", "Sec-Fetch-Site")
    status, headers, doc = send(server, "GET", "/batchemu/events?account=123456789012",
                                headers={"Origin": "http://evil.example"})
    assert_refused(status, headers, doc)
    s3 = server.client("s3")
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    sqs = server.client("sqs")
    assert not sqs.list_queues(QueueNamePrefix=bucket).get("QueueUrls")


def test_loopback_names_and_the_servers_own_origin_are_accepted(server):
    for host in ("localhost", "LOCALHOST.", "bucket.localhost", "127.0.0.1", "127.1.2.3", "[::1]"):
        status, _, doc = signed(server, "POST", "/v1/describejobqueues", b"{}", host=f"{host}:{server.port}")
        assert status == 200, (host, doc)
    own = {"Origin": f"http://localhost:{server.port}", "Content-Type": "application/json"}
    status, _, doc = send(server, "POST", "/v1/describejobqueues", b"{}", own, host=f"localhost:{server.port}")
    assert status == 200 and "jobQueues" in doc


def test_allowed_origins_option():
    with running_server(allowed_origins="http://localhost:5173, https://dash.example") as server:
        page = {"Origin": "http://localhost:5173", "Content-Type": "application/json"}
        status, headers, doc = send(server, "POST", "/v1/describejobqueues", b"{}", page)
        assert status == 200 and doc == {"jobQueues": []}
        assert headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
        assert "x-amzn-ErrorType" in headers["Access-Control-Expose-Headers"]
        # The browser's preflight for a JSON POST is answered for that page.
        status, headers, _ = send(server, "OPTIONS", "/v1/describejobqueues", headers={
            "Origin": "https://dash.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        assert status == 204
        assert headers["Access-Control-Allow-Origin"] == "https://dash.example"
        assert headers["Access-Control-Allow-Methods"] == "POST"
        assert headers["Access-Control-Allow-Headers"] == "content-type"
        status, headers, doc = send(server, "OPTIONS", "/v1/describejobqueues", headers={
            "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
        assert_refused(status, headers, doc)
        assert "Access-Control-Allow-Origin" not in headers
        status, headers, doc = send(server, "POST", "/v1/describejobqueues", b"{}", EVIL_PAGE)
        assert_refused(status, headers, doc)


def test_allowed_hosts_option():
    with running_server(allowed_hosts="batchemu, *.internal.example") as server:
        for host in ("batchemu", "BatchEmu", "db.internal.example", "localhost"):
            status, _, doc = signed(server, "POST", "/v1/describejobqueues", b"{}", host=f"{host}:{server.port}")
            assert status == 200, (host, doc)
        for host in ("attacker.example", "internal.example.evil", "batchemu.evil"):
            status, headers, doc = signed(server, "POST", "/v1/describejobqueues", b"{}",
                                          host=f"{host}:{server.port}")
            assert_refused(status, headers, doc, "AccessDeniedException", host)
        # Its own page under an allowed name may call unsigned.
        status, _, doc = send(server, "POST", "/v1/describejobqueues", b"{}",
                              {"Origin": f"http://batchemu:{server.port}"}, host=f"batchemu:{server.port}")
        assert status == 200, doc


def test_a_literal_bind_address_and_the_job_endpoint_host_are_names_of_the_server():
    with running_server(host="127.0.0.2", advertise_url="http://host.docker.internal:9") as server:
        for host in ("127.0.0.2", "host.docker.internal"):
            status, _, doc = signed(server, "POST", "/v1/describejobqueues", b"{}", host=f"{host}:{server.port}")
            assert status == 200, (host, doc)


# -- credentials ------------------------------------------------------------------------------------

def test_unsigned_batch_and_logs_requests_are_refused(server):
    unsigned = server.client("batch", config=BotoConfig(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as err:
        unsigned.describe_job_queues()
    error = err.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == "MissingAuthenticationTokenException"
    assert "AWS credentials" in error["Error"]["Message"]
    logs = server.client("logs", config=BotoConfig(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as err:
        logs.describe_log_groups()
    assert err.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"
    # Raw HTTP without an Origin (curl, a script) is refused the same way.
    status, headers, doc = send(server, "POST", "/v1/submitjob",
                                b'{"jobName":"j","jobQueue":"q","jobDefinition":"d"}')
    assert_refused(status, headers, doc, "MissingAuthenticationTokenException", "/v1/submitjob")


def test_request_signed_for_s3_on_a_batch_route_is_answered_by_batch_in_json(server):
    account = new_account()
    status, headers, doc = signed(server, "POST", "/v1/describejobqueues", b"{}",
                                  {"Content-Type": "application/json"}, service="s3", key=account)
    assert status == 200 and doc == {"jobQueues": []}
    arn = f"arn:aws:batch:us-east-1:{account}:job-queue/none"
    for method in ("GET", "POST", "DELETE"):
        path = f"/v1/tags/{arn}" + ("?tagKeys=a" if method == "DELETE" else "")
        body = b'{"tags": {"a": "b"}}' if method == "POST" else b""
        status, headers, doc = signed(server, method, path, body, service="s3", key=account)
        assert headers["Content-Type"] == "application/json", doc
        assert status == 400 and doc["__type"] == "ClientException" and "does not exist" in doc["message"]


# -- --verify-signatures ---------------------------------------------------------------------------------

GOOD_KEY, GOOD_SECRET = "AKIDVERIFIED000001", "right-secret"
ACCOUNT_KEY, ACCOUNT_SECRET = "210987654321", "account-secret"


@pytest.fixture(scope="module")
def verifying(tmp_path_factory):
    keys = tmp_path_factory.mktemp("keys") / "credentials"
    keys.write_text(f"[team]\naws_access_key_id = {ACCOUNT_KEY}\naws_secret_access_key = {ACCOUNT_SECRET}\n")
    with running_server(verify_signatures=True, credentials=f"{GOOD_KEY}:{GOOD_SECRET}",
                        credentials_file=str(keys)) as server:
        yield server


def client(server, service, key, secret, **config):
    return boto3.client(service, endpoint_url=server.url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=NO_RETRIES.merge(BotoConfig(**config)))


def error_of(call, *args, **kwargs):
    with pytest.raises(ClientError) as err:
        call(*args, **kwargs)
    return err.value.response["ResponseMetadata"]["HTTPStatusCode"], err.value.response["Error"]


def test_verify_accepts_correctly_signed_clients(verifying):
    batch = client(verifying, "batch", GOOD_KEY, GOOD_SECRET)
    batch.create_compute_environment(computeEnvironmentName="signed", type="UNMANAGED")
    assert [c["computeEnvironmentName"] for c in batch.describe_compute_environments()["computeEnvironments"]] \
        == ["signed"]
    arn = batch.describe_compute_environments()["computeEnvironments"][0]["computeEnvironmentArn"]
    batch.tag_resource(resourceArn=arn, tags={"k": "v"})  # a percent-encoded ARN in the path
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"k": "v"}
    # Keys from the credentials file; the 12-digit key is the account, as always.
    account = client(verifying, "batch", ACCOUNT_KEY, ACCOUNT_SECRET)
    assert account.describe_compute_environments()["computeEnvironments"] == []
    logs = client(verifying, "logs", GOOD_KEY, GOOD_SECRET)
    logs.create_log_group(logGroupName="verified")
    assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == ["verified"]
    s3 = client(verifying, "s3", ACCOUNT_KEY, ACCOUNT_SECRET)
    s3.create_bucket(Bucket="verified-bucket")
    s3.put_object(Bucket="verified-bucket", Key="a b/c.txt", Body=b"payload")
    assert s3.get_object(Bucket="verified-bucket", Key="a b/c.txt")["Body"].read() == b"payload"
    sqs = client(verifying, "sqs", ACCOUNT_KEY, ACCOUNT_SECRET)
    assert sqs.create_queue(QueueName="verified")["QueueUrl"]


def test_verify_refuses_a_wrong_secret_an_unknown_key_and_no_signature(verifying):
    status, error = error_of(client(verifying, "batch", GOOD_KEY, "wrong").describe_job_queues)
    assert (status, error["Code"]) == (403, "InvalidSignatureException")
    assert "signature we calculated does not match" in error["Message"]
    status, error = error_of(client(verifying, "batch", "AKIDUNKNOWN", GOOD_SECRET).describe_job_queues)
    assert (status, error["Code"]) == (403, "UnrecognizedClientException")
    assert "'AKIDUNKNOWN'" in error["Message"] and "--credentials" in error["Message"]
    status, error = error_of(client(verifying, "sqs", ACCOUNT_KEY, "wrong").list_queues)
    assert status == 403  # moto's services too (botocore reads the JSON error of a query service by status)
    status, error = error_of(client(verifying, "batch", GOOD_KEY, GOOD_SECRET,
                                    signature_version=UNSIGNED).describe_job_queues)
    assert (status, error["Code"]) == (403, "MissingAuthenticationTokenException")
    # Even the server's own page needs a signature then.
    status, headers, doc = send(verifying, "POST", "/v1/describejobqueues", b"{}",
                                {"Origin": f"http://127.0.0.1:{verifying.port}"})
    assert_refused(status, headers, doc, "MissingAuthenticationTokenException")


def test_verify_refuses_a_changed_body_or_path_and_an_old_signature(verifying):
    path = "/v1/describejobqueues"
    headers = sigv4_headers("POST", f"{verifying.url}{path}", b"{}", key=GOOD_KEY, secret=GOOD_SECRET)
    assert send(verifying, "POST", path, b"{}", headers)[0] == 200
    assert_refused(*send(verifying, "POST", path, b'{"maxResults": 1}', headers), "InvalidSignatureException")
    assert_refused(*send(verifying, "POST", "/v1/describecomputeenvironments", b"{}", headers),
                   "InvalidSignatureException")
    old = dict(headers)
    old_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 3600))
    old["X-Amz-Date"] = old_date
    old["Authorization"] = headers["Authorization"].replace(headers["X-Amz-Date"][:8], old_date[:8])
    assert_refused(*send(verifying, "POST", path, b"{}", old), "InvalidSignatureException", "expired")


def test_verify_works_with_presigned_queries(verifying):
    s3 = client(verifying, "s3", GOOD_KEY, GOOD_SECRET, signature_version="s3v4")
    s3.create_bucket(Bucket="presigned")
    put = s3.generate_presigned_url("put_object", Params={"Bucket": "presigned", "Key": "k"})
    request = urllib.request.Request(put, data=b"uploaded", method="PUT")
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200
    get = s3.generate_presigned_url("get_object", Params={"Bucket": "presigned", "Key": "k"})
    with urllib.request.urlopen(get, timeout=10) as resp:
        assert resp.read() == b"uploaded"
    tampered = get.replace("presigned/k", "presigned/other")
    status, headers, doc = send(verifying, "GET", tampered[len(verifying.url):])
    assert_refused(status, headers, doc, "InvalidSignatureException")
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": "presigned", "Key": "k"}, ExpiresIn=1)
    time.sleep(2.1)
    assert_refused(*send(verifying, "GET", expired[len(verifying.url):]), "InvalidSignatureException", "expired")
    # SigV2 (boto3's default for S3 presigned URLs) cannot be verified: refused with the fix.
    v2 = client(verifying, "s3", GOOD_KEY, GOOD_SECRET, signature_version="s3").generate_presigned_url(
        "get_object", Params={"Bucket": "presigned", "Key": "k"})
    assert_refused(*send(verifying, "GET", v2[len(verifying.url):]), "InvalidSignatureException", "s3v4")


def test_verify_checks_s3_browser_upload_forms(verifying):
    s3 = client(verifying, "s3", GOOD_KEY, GOOD_SECRET, signature_version="s3v4")
    s3.create_bucket(Bucket="uploads")
    post = s3.generate_presigned_post("uploads", "form.txt")
    assert requests.post(post["url"], data=post["fields"], files={"file": ("x", b"by form")}).status_code == 204
    assert s3.get_object(Bucket="uploads", Key="form.txt")["Body"].read() == b"by form"
    forged = client(verifying, "s3", GOOD_KEY, "wrong", signature_version="s3v4").generate_presigned_post(
        "uploads", "forged.txt")
    refused = requests.post(forged["url"], data=forged["fields"], files={"file": ("x", b"forged")})
    assert refused.status_code == 403 and refused.json()["__type"] == "InvalidSignatureException"
    expired = s3.generate_presigned_post("uploads", "late.txt", ExpiresIn=-10)
    refused = requests.post(expired["url"], data=expired["fields"], files={"file": ("x", b"late")})
    assert refused.status_code == 403 and "expired" in refused.json()["message"]


def test_verify_accepts_the_credentials_given_to_job_containers(verifying):
    """A job's container gets its account as the key and a secret derived per server and
    account; only those pairs pass (tests/e2e covers a real container calling home)."""
    endpoint = verifying.emulator.job_endpoint
    env = endpoint({"_account": "333344445555", "_region": "us-east-1"})
    assert env["AWS_SECRET_ACCESS_KEY"] not in ("batchemu", endpoint.secret_for("333344445555x"))
    job = client(verifying, "batch", env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    assert job.describe_job_queues()["jobQueues"] == []
    other = client(verifying, "batch", "333344445556", env["AWS_SECRET_ACCESS_KEY"])
    assert error_of(other.describe_job_queues)[1]["Code"] == "InvalidSignatureException"


def test_verify_signatures_without_keys_will_not_start():
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHEMU_")}
    result = subprocess.run([sys.executable, "-m", "batchemu", "--ephemeral", "--port", "0", "--runner",
                             "none", "--verify-signatures"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert "--verify-signatures needs" in result.stderr and "--credentials" in result.stderr


# -- the event stream --------------------------------------------------------------------------------

class Stream:
    def __init__(self, server, query="", headers=None):
        request = urllib.request.Request(f"{server.url}/batchemu/events{query}", headers=headers or {})
        self.resp = urllib.request.urlopen(request, timeout=15)
        assert self.resp.readline() == b": connected\n"

    def jobs_until(self, job_id) -> list:
        """(account, jobId) of every event until `job_id`'s RUNNABLE one."""
        seen = []
        while True:
            line = self.resp.readline()
            assert line, "the stream ended"
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                seen.append((event["account"], event["detail"]["jobId"]))
                if event["detail"]["jobId"] == job_id and event["detail"]["status"] == "RUNNABLE":
                    return seen

    def close(self):
        self.resp.close()


def submit(server, key):
    batch = server.client("batch", access_key=key)
    name = uuid.uuid4().hex[:8]
    batch.create_compute_environment(computeEnvironmentName=name, type="UNMANAGED")
    batch.create_job_queue(jobQueueName=name, priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": name}])
    batch.register_job_definition(jobDefinitionName=name, type="container", containerProperties={
        "image": "busybox", "command": ["true"], "environment": [{"name": "DB_PASSWORD", "value": key}],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]})
    return batch.submit_job(jobName=name, jobQueue=name, jobDefinition=name)["jobId"]


def events_auth(server, key):
    return sigv4_headers("GET", f"{server.url}/batchemu/events", key=key, service="events")


def test_event_stream_is_scoped_to_the_callers_account(server):
    a, b = (new_account() for _ in range(2))
    signed_a = Stream(server, headers=events_auth(server, a))
    explicit_b = Stream(server, f"?account={b}")
    unsigned = Stream(server)  # the default account, as for the API
    try:
        other_job = submit(server, b)
        default_job = submit(server, "AKIDTESTTESTTEST")
        a_job = submit(server, a)
        assert {acct for acct, _ in signed_a.jobs_until(a_job)} == {a}
        assert {acct for acct, _ in explicit_b.jobs_until(other_job)} == {b}
        assert {acct for acct, _ in unsigned.jobs_until(default_job)} == {"123456789012"}
    finally:
        for stream in (signed_a, explicit_b, unsigned):
            stream.close()
    # A signed caller may not ask for another account's stream.
    status, headers, doc = send(server, "GET", f"/batchemu/events?account={b}", headers=events_auth(server, a))
    assert_refused(status, headers, doc, "AccessDeniedException", b, "--events-all-accounts")


def test_every_accounts_events_only_with_the_operator_option():
    with running_server(events_all_accounts=True) as server:
        a, b = (new_account() for _ in range(2))
        everything = Stream(server)
        try:
            first = submit(server, a)
            last = submit(server, b)
            seen = everything.jobs_until(last)
        finally:
            everything.close()
        assert (a, first) in seen and (b, last) in seen


# -- other clients' signers under --verify-signatures -------------------------------------------------

JS = os.path.join(os.path.dirname(__file__), "..", "..", "conformance", "js")


def client_env(home, key, secret):
    return {"PATH": os.environ["PATH"], "HOME": str(home), "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.mark.skipif(not shutil.which("aws"), reason="the aws CLI is not installed")
def test_verify_accepts_the_aws_cli(verifying, tmp_path):
    def aws(secret, *args):
        return subprocess.run(["aws", "--endpoint-url", verifying.url, *args], capture_output=True, text=True,
                              env=client_env(tmp_path, GOOD_KEY, secret), timeout=120)

    made = aws(GOOD_SECRET, "batch", "create-compute-environment", "--compute-environment-name", "cli",
               "--type", "UNMANAGED")
    assert made.returncode == 0, made.stderr
    listed = aws(GOOD_SECRET, "batch", "describe-compute-environments", "--compute-environments", "cli")
    assert json.loads(listed.stdout)["computeEnvironments"][0]["computeEnvironmentName"] == "cli"
    refused = aws("wrong", "batch", "describe-compute-environments")
    assert refused.returncode != 0 and "InvalidSignatureException" in refused.stderr


@pytest.mark.skipif(not (shutil.which("node") and os.path.isdir(os.path.join(JS, "node_modules", "@aws-sdk"))),
                    reason="node or the JS SDK (conformance/js/node_modules) is not installed")
def test_verify_accepts_the_js_sdk(verifying, tmp_path):
    env = dict(client_env(tmp_path, GOOD_KEY, GOOD_SECRET), BATCHEMU_ENDPOINT=verifying.url)
    result = subprocess.run(["node", "scenarios.mjs", "consumable"], cwd=JS, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert any(line.startswith('{"result"') for line in result.stdout.splitlines())
    env["AWS_SECRET_ACCESS_KEY"] = "wrong"
    result = subprocess.run(["node", "scenarios.mjs", "consumable"], cwd=JS, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0 and "InvalidSignatureException" in result.stderr + result.stdout
