"""The dashboard's static files over plain HTTP: served under /ui/ with a strict CSP, never
framed, no sniffing; only the files shipped in the package (no path from the request reaches
the filesystem); GET only; refused to foreign pages like every route; loadable without a
signature even with --verify-signatures (its API calls are signed, see tests/ui)."""

from __future__ import annotations

import http.client
import json
import threading

import pytest

from batchemu import ui
from batchemu.testing import running_server


def get(server, path, method="GET", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, headers={"Host": "localhost", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def server():
    with running_server(default_account="111122223333", default_region="eu-west-1") as s:
        yield s


def test_the_page_and_its_files_are_served_with_strict_headers(server):
    status, headers, body = get(server, "/ui/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert b'<script type="module" src="app.js">' in body
    csp = headers["Content-Security-Policy"]
    for rule in ("default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"):
        assert rule in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    for name, kind in (("app.js", "text/javascript"), ("sigv4.js", "text/javascript"), ("app.css", "text/css")):
        status, headers, _ = get(server, f"/ui/{name}")
        assert status == 200 and headers["Content-Type"].startswith(kind), name
        assert headers["X-Frame-Options"] == "DENY"


def test_config_names_the_servers_defaults(server):
    status, _, body = get(server, "/ui/config.json")
    assert status == 200
    assert json.loads(body) == {"defaultAccount": "111122223333", "defaultRegion": "eu-west-1",
                                "verifySignatures": False}


@pytest.mark.parametrize("path", ["/ui/nope.js", "/ui/../pyproject.toml", "/ui/%2e%2e/__init__.py",
                                  "/ui/static/app.js", "/ui/..%2F__init__.py", "/ui/__init__.py"])
def test_only_shipped_files_are_served(server, path):
    status, _, body = get(server, path)
    assert status == 404, (path, body[:200])
    assert b"import" not in body


def test_ui_without_slash_redirects_and_writes_are_refused(server):
    status, headers, _ = get(server, "/ui")
    assert status == 308 and headers["Location"].endswith("/ui/")
    status, headers, body = get(server, "/ui/app.js", method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert json.loads(body)["__type"] == "ClientException"


def test_a_foreign_page_cannot_load_or_frame_it(server):
    status, _, body = get(server, "/ui/", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "iframe"})
    assert status == 403 and json.loads(body)["__type"] == "AccessDeniedException"
    status, _, _ = get(server, "/ui/app.js", headers={"Origin": "http://evil.example"})
    assert status == 403
    status, _, _ = get(server, "/ui/", headers={"Host": "evil.example"})  # DNS rebinding
    assert status == 403


def test_the_page_loads_unsigned_but_the_api_stays_signed_with_verification():
    with running_server(verify_signatures=True, credentials="123456789012:secret") as server:
        assert get(server, "/ui/")[0] == 200
        status, _, body = get(server, "/ui/config.json")
        assert status == 200 and json.loads(body)["verifySignatures"] is True
        status, _, body = get(server, "/v1/describejobqueues", method="POST")
        assert status == 403 and json.loads(body)["__type"] == "MissingAuthenticationTokenException"
        status, _, _ = get(server, "/batchemu/events")  # the stream is data: signed too
        assert status == 403


def test_every_shipped_file_has_a_safe_name_and_a_type():
    files = ui.static_files()
    assert {"index.html", "app.js", "api.js", "sigv4.js", "dom.js", "app.css"} <= set(files)
    assert all(path.parent == ui.STATIC for path in files.values())


def test_the_server_prints_the_dashboard_address_at_start(tmp_path):
    from tests.api.test_durability import Batchemu, clean_env

    server = Batchemu(["--port", "0", "--ephemeral"], clean_env(tmp_path))
    try:
        # The line right after "listening" (read from the same buffered pipe, which may hold
        # it already; select() would not see it there).
        lines = []
        reader = threading.Thread(target=lambda: lines.append(server.proc.stdout.readline().decode()), daemon=True)
        reader.start()
        reader.join(30)
        assert lines, "no line after the listening line"
        line = lines[0]
        assert line.strip() == f"batchemu dashboard: {server.url}/ui/"
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/ui/", headers={"Host": f"127.0.0.1:{server.port}"})
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        server.kill()
