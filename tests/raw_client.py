"""A raw HTTP client for tests that send what no SDK would (invalid JSON, lone surrogates,
NaN, deep nesting): one kept-alive http.client connection, requests signed the way an SDK signs
them (a SigV4 Authorization header and X-Amz-Date; the signature itself is not checked by
default), answers as (status, headers, decoded JSON body or None)."""

from __future__ import annotations

import http.client
import json

AMZ_DATE = "20260101T000000Z"


def authorization(service: str = "batch", access_key: str = "AKIDFUZZ") -> str:
    return (f"AWS4-HMAC-SHA256 Credential={access_key}/20260101/us-east-1/{service}/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=0000")


class RawClient:
    def __init__(self, port: int, service: str = "batch", access_key: str = "AKIDFUZZ",
                 timeout: float = 30):
        self.port, self.timeout = port, timeout
        self.headers = {"Authorization": authorization(service, access_key), "X-Amz-Date": AMZ_DATE}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | str | dict | None = None,
                headers: dict | None = None):
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogatepass")
        all_headers = {**self.headers, "Content-Type": "application/json", **(headers or {})}
        try:
            self.conn.request(method, path, body=body, headers=all_headers)
            resp = self.conn.getresponse()
            data = resp.read()
        except (ConnectionError, http.client.HTTPException):
            # The server closed a kept-alive connection (its right); a new one, sent once more.
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.conn.request(method, path, body=body, headers=all_headers)
            resp = self.conn.getresponse()
            data = resp.read()
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = data  # not JSON: the caller's assertion shows it
        return resp.status, resp.headers, doc

    def post(self, path: str, body=None, headers=None):
        return self.request("POST", path, body, headers)

    def close(self) -> None:
        self.conn.close()
