"""Other AWS services on batchemu's endpoint (moto in-process), through real boto3 clients and
raw signed requests: S3 (path-style, virtual-host style, presigned), SQS (json and query
protocols), SNS, DynamoDB, STS, EventBridge, IAM, EC2, ECS, CloudFormation; account and region
isolation; Batch requests stay Batch's; every error is JSON.

moto's state is per Python process, so each test works in an account of its own."""

from __future__ import annotations

import http.client
import io
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

import boto3
import botocore.exceptions
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials
from tests.e2e.support import new_account


@pytest.fixture()
def account():
    return new_account()


@pytest.fixture()
def client(server, account):
    return lambda service, **kw: server.client(service, access_key=account, **kw)


def signed(server, service, method, path, body=b"", headers=None, key="AKIDTESTTESTTEST",
           region="us-east-1"):
    """A raw SigV4-signed request: (status, content type, body)."""
    req = AWSRequest(method=method, url=server.url + path, data=body, headers=headers or {})
    SigV4Auth(Credentials(key, "test"), service, region).add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=dict(req.headers.items()))
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read()
    finally:
        conn.close()


def unsigned(server, path, method="GET"):
    try:
        with urllib.request.urlopen(urllib.request.Request(server.url + path, method=method)) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


# -- S3 ------------------------------------------------------------------------------------------

def test_s3_put_and_get_object_path_style(client):
    s3 = client("s3")
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="dir/hello.txt", Body=b"hello from s3")
    assert s3.get_object(Bucket=bucket, Key="dir/hello.txt")["Body"].read() == b"hello from s3"
    assert s3.head_object(Bucket=bucket, Key="dir/hello.txt")["ContentLength"] == 13
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["dir/hello.txt"]


def _send_to_loopback(port):
    """A before-send hook: *.localhost does not resolve here, so send the SDK's own signed
    request to 127.0.0.1 with its Host header (the bucket's virtual host) unchanged."""
    def send(request, **_):
        url = urllib.parse.urlsplit(request.url)
        headers = dict(request.headers.items())
        headers["Host"] = url.netloc
        headers.pop("Expect", None)
        body = request.body.read() if hasattr(request.body, "read") else request.body
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(request.method, url.path + (f"?{url.query}" if url.query else ""), body=body,
                     headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()

        class Raw(io.BytesIO):
            def stream(self, *args, **kwargs):
                yield self.read()

        return AWSResponse(request.url, resp.status, dict(resp.getheaders()), Raw(data))
    return send


def test_s3_virtual_host_style(server, account, client):
    # botocore only uses virtual hosts with a host name endpoint: http://<bucket>.localhost:<port>
    virtual = boto3.client("s3", endpoint_url=f"http://localhost:{server.port}", region_name="us-east-1",
                           aws_access_key_id=account, aws_secret_access_key="test",
                           config=Config(s3={"addressing_style": "virtual"}))
    sent = []
    virtual.meta.events.register("before-send.s3", lambda request, **_: sent.append(request.url))
    virtual.meta.events.register("before-send.s3", _send_to_loopback(server.port))
    bucket = f"vh-{uuid.uuid4().hex[:12]}"
    virtual.create_bucket(Bucket=bucket)
    virtual.put_object(Bucket=bucket, Key="k.txt", Body=b"virtual")
    assert sent[0].startswith(f"http://{bucket}.localhost:{server.port}/")
    assert virtual.get_object(Bucket=bucket, Key="k.txt")["Body"].read() == b"virtual"
    # The same bucket and object, path-style.
    assert client("s3").get_object(Bucket=bucket, Key="k.txt")["Body"].read() == b"virtual"


def test_s3_presigned_url(client):
    s3 = client("s3")
    bucket = f"ps-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="p.txt", Body=b"presigned")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p.txt"})
    with urllib.request.urlopen(url) as resp:
        assert resp.read() == b"presigned"


def test_s3_presigned_put_and_browser_post_upload(server, client, account):
    s3 = client("s3", config=Config(signature_version="s3v4"))
    bucket = f"up-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    # curl -X PUT --data-binary sends a form content type; the object must still be the bytes.
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "put.bin"})
    assert "X-Amz-Credential" in url
    put = requests.put(url, data=b"a=1&b=2", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert put.status_code == 200
    assert s3.get_object(Bucket=bucket, Key="put.bin")["Body"].read() == b"a=1&b=2"
    # A browser form upload carries its credentials in the form, not in a header.
    post = s3.generate_presigned_post(bucket, "posted.txt")
    assert requests.post(post["url"], data=post["fields"],
                         files={"file": ("x.txt", b"uploaded")}).status_code == 204
    assert s3.get_object(Bucket=bucket, Key="posted.txt")["Body"].read() == b"uploaded"


# -- SQS -----------------------------------------------------------------------------------------

def test_sqs_send_receive_json_protocol(client):
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="job-1")
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in messages] == ["job-1"]


