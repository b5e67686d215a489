"""The HTTP server over raw sockets (issue 12, items 7-10): requests that cannot be framed
safely are refused in JSON and their connection closed, nothing smuggled behind them runs,
idle and slow clients hold no thread and are cut off, the connection cap holds, a client that
hangs up mid-body is not a server error, and open event streams leave the API answering."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import socket
import threading
import time
import uuid

import pytest

from batchemu import events
from batchemu import server as server_module
from batchemu.config import Config
from batchemu.emulator import Emulator
from batchemu.server import ListenError, Server
from batchemu.testing import RunningServer

# SigV4-shaped, so the requests look like an SDK's (no server option checks signatures here).
AUTH = (b"Authorization: AWS4-HMAC-SHA256 Credential=AKIDTESTTESTTEST/20261207/us-east-1/batch/"
        b"aws4_request, SignedHeaders=host, Signature=" + b"0" * 64 + b"\r\n")


@contextlib.contextmanager
def serving(**options):
    """A server on a free loopback port with these Server options."""
    config = Config(ephemeral=True, port=0, runner="none")
    emulator = Emulator(config)
    try:
        emulator.start(**options)
        yield RunningServer(emulator)
    finally:
        emulator.stop()


def request(port: int, method: str, path: str, body: bytes = b"", headers: bytes = b"",
            version: bytes = b"HTTP/1.1") -> bytes:
    """One request's bytes; Content-Length is added unless `headers` frame the body."""
    framing = b"" if b"content-length" in headers.lower() or b"transfer-encoding" in headers.lower() \
        else b"Content-Length: %d\r\n" % len(body)
    return (method.encode() + b" " + path.encode() + b" " + version + b"\r\n"
            + b"Host: 127.0.0.1:%d\r\n" % port + AUTH + b"Content-Type: application/json\r\n"
            + headers + framing + b"\r\n" + body)


def create_ce(port: int, name: str) -> bytes:
    """A CreateComputeEnvironment request: if it ever runs, `name` exists."""
    body = json.dumps({"computeEnvironmentName": name, "type": "UNMANAGED"}).encode()
    return request(port, "POST", "/v1/createcomputeenvironment", body)


def read_until_closed(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection (fails if it does not)."""
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def responses(data: bytes) -> list:
    """(status, lower-cased headers, body) of each response in `data` (Content-Length framed)."""
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers["content-length"])
        out.append((int(lines[0].split()[1]), headers, rest[:length]))
        data = rest[length:]
    return out


def assert_json_error(response, status: int, words: str = ""):
    code, headers, body = response
    assert code == status
    assert headers["content-type"] == "application/json"
    assert headers["connection"].lower() == "close"
    doc = json.loads(body)
    assert doc["__type"] == headers["x-amzn-errortype"] == "ClientException"
    assert words.lower() in doc["message"].lower(), doc["message"]


def ce_exists(server, name: str) -> bool:
    return bool(server.client().describe_compute_environments(computeEnvironments=[name])["computeEnvironments"])


def exchange(port: int, data: bytes) -> list:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        return responses(read_until_closed(sock))


# -- item 8: framing, and nothing smuggled behind a refused request runs ---------------------------

def test_an_over_long_request_line_is_refused_and_the_rest_of_it_never_runs(server):
    """The old server read 64 KiB of the line, answered an HTML 414 on a kept connection and
    ran the line's tail as the next request."""
    name = f"smuggled-{uuid.uuid4().hex[:8]}"
    line_start = b"GET /" + b"a" * (65536 - 5)
    got = exchange(server.port, line_start + create_ce(server.port, name))
    assert len(got) == 1
    assert_json_error(got[0], 414, "request line is longer than 65536 bytes")
    assert not ce_exists(server, name)


def test_over_large_headers_are_refused(server):
    headers = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"v" * 1000) for i in range(80))
    got = exchange(server.port, request(server.port, "POST", "/v1/describecomputeenvironments", b"{}", headers))
    assert len(got) == 1
    assert_json_error(got[0], 431, "request line and headers exceed 65536 bytes")


