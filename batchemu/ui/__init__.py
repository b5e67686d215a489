"""The dashboard's frontend: GET /ui/ serves the static page (HTML, CSS, JS shipped in
batchemu/ui/static) and /ui/config.json (the server's default account and region, whether
signatures are verified). The page itself is a client of the public API: it calls Batch and
CloudWatch Logs through their SDK routes, signed with SigV4, and reads the event stream.

Owns no data and no rule: it answers no Batch or Logs question. Files are looked up by name
in a table built at start-up from the package's static directory (no request path ever
becomes a filesystem path), and every answer carries a strict Content-Security-Policy and
refuses to be framed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from flask import Response, redirect

PREFIX = "/ui/"
STATIC = Path(__file__).with_name("static")
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*\.(html|css|js|png|svg|txt)")
_TYPES = {"html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
          "js": "text/javascript; charset=utf-8", "png": "image/png", "svg": "image/svg+xml",
          "txt": "text/plain; charset=utf-8"}
# Only this server's own files and API; no inline script or style, never framed (clickjacking).
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                                "form-action 'none'; frame-ancestors 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def static_files(root: Path = STATIC) -> dict[str, Path]:
    """{file name: path} for the files the dashboard serves (flat directory, safe names only)."""
    return {p.name: p for p in sorted(root.iterdir()) if p.is_file() and _NAME.fullmatch(p.name)}


def is_public(req) -> bool:
    """A GET of the dashboard's own files: no data, so no signature is asked for even with
    --verify-signatures (a browser cannot sign the navigation that loads the page). The
    Host/Origin guard still applies."""
    return req.method in ("GET", "HEAD") and (req.path == PREFIX.rstrip("/") or req.path.startswith(PREFIX))


def make_frontend(config):
    """The frontend for /ui/ (the page) and /ui/config.json."""
    files = static_files()
    settings = json.dumps({"defaultAccount": config.default_account,
                           "defaultRegion": config.default_region,
                           "verifySignatures": bool(config.verify_signatures)})

    def answer(body, content_type, status=200):
        resp = Response(body, status=status, content_type=content_type)
        resp.headers.update(SECURITY_HEADERS)
        return resp

    def frontend(req):
        if req.path == PREFIX.rstrip("/"):
            return redirect(PREFIX, code=308)
        if not req.path.startswith(PREFIX):
            return None
        if req.method not in ("GET", "HEAD"):
            resp = answer(json.dumps({"__type": "ClientException",
                                      "message": f"{req.method} is not allowed on {req.path}; use GET"}),
                          "application/json", 405)
            resp.headers["Allow"] = "GET, HEAD"
            return resp
        name = req.path[len(PREFIX):] or "index.html"
        if name == "config.json":
            return answer(settings, "application/json")
        path = files.get(name)
        if path is None:
            return answer(json.dumps({"__type": "NotFound", "message": f"No dashboard file {name!r}"}),
                          "application/json", 404)
        return answer(path.read_bytes(), _TYPES[path.suffix[1:]])

    return frontend
