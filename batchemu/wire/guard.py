"""Who may talk to this server at all, judged from the Host, Origin and Sec-Fetch-Site headers:
a web page in the user's browser (a cross-origin request) and a DNS-rebinding page (a foreign
Host name) are refused on every route; CORS answers for the origins an operator allowed; and
`require_credentials`, for the services that ask for it, refuses requests that carry neither
AWS credentials nor this server's own origin. Knows no service and verifies no signature
(wire.auth does); app.py decides which frontends require credentials.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Callable, Iterable

from flask import Response

from batchemu.wire.auth import MISSING_TOKEN, has_credentials
from batchemu.wire.endpoint import json_error

FORBIDDEN = 403
# What botocore reads as the error code of a JSON 403 (AWS's own codes for these cases).
ACCESS_DENIED = "AccessDeniedException"
# Sent by every current browser; a page cannot set or remove it (a "forbidden header name").
_CROSS_SITE = ("cross-site", "same-site")
_EXPOSED = "x-amzn-RequestId, x-amzn-ErrorType, x-amz-request-id, ETag"


def refusal(code: str, message: str) -> Response:
    """A 403 in the JSON error shape every AWS JSON protocol uses (botocore reads its code)."""
    return json_error(FORBIDDEN, code, message)


def split_names(value: str | Iterable[str]) -> tuple[str, ...]:
    """An option's list: comma- or space-separated text (flags, env) or an iterable."""
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    return tuple(item.strip().lower().rstrip("/") for item in items if item.strip())


def host_name(host_header: str) -> str:
    """The name or address of a Host header: port, IPv6 brackets and a trailing dot removed."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host[1:]
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        host = name
    return host.rstrip(".")


def _address(name: str):
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


@functools.lru_cache(maxsize=512)  # asked on every request: parsing the address was ~5% of a SubmitJob
def is_loopback(name: str) -> bool:
    """localhost, *.localhost (RFC 6761: always loopback), 127.0.0.0/8 and ::1."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = _address(name)
    return address is not None and address.is_loopback


class Guard:
    """Host and Origin rules of one server.

    `extra_hosts` is asked (only for a Host not otherwise allowed) for names that are ours but known only at run time:
    the host of the URL job containers call back on (AWS_ENDPOINT_URL)."""

    def __init__(self, bind_host: str, allowed_hosts="", allowed_origins="",
                 extra_hosts: Callable[[], Iterable[str]] | None = None):
        self.allowed_hosts = split_names(allowed_hosts)
        self.allowed_origins = split_names(allowed_origins)
        bound = host_name(bind_host or "")
        address = _address(bound)
        # The bind address (or name) is what clients use to reach us; 0.0.0.0 and :: are not.
        if address is not None:
            self.bound = None if address.is_unspecified else str(address)
        else:
            self.bound = bound or None
        self._extra_hosts = extra_hosts

    # -- Host ------------------------------------------------------------------------------------

    def host_allowed(self, name: str) -> bool:
        if is_loopback(name) or name in self.allowed_hosts or "*" in self.allowed_hosts:
            return True
        address = _address(name)
        if self.bound is not None and (str(address) if address is not None else name) == self.bound:
            return True
        if any(p.startswith("*.") and name.endswith(p[1:]) for p in self.allowed_hosts):
            return True
        return name in self._runtime_hosts()

    def _runtime_hosts(self) -> tuple[str, ...]:
        names = self._extra_hosts() if self._extra_hosts else ()
        return split_names([host_name(n) for n in names if n])

    # -- Origin ----------------------------------------------------------------------------------

    def _origin(self, req) -> str | None:
        origin = req.headers.get("Origin")
        return origin.strip().lower().rstrip("/") if origin is not None else None

    def own_origin(self, req) -> bool:
        """The request comes from a page of this server itself: its Origin is the request's
        own scheme://Host (behind a TLS proxy the page is https), or the browser says so."""
        origin = self._origin(req)
        host = req.headers.get("Host", "").strip().lower()
        if origin is None:
            return req.headers.get("Sec-Fetch-Site", "").lower() == "same-origin"
        return bool(host) and origin in (f"http://{host}", f"https://{host}")

    def cross_origin_allowed(self, req) -> bool:
        origin = self._origin(req)
        return origin is not None and (origin in self.allowed_origins or "*" in self.allowed_origins)

    # -- the checks --------------------------------------------------------------------------------

    def check(self, req) -> Response | None:
        """A 403 for a request from a foreign Host name or a foreign page, else None."""
        host = req.headers.get("Host")
        if host is not None:  # HTTP/1.0 clients may omit it; browsers never do
            name = host_name(host)
            if not self.host_allowed(name):
                return refusal(ACCESS_DENIED,
                               f"Refused: Host {host!r} is not a name of this server (a DNS-rebinding "
                               f"web page would send such a request). To accept it, start batchemu "
                               f"with --allowed-hosts {name} (BATCHEMU_ALLOWED_HOSTS).")
        origin = self._origin(req)
        if origin is not None:
            if self.own_origin(req) or self.cross_origin_allowed(req):
                return None
            return refusal(ACCESS_DENIED,
                           f"Refused: a request from the web page at Origin {origin!r}, which is not "
                           f"this server's own. To let that page use this server, start batchemu "
                           f"with --allowed-origins {origin} (BATCHEMU_ALLOWED_ORIGINS).")
        fetch_site = req.headers.get("Sec-Fetch-Site", "").lower()
        if fetch_site in _CROSS_SITE:  # a page's image, script or link: no Origin sent
            return refusal(ACCESS_DENIED,
                           f"Refused: a {fetch_site} request made by another web page "
                           "(Sec-Fetch-Site). Pages that should use this server must be listed "
                           "in --allowed-origins (BATCHEMU_ALLOWED_ORIGINS).")
        return None

    def require_credentials(self, req) -> Response | None:
        """A 403 for a request with neither AWS credentials (SigV4 header or presigned query)
        nor this server's own origin: every AWS SDK signs, and a page allowed by an operator
        or served by this server is the only browser caller."""
        if has_credentials(req.headers, req.args) or self.own_origin(req) or self.cross_origin_allowed(req):
            return None
        return refusal(MISSING_TOKEN,
                       f"Refused: {req.method} {req.path} carries no AWS credentials (a SigV4 "
                       "Authorization header or a presigned X-Amz-Credential query). Call it "
                       "through an AWS SDK or the aws CLI (any access key works unless "
                       "--verify-signatures is on), or from a page listed in --allowed-origins.")

    # -- CORS for allowed origins -------------------------------------------------------------------

    def preflight(self, req) -> Response | None:
        """The answer to a CORS preflight from an allowed origin (other preflights go on, and
        check() refuses foreign ones)."""
        if req.method != "OPTIONS" or "Access-Control-Request-Method" not in req.headers:
            return None
        if not self.cross_origin_allowed(req):
            return None
        resp = Response(status=204)
        resp.headers["Access-Control-Allow-Methods"] = req.headers["Access-Control-Request-Method"]
        asked = req.headers.get("Access-Control-Request-Headers")
        if asked:
            resp.headers["Access-Control-Allow-Headers"] = asked
        resp.headers["Access-Control-Max-Age"] = "600"
        return resp

    def add_cors_headers(self, req, resp) -> None:
        if self.cross_origin_allowed(req):
            resp.headers["Access-Control-Allow-Origin"] = req.headers["Origin"].strip()
            resp.headers.setdefault("Access-Control-Expose-Headers", _EXPOSED)
            resp.headers.add("Vary", "Origin")