FRAMINGS = {
    # name: (headers, body before the smuggled request, status, words in the message)
    "two equal Content-Lengths": (b"Content-Length: 2\r\nContent-Length: 2\r\n", b"{}", 400, "Content-Length"),
    "two different Content-Lengths": (b"Content-Length: 2\r\nContent-Length: 100\r\n", b"{}", 400, "Content-Length"),
    "a signed Content-Length": (b"Content-Length: +2\r\n", b"{}", 400, "digits only"),
    "a negative Content-Length": (b"Content-Length: -1\r\n", b"", 400, "digits only"),
    "a hex Content-Length": (b"Content-Length: 0x2\r\n", b"{}", 400, "digits only"),
    "Transfer-Encoding with Content-Length": (b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
                                             b"2\r\n{}\r\n0\r\n\r\n", 400, "Transfer-Encoding and Content-Length"),
    "Content-Length with Transfer-Encoding": (b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
                                             b"2\r\n{}\r\n0\r\n\r\n", 400, "Transfer-Encoding and Content-Length"),
    "an unknown Transfer-Encoding": (b"Transfer-Encoding: gzip, chunked\r\n", b"2\r\n{}\r\n0\r\n\r\n", 501,
                                     "Transfer-Encoding"),
}


@pytest.mark.parametrize("case", FRAMINGS, ids=list(FRAMINGS))
def test_ambiguous_framing_is_refused_and_what_follows_never_runs(server, case):
    headers, body, status, words = FRAMINGS[case]
    name = f"smuggled-{uuid.uuid4().hex[:8]}"
    data = request(server.port, "POST", "/v1/describecomputeenvironments", body, headers)
    got = exchange(server.port, data + create_ce(server.port, name))
    assert len(got) == 1
    assert_json_error(got[0], status, words)
    assert not ce_exists(server, name)


def test_transfer_encoding_in_http_1_0_is_refused(server):
    name = f"smuggled-{uuid.uuid4().hex[:8]}"
    data = request(server.port, "POST", "/v1/describecomputeenvironments", b"{}",
                   b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", version=b"HTTP/1.0")
    got = exchange(server.port, data + create_ce(server.port, name))
    assert len(got) == 1
    assert_json_error(got[0], 400, "HTTP/1.0")
    assert not ce_exists(server, name)


@pytest.mark.parametrize("data, status", [
    (b"HELLO\r\n\r\n", 400),
    (b"POST /v1/describecomputeenvironments HTTP/1.1\r\nno colon here\r\n\r\n", 400),
    (b"POST /v1/describecomputeenvironments HTTP/1.1\r\nHost: x\nContent-Length: 2\r\n\r\n{}", 400),
    (b"POST /v1/describecomputeenvironments HTTP/1.1\r\nContent-Length: 9999999999\r\n\r\n", 413),
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 400),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    (b"GET /\r\n\r\n", 400),
], ids=["no request line", "header without colon", "bare LF", "body over the limit", "HTTP/2.0",
        "HTTP/2 preface", "no version"])
def test_unframeable_requests_get_a_json_error_and_a_closed_connection(server, data, status):
    got = exchange(server.port, data)
    assert len(got) == 1
    assert_json_error(got[0], status)


def test_a_valid_request_after_a_valid_one_still_runs(server):
    """The refusals above are about framing, not pipelining: two well-framed requests on one
    connection both run (the second asks to close, so the exchange ends)."""
    name = f"pipelined-{uuid.uuid4().hex[:8]}"
    first = request(server.port, "POST", "/v1/describecomputeenvironments", b"{}")
    got = exchange(server.port, first + create_ce(server.port, name).replace(
        b"Content-Type", b"Connection: close\r\nContent-Type"))
    assert [status for status, _, _ in got] == [200, 200]
    assert ce_exists(server, name)


def test_a_response_leaves_in_one_send(monkeypatch):
    """Status line, headers and body in one send: each send is a TCP segment of its own
    (TCP_NODELAY), and on loopback a second one costs the stack's work again."""
    sends = []
    real_send = server_module._Channel.send

    def send(self, data, do_close=True):
        sends.append(bytes(data))
        return real_send(self, data, do_close)

    monkeypatch.setattr(server_module._Channel, "send", send)
    with serving() as s:
        s.client().describe_compute_environments()
        got = exchange(s.port, request(s.port, "POST", "/v1/describecomputeenvironments", b"{}",
                                       b"Connection: close\r\n"))
    assert got[0][0] == 200
    assert sends and all(data.startswith(b"HTTP/1.1 200") and data.endswith(b"]}") for data in sends)