def test_sqs_query_protocol(server, account):
    """Older SDKs and CLIs speak SQS's query protocol (form body, XML answer)."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, kind, body = signed(server, "sqs", "POST", "/",
                                b"Action=CreateQueue&QueueName=legacy&Version=2012-11-05", form, key=account)
    assert status == 200 and "xml" in kind
    queue_url = body.split(b"<QueueUrl>")[1].split(b"</QueueUrl>")[0].decode()
    assert queue_url.endswith(f"/{account}/legacy")
    path = urllib.parse.urlsplit(queue_url).path
    send = urllib.parse.urlencode({"Action": "SendMessage", "MessageBody": "over query",
                                   "Version": "2012-11-05"}).encode()
    assert signed(server, "sqs", "POST", path, send, form, key=account)[0] == 200
    receive = b"Action=ReceiveMessage&Version=2012-11-05"
    status, _, body = signed(server, "sqs", "POST", path, receive, form, key=account)
    assert status == 200 and b"<Body>over query</Body>" in body


# -- the rest ------------------------------------------------------------------------------------

def test_dynamodb_put_and_get(client):
    ddb = client("dynamodb")
    ddb.create_table(TableName="items", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    ddb.put_item(TableName="items", Item={"id": {"S": "a"}, "n": {"N": "7"}})
    assert ddb.get_item(TableName="items", Key={"id": {"S": "a"}})["Item"] == {"id": {"S": "a"},
                                                                            "n": {"N": "7"}}


def test_sts_caller_identity_is_the_access_key_account(client, account, server):
    assert client("sts").get_caller_identity()["Account"] == account
    # Any other access key is the default account, as for Batch.
    assert server.client("sts", access_key="AKIDNOTANACCOUNT").get_caller_identity()["Account"] == "123456789012"


def test_sns_publish(client):
    sns = client("sns")
    topic = sns.create_topic(Name="done")["TopicArn"]
    assert sns.publish(TopicArn=topic, Message="m")["MessageId"]
    assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [topic]


def test_events_rule_and_target(client, account):
    events = client("events")
    arn = events.put_rule(Name="batch-changes",
                          EventPattern=json.dumps({"source": ["aws.batch"]}))["RuleArn"]
    assert arn == f"arn:aws:events:us-east-1:{account}:rule/batch-changes"
    events.put_targets(Rule="batch-changes", Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{account}:q"}])
    assert [t["Id"] for t in events.list_targets_by_rule(Rule="batch-changes")["Targets"]] == ["q"]


def test_iam_create_role(client, account):
    iam = client("iam")
    role = iam.create_role(RoleName="batch-job-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]}))
    assert role["Role"]["Arn"] == f"arn:aws:iam::{account}:role/batch-job-role"
    assert iam.get_role(RoleName="batch-job-role")["Role"]["RoleName"] == "batch-job-role"


def test_ec2_ecs_and_cloudformation(client, account):
    vpcs = client("ec2").describe_vpcs()["Vpcs"]
    assert vpcs and vpcs[0]["OwnerId"] == account
    cluster = client("ecs").create_cluster(clusterName="c")["cluster"]["clusterArn"]
    assert cluster == f"arn:aws:ecs:us-east-1:{account}:cluster/c"
    cfn = client("cloudformation")
    template = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "from-cfn"}}}}
    cfn.create_stack(StackName="s", TemplateBody=json.dumps(template))
    assert cfn.describe_stacks(StackName="s")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    # The stack's queue exists in SQS: one set of backends serves every service.
    assert client("sqs").get_queue_url(QueueName="from-cfn")["QueueUrl"].endswith(f"/{account}/from-cfn")


# -- isolation -----------------------------------------------------------------------------------

def test_accounts_are_isolated(server):
    a, b = "100000000001", "100000000002"
    name = f"only-in-a-{uuid.uuid4().hex[:8]}"
    server.client("sqs", access_key=a).create_queue(QueueName=name)
    assert server.client("sqs", access_key=a).list_queues(QueueNamePrefix=name)["QueueUrls"]
    assert "QueueUrls" not in server.client("sqs", access_key=b).list_queues(QueueNamePrefix=name)
    with pytest.raises(botocore.exceptions.ClientError):
        server.client("sqs", access_key=b).get_queue_url(QueueName=name)


def test_regions_are_isolated(client):
    client("sqs", region="eu-west-1").create_queue(QueueName="regional")
    assert client("sqs", region="eu-west-1").list_queues().get("QueueUrls")
    assert not client("sqs", region="us-east-1").list_queues().get("QueueUrls")


# -- what is not moto's --------------------------------------------------------------------------

def test_batch_request_with_a_service_looking_path_stays_batch(server, account):
    status, kind, body = signed(server, "batch", "GET", "/my-bucket/key.txt", key=account)
    assert status == 404 and kind == "application/json"
    assert json.loads(body)["__type"] == "UnknownOperationException"
    # ... and a real Batch route still works for an account that also uses moto.
    status, _, body = signed(server, "batch", "POST", "/v1/describejobqueues", b"{}",
                             {"Content-Type": "application/json"}, key=account)
    assert status == 200 and json.loads(body) == {"jobQueues": []}


def test_unsigned_unrecognisable_requests_get_the_json_404(server):
    for path in ("/", "/some/bucket/key", "/moto-api/"):
        status, kind, body = unsigned(server, path)
        assert (status, kind) == (404, "application/json"), path
        assert json.loads(body)["__type"] == "UnknownOperationException"


def test_moto_errors_are_json_never_html(server):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, kind, body = signed(server, "sqs", "GET", "/no/such/sqs/path")
    assert (status, kind) == (404, "application/json")
    assert json.loads(body)["__type"] == "UnknownOperationException"
    status, kind, body = signed(server, "sqs", "POST", "/", b"Action=NoSuchAction&Version=2012-11-05", form)
    assert (status, kind) == (400, "application/json")
    assert json.loads(body) == {"__type": "InvalidAction", "message": "unknown action NoSuchAction"}
    status, kind, body = signed(server, "nosuchservice", "GET", "/x")
    assert (status, kind) == (501, "application/json")
    assert "'nosuchservice' is not emulated" in json.loads(body)["message"]
