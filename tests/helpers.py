"""Small assertions shared by the API tests."""

import time

import pytest
from botocore.exceptions import ClientError


def client_error(call, *args, **kwargs) -> str:
    """The message of the HTTP 400 ClientException that `call(*args, **kwargs)` must raise."""
    with pytest.raises(ClientError) as exc:
        call(*args, **kwargs)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert exc.value.response["Error"]["Code"] == "ClientException"
    return exc.value.response["Error"]["Message"]


# Every AWS SDK signs its requests, and batchemu refuses Batch and Logs requests that carry no
# credentials; raw-HTTP tests sign the way the SDKs do.
TEST_KEY, TEST_SECRET = "AKIDTESTTESTTEST", "test"
# A SigV4 header for raw sockets (signatures are only checked with --verify-signatures).
AUTH = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDTESTTESTTEST/20240101/us-east-1/batch/"
                         "aws4_request, SignedHeaders=host, Signature=0"}
AUTH_LINE = f"Authorization: {AUTH['Authorization']}\r\n".encode()


def sigv4_headers(method: str, url: str, body=b"", headers=None, key: str = TEST_KEY,
                  secret: str = TEST_SECRET, service: str = "batch", region: str = "us-east-1") -> dict:
    """`headers` plus the X-Amz-Date and Authorization botocore's SigV4 signer adds for them."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers or {}))
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    return dict(request.headers.items())


def wait_until(probe, timeout: float = 10.0, step: float = 0.05):
    """probe()'s first truthy answer, or its last one after `timeout` seconds: for what the
    scheduler does on its own thread after a call has answered (e.g. SUBMITTED -> RUNNABLE)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer or time.monotonic() > deadline:
            return answer
        time.sleep(step)