def test_header_names_are_sent_as_written(server):
    """As AWS sends them (x-amzn-RequestId), for answers and for framing errors alike: scripts
    that copy headers into a plain dict look them up that way."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request(server.port, "POST", "/v1/describecomputeenvironments", b"{}",
                             b"Connection: close\r\n"))
        answer = read_until_closed(sock)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request(server.port, "POST", "/v1/describecomputeenvironments", b"{}",
                             b"Content-Length: +2\r\n"))
        refusal = read_until_closed(sock)
    assert b"\r\nx-amzn-RequestId: " in answer
    assert b"\r\nx-amzn-RequestId: " in refusal and b"\r\nx-amzn-ErrorType: ClientException\r\n" in refusal


def test_expect_100_continue_without_a_body_is_answered_at_once(server):
    """botocore sends an empty PutObject (Metaflow saves a task's empty log that way) with
    "Expect: 100-continue" and Content-Length: 0. waitress alone sent "100 Continue" and then
    waited for body bytes that never come, so the upload hung; RFC 9110 §10.1.1 lets a server
    skip the 100 when the framing says there is no content. A request with a body still gets
    its "100 Continue" before it sends the body."""
    s3 = server.client("s3")
    s3.create_bucket(Bucket="expect-continue")
    s3.put_object(Bucket="expect-continue", Key="empty", Body=b"")  # hung before the fix
    assert s3.get_object(Bucket="expect-continue", Key="empty")["ContentLength"] == 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request(server.port, "POST", "/v1/describecomputeenvironments", b"",
                             b"Expect: 100-continue\r\nConnection: close\r\n"))
        got = responses(read_until_closed(sock))
    assert [status for status, _, _ in got] == [200]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request(server.port, "POST", "/v1/describecomputeenvironments", b"",
                             b"Expect: 100-continue\r\nConnection: close\r\nContent-Length: 2\r\n"))
        sock.settimeout(10)
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"{}")
        got = responses(read_until_closed(sock))
    assert [status for status, _, _ in got] == [200]


# -- item 7: a client that hangs up mid-body ---------------------------------------------------------

@pytest.mark.parametrize("reset", [False, True], ids=["FIN", "RST"])
def test_a_client_hanging_up_mid_body_is_not_a_server_error(server, caplog, reset):
    caplog.set_level(logging.DEBUG)
    name = f"cut-{uuid.uuid4().hex[:8]}"
    data = create_ce(server.port, name)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(data.replace(b"Content-Length: ", b"Content-Length: 1") [:-10])  # 10+ bytes short
    time.sleep(0.2)
    if reset:  # SO_LINGER 0: the close sends RST instead of FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()
    time.sleep(0.3)
    assert not ce_exists(server, name)  # the app never saw the partial request
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert problems == [], [r.getMessage() for r in problems]


# -- item 9: idle and slow clients, the connection cap ------------------------------------------------

def test_slow_headers_are_cut_off_with_a_json_408():
    with serving(head_timeout=1.0) as s:
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as sock:
            started = time.monotonic()
            sock.sendall(b"POST /v1/describecomputeenvironments HTTP/1.1\r\n")
            sock.settimeout(0.2)
            data = b""
            with contextlib.suppress(OSError):
                while time.monotonic() - started < 8:  # a byte of header every 0.2 s: never done
                    sock.sendall(b"X")
                    with contextlib.suppress(socket.timeout):
                        chunk = sock.recv(65536)
                        if not chunk:
                            break
                        data += chunk
            elapsed = time.monotonic() - started
        assert 0.9 < elapsed < 4
        got = responses(data)
        assert len(got) == 1
        assert_json_error(got[0], 408, "did not arrive within 1 s")


def test_a_silent_connection_is_cut_off_but_an_idle_kept_alive_one_is_not():
    with serving(head_timeout=1.0) as s:
        silent = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        kept = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        describe = request(s.port, "POST", "/v1/describecomputeenvironments", b"{}")
        kept.sendall(describe)
        assert kept.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert_json_error(responses(read_until_closed(silent))[0], 408)
        assert time.monotonic() - started < 4
        time.sleep(0.5)  # well past the head deadline since its last request
        kept.sendall(describe)  # between requests the idle timeout (120 s) applies, not the head's
        assert kept.recv(65536).startswith(b"HTTP/1.1 200")
        silent.close()
        kept.close()


def test_idle_and_slow_connections_hold_no_thread():
    """The old server made one thread per connection (2,000 idle sockets, 2,014 threads)."""
    with serving(head_timeout=3.0, max_connections=600) as s:
        before = threading.active_count()
        socks = [socket.create_connection(("127.0.0.1", s.port), timeout=10) for _ in range(500)]
        try:
            for i, sock in enumerate(socks):
                if i % 2:  # half of them send half a head and stall
                    sock.sendall(b"POST /v1/describecomputeenvironments HTTP/1.1\r\nHost: x\r\n")
            assert s.client().describe_compute_environments()["computeEnvironments"] == []
            assert threading.active_count() - before < 10
            # Each one was accepted and held by the server: each gets its 408 at the deadline.
            for sock in socks:
                assert_json_error(responses(read_until_closed(sock))[0], 408)
        finally:
            for sock in socks:
                sock.close()


def test_the_connection_cap_holds_further_clients_until_one_closes():
    with serving(max_connections=3) as s:
        describe = request(s.port, "POST", "/v1/describecomputeenvironments", b"{}")
        held = [socket.create_connection(("127.0.0.1", s.port), timeout=10) for _ in range(3)]
        for sock in held:
            sock.sendall(describe)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")  # served, and kept alive
        waiting = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        waiting.sendall(describe)
        waiting.settimeout(1.0)
        with pytest.raises(socket.timeout):
            waiting.recv(65536)  # not served while three connections are open
        held.pop().close()
        waiting.settimeout(10)
        assert waiting.recv(65536).startswith(b"HTTP/1.1 200")
        for sock in held + [waiting]:
            sock.close()


# -- streaming responses ---------------------------------------------------------------------------

def open_stream(port: int) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(request(port, "GET", "/batchemu/events?account=123456789012", b"").replace(
        b"Content-Length: 0\r\n", b""))
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return sock, data


def test_open_event_streams_leave_the_api_answering(monkeypatch):
    monkeypatch.setattr(events, "KEEPALIVE_SECONDS", 0.2)  # closed streams are noticed quickly
    with serving(workers=2, max_streams=3) as s:
        streams = [open_stream(s.port) for _ in range(3)]
        for sock, head in streams:
            assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head
        batch = s.client()
        for i in range(10):  # more calls than there are workers, while every stream is open
            batch.create_compute_environment(computeEnvironmentName=f"busy{i}", type="UNMANAGED")
        assert len(batch.describe_compute_environments()["computeEnvironments"]) == 10
        # A fourth stream would take a request worker: refused in JSON, the API still answers.
        extra, data = open_stream(s.port)
        while not data.endswith(b"}"):  # the JSON answer, on a connection that stays open
            data += extra.recv(65536)
        extra.close()
        status, headers, body = responses(data)[0]
        assert status == 429 and json.loads(body)["__type"] == "TooManyRequestsException"
        assert len(batch.describe_compute_environments()["computeEnvironments"]) == 10
        # A closed stream gives its place back.
        streams.pop()[0].close()
        deadline = time.monotonic() + 10
        while True:
            sock, head = open_stream(s.port)
            if head.startswith(b"HTTP/1.1 200") or time.monotonic() > deadline:
                break
            sock.close()
            time.sleep(0.2)
        assert head.startswith(b"HTTP/1.1 200")
        streams.append((sock, head))
        for sock, _ in streams:
            sock.close()


def test_stopping_the_server_ends_open_streams():
    with serving() as s:
        sock, head = open_stream(s.port)
        assert head.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        s.server.stop()
        sock.settimeout(10)
        with contextlib.suppress(ConnectionResetError):
            while sock.recv(65536):
                pass
        assert time.monotonic() - started < 6
        sock.close()


def test_a_port_in_use_is_a_listen_error_that_leaves_nothing_running(server):
    before = threading.active_count()
    with pytest.raises(ListenError) as caught:
        Server(server.app, "127.0.0.1", server.port)
    assert caught.value.__cause__.errno == errno.EADDRINUSE  # cli.py's hint depends on it
    assert f"127.0.0.1:{server.port}" in str(caught.value)
    assert threading.active_count() <= before  # (threads of earlier tests may still be ending)
