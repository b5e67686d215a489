"""The client side of `batchemu fault ...` (cli.py): one signed JSON request to a running
server's /batchemu/faults routes (fault_routes), signed with SigV4 as an SDK signs (the
credentials botocore finds, else a placeholder key, which a server without
--verify-signatures accepts). Knows no route's meaning; prints nothing.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

DEFAULT_ENDPOINT = "http://127.0.0.1:8000"


class FaultRefused(Exception):
    """The server answered with an error: (HTTP status, its message)."""


def call(endpoint: str, method: str, path: str, body: dict | None, region: str | None = None,
         timeout: float = 30.0) -> dict:
    # Lazy for start-up time: botocore's session costs ~0.2 s that `batchemu --help` never pays.
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    session = botocore.session.get_session()
    credentials = session.get_credentials() or Credentials("batchemu", "batchemu")
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") \
        or session.get_config_variable("region") or "us-east-1"
    url = endpoint.rstrip("/") + path
    data = json.dumps(body).encode() if body is not None else None
    request = AWSRequest(method=method, url=url, data=data,
                         headers={"Content-Type": "application/json"} if data is not None else {})
    SigV4Auth(credentials, "batch", region).add_auth(request)
    prepared = urllib.request.Request(url, data=data, method=method, headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(prepared, timeout=timeout) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        try:
            message = json.loads(err.read()).get("message")
        except ValueError:
            message = None
        raise FaultRefused(f"HTTP {err.code}: {message or err.reason}") from None
