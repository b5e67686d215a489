"""Serve a WSGI app over HTTP/1.1 with waitress, in the foreground or in a thread.

Owns the HTTP connection: framing, limits, timeouts, keep-alive, and the JSON error answered
when a request cannot be framed (nothing of it reaches the app). Knows nothing of Batch; the
app owns everything about a request that was framed.

Why waitress, not cheroot (both judged 2026-12-07, waitress 3.0, cheroot 11.1; figures from
`python3 -m bench.http_server`):
- Idle and slow clients: waitress reads every request, body included, on one event loop and
  hands a worker only a complete request, so idle sockets, slow headers, slow bodies and a
  client that hangs up mid-body hold no thread and never reach the app. cheroot gives each
  new connection to a pool worker that blocks reading its request line: a few idle or
  slowloris sockets stall the whole pool until its socket timeout.
- Limits: waitress caps open connections, head and body size; cheroot has no connection cap.
- Framing: waitress refuses a Content-Length that is not all digits and duplicated ones (it
  joins them into "5, 5"); cheroot takes `int()` of the last one, so `+5` and a second,
  differing length pass. Both leave Transfer-Encoding + Content-Length to us (done below).
- Extension points: waitress's error answer is a class attribute (`error_task_class`), so JSON
  errors need no patch; cheroot writes its plain-text errors from inside the request reader.
- Speed (bench/README.md, "The HTTP server alone"): per kept-alive DescribeComputeEnvironments
  over loopback, against the werkzeug server this replaces, waitress 1.02-1.07x p50 and
  1.04-1.15x server CPU, cheroot 1.13-1.28x and 1.15-1.36x (three runs with both; over five
  runs waitress reached 1.21x and 1.47x on this shared machine). Both pay a thread hand-off
  per request that the thread-per-connection server did not: the price of idle clients
  holding no thread.

What this module adds to waitress: JSON errors; refusing Transfer-Encoding with
Content-Length, Transfer-Encoding in HTTP/1.0 and versions other than 1.0/1.1; no "100
Continue" for a request without a body (waitress would then wait forever); 414 for an
over-long request line; a deadline for a request's head; a lingering close, so an error
answer is not lost to a reset; responses that leave in one send, with header names as the app
wrote them; a bound on streaming responses (each holds a worker while it lasts); and a stop
that ends every open connection.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask
from waitress.utilities import Error, RequestHeaderFieldsTooLarge

from batchemu.config import Config
from batchemu.wire import restjson

access_log = logging.getLogger("batchemu.http")

# Request line and headers together (http.server's request-line limit was the same).
MAX_HEAD_BYTES = 64 * 1024
# A larger body is refused before it is read. Batch and Logs requests are far smaller; this is
# for objects PUT to the emulated S3 in one piece (bodies over 512 KiB wait in a temp file).
MAX_BODY_BYTES = 1024 ** 3
# Seconds a client has to send a request's line and headers, from its first byte (or from
# connecting, for a connection's first request). Slow-header clients are cut off then.
HEAD_TIMEOUT = 10.0
# Seconds an idle keep-alive connection (or one stalled mid-body) is kept open.
IDLE_TIMEOUT = 120.0
# Seconds a connection the server closes keeps reading (and dropping) what the client still
# sends, so a response is not destroyed by the RST that closing over unread data causes.
LINGER_SECONDS = 2.0
# Open connections served at once; more wait in the listen backlog until one closes
# (--max-connections; the default is Config's).
MAX_CONNECTIONS = Config.max_connections
# Workers for ordinary requests, and how many streaming responses (text/event-stream) may be
# open besides them: a stream holds its worker while it lasts, so streams get workers of their
# own and never take the ones requests need.
WORKERS = 8
MAX_STREAMS = 16


class ListenError(RuntimeError):
    """The server could not listen on the address (port in use, unknown host, ...)."""


# -- framing ---------------------------------------------------------------------------------------

class _UriTooLong(Error):
    code = 414
    reason = "URI Too Long"


class _HeadTimeout(Error):
    code = 408
    reason = "Request Timeout"


class _Parser(HTTPRequestParser):
    """waitress's parser, stricter where a proxy in front could frame a request differently
    from us (request smuggling): a body is framed by exactly one of Transfer-Encoding or
    Content-Length, and Content-Length is one run of digits."""

    def received(self, data):
        consumed = super().received(data)
        if isinstance(self.error, RequestHeaderFieldsTooLarge):
            # The request line alone is over the limit: say so (414), not "headers".
            if b"\n" not in (self.header_plus + data)[:MAX_HEAD_BYTES]:
                self.error = _UriTooLong(f"the request line is longer than {MAX_HEAD_BYTES} bytes")
            else:
                self.error.body = f"the request line and headers exceed {MAX_HEAD_BYTES} bytes"
        return consumed

    def parse_header(self, header_plus):
        try:
            super().parse_header(header_plus)
        except ParsingError:
            length = self.headers.get("CONTENT_LENGTH")
            if length is not None and not (length.isascii() and length.isdigit()):
                # Repeated headers arrive joined by ", ", so "5, 5" is two Content-Lengths.
                raise ParsingError(f"Content-Length must be one number of bytes (digits only), "
                                   f"got {length!r}") from None
            raise
        if self.version not in ("1.0", "1.1"):  # waitress would answer "HTTP/2.0" as 1.0
            raise ParsingError(f"HTTP version {self.version or '(none)'!s} is not served; use HTTP/1.1")
        # waitress takes chunked over Content-Length (1.1) or ignores Transfer-Encoding (1.0);
        # either way one side of a proxy could read the body differently: refuse both.
        if self.chunked and "CONTENT_LENGTH" in self.headers:
            raise ParsingError("Transfer-Encoding and Content-Length must not both be sent")
        if "TRANSFER_ENCODING" in self.headers:
            raise ParsingError("Transfer-Encoding is not allowed in an HTTP/1.0 request")
        if self.expect_continue and self.body_rcv is None:
            # No body to wait for (Content-Length: 0, as botocore sends for an empty PutObject
            # with "Expect: 100-continue"): answer at once. waitress 3.0.2 would send
            # "100 Continue" and then mark the complete request incomplete, waiting for body
            # bytes that never come (the client hangs). RFC 9110 §10.1.1: a server MAY omit the
            # 100 response "if the framing indicates that there is no content".
            self.expect_continue = False


class _AppHeaderNames:
    """Response header names as the app wrote them. waitress capitalizes each one
    (x-amzn-RequestId becomes X-Amzn-Requestid); AWS sends them as batchemu writes them, and
    scripts that copy headers into a plain dict look them up that way."""

    def build_response_header(self):
        renamed = {}
        for name, _ in self.response_headers:
            capitalized = "-".join(part.capitalize() for part in name.split("-"))  # waitress's rule
            if capitalized != name:
                renamed[capitalized] = name
        head = super().build_response_header()
        for capitalized, name in renamed.items():
            head = head.replace(f"\r\n{capitalized}:".encode("latin-1"), f"\r\n{name}:".encode("latin-1"), 1)
        return head


class _ErrorTask(_AppHeaderNames, ErrorTask):
    """A request that could not be framed: answered in JSON like every other error of the
    API, and the connection closes (its next bytes cannot be trusted to start a request)."""

    def execute(self):
        error = self.request.error
        code = "ServerException" if error.code == 500 else "ClientException"
        body = restjson.error_body(code, f"{error.reason}: {error.body}")
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend([("Content-Type", restjson.JSON), ("x-amzn-ErrorType", code),
                                      ("x-amzn-RequestId", str(uuid.uuid4()))])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Task(_AppHeaderNames, WSGITask):
    """One request through the app. Its status line and headers wait for the body's first
    bytes and leave with them in one send: each send is its own TCP segment (TCP_NODELAY) and
    on loopback costs the whole stack's work once more."""

    def build_response_header(self):
        self.channel.held_head = super().build_response_header()
        # Logged before the response leaves, so a client that saw it finds it in the log.
        if access_log.isEnabledFor(logging.DEBUG):
            size = "-" if self.content_length is None else self.content_length
            access_log.debug('%s "%s" %s %s', self.channel.addr[0], self.request.first_line.decode("latin-1"),
                             self.status.split(" ", 1)[0], size)
        return b""  # write_soon(b"") sends nothing; _Channel.write_soon prepends the head to the body

    def finish(self):
        super().finish()
        head, self.channel.held_head = self.channel.held_head, b""
        if head:  # a response without body bytes (204, HEAD, empty)
            self.channel.write_soon(head)


class _Channel(HTTPChannel):
    task_class = _Task
    error_task_class = _ErrorTask
    parser_class = _Parser

    def __init__(self, server, sock, addr, adj, map=None):
        self.held_head = b""
        self.lingering_until: float | None = None
        super().__init__(server, sock, addr, adj, map)
        # When the head now being received began; a new connection owes its first one at once.
        self.head_started: float | None = self.creation_time

    # A connection the server ends (an error, `Connection: close`, idle) first stops sending
    # (FIN) and reads until the client closes too or LINGER_SECONDS pass: closing a socket with
    # unread bytes (the rest of a refused request) sends an RST, and the client's kernel then
    # drops the response it had not read yet.
    def handle_close(self):
        if self.lingering_until is None and self.will_close and self.connected:
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            else:
                self.lingering_until = time.time() + LINGER_SECONDS
                return
        self.close_now()

    def close_now(self):
        super().handle_close()

    def readable(self):
        return self.lingering_until is not None or super().readable()

    def writable(self):
        return self.lingering_until is None and super().writable()

    def handle_read(self):
        if self.lingering_until is None:
            super().handle_read()
            return
        try:
            self.recv(self.adj.recv_bytes)  # dropped; the client's close ends the connection
        except OSError:
            self.close_now()

    def write_soon(self, data):
        if self.held_head and data:
            head, self.held_head = self.held_head, b""
            if isinstance(data, (bytes, bytearray, memoryview)):
                data = head + bytes(data)
            else:  # a file (wsgi.file_wrapper) goes out from its own buffer, after the head
                super().write_soon(head)
        return super().write_soon(data)

    def received(self, data):
        result = super().received(data)
        pending = self.request  # a request whose head or body is still arriving
        if pending is None or pending.headers_finished:
            self.head_started = None
        elif self.head_started is None:
            self.head_started = time.time()
        return result

    def time_out_head(self) -> None:
        """Answer 408 in place of the head that did not arrive in time, then close."""
        with self.requests_lock:
            if self.requests or self.will_close or self.close_when_flushed:
                return  # a response is under way; the deadline is checked again later
            late = self.parser_class(self.adj)
            late.parse_header(b"GET / HTTP/1.1\r\n")
            late.error = _HeadTimeout(f"the request line and headers did not arrive within "
                                      f"{self.server.head_timeout:g} s")
            late.completed = True
            self.request = None
            self.head_started = None
            self.requests.append(late)
            self.server.add_task(self)


class _WSGIServer(TcpWSGIServer):
    channel_class = _Channel

    def __init__(self, app, *, head_timeout: float, **kwargs):
        self.head_timeout = head_timeout
        super().__init__(app, **kwargs)

    def bind_server_socket(self):
        try:
            super().bind_server_socket()
        except OSError as exc:
            self.close()  # the socket and the trigger's pipe, made before binding
            host, port = self.sockinfo[3][:2]
            raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc

    def maintenance(self, now):
        super().maintenance(now)  # idle connections (IDLE_TIMEOUT)
        cutoff = now - self.head_timeout
        for channel in list(self.active_channels.values()):
            if channel.lingering_until is not None:
                if channel.lingering_until < now:
                    channel.close_now()
            elif channel.head_started is not None and channel.head_started < cutoff:
                channel.time_out_head()

    def close_channels(self) -> None:
        for channel in list(self.active_channels.values()):
            channel.close_now()


# -- streaming responses -----------------------------------------------------------------------------

class _StreamSlots:
    """WSGI middleware: at most `slots` text/event-stream responses at once, so open streams
    (each holding a worker until its client leaves) never leave requests without one."""

    def __init__(self, app, slots: int):
        self.app = app
        self.slots = slots
        self._free = threading.BoundedSemaphore(slots)

    def __call__(self, environ, start_response):
        held = []

        def start(status, headers, exc_info=None):
            if any(k.lower() == "content-type" and v.startswith("text/event-stream") for k, v in headers):
                if not self._free.acquire(blocking=False):
                    held.append(None)  # refused: answered below instead
                    return lambda data: None
                held.append(True)
            return start_response(status, headers, exc_info)

        body = self.app(environ, start_response=start)
        if held == [None]:
            if hasattr(body, "close"):
                body.close()
            payload = restjson.error_body("TooManyRequestsException",
                                          f"{self.slots} event streams are open, the most this "
                                          f"server serves at once; close one and retry")
            start_response("429 Too Many Requests", [
                ("Content-Type", restjson.JSON), ("Content-Length", str(len(payload))),
                ("x-amzn-ErrorType", "TooManyRequestsException"), ("Retry-After", "5"),
                ("x-amzn-RequestId", str(uuid.uuid4()))])
            return [payload]
        return _Released(body, self._free) if held else body


class _Released:
    """A response body that gives its stream slot back when the server closes it."""

    def __init__(self, body, slot):
        self._body = body
        self._slot = slot

    def __iter__(self):
        return iter(self._body)

    def close(self):
        try:
            if hasattr(self._body, "close"):
                self._body.close()
        finally:
            if self._slot is not None:
                self._slot, slot = None, self._slot
                slot.release()


# -- the server --------------------------------------------------------------------------------------

def _address(host: str, port: int):
    """The first address `host` resolves to: IPv6 only for a literal IPv6 host, as before."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        info = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    family, socktype, proto, _, sockaddr = info[0]
    return family, socktype, proto, sockaddr


class Server:
    """`Server(app, host, port)`: bound at once (`.port` is the real port when 0 was asked);
    `.serve_forever()` in the foreground or `.start()` in a thread; `.stop()` closes the
    listening socket and every open connection."""

    def __init__(self, app, host: str, port: int, *, max_connections: int = MAX_CONNECTIONS,
                 head_timeout: float = HEAD_TIMEOUT, idle_timeout: float = IDLE_TIMEOUT,
                 workers: int = WORKERS, max_streams: int = MAX_STREAMS):
        self.app = app
        self.host = host
        # How often deadlines are checked (and the longest the event loop sleeps).
        self._tick = min(1.0, head_timeout / 4)
        adj = Adjustments(
            threads=workers + max_streams,
            # waitress counts its listening socket and its wake-up pipe as connections.
            connection_limit=max_connections + 2,
            channel_timeout=idle_timeout, cleanup_interval=self._tick, asyncore_loop_timeout=self._tick,
            max_request_header_size=MAX_HEAD_BYTES, max_request_body_size=MAX_BODY_BYTES,
            asyncore_use_poll=True,  # select() fails on descriptors >= 1024
            clear_untrusted_proxy_headers=False,  # the app sees the headers that were sent
            log_socket_errors=False,  # a client that hangs up is not a server error
            ident="batchemu")
        # waitress's default too, set here because it matters: without it Nagle's algorithm
        # holds a response's last segment until the client's delayed ACK, ~40 ms per request.
        adj.socket_options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        self._map: dict = {}
        self._dispatcher = ThreadedTaskDispatcher()
        self._server = _WSGIServer(_StreamSlots(app, max_streams), map=self._map, adj=adj,
                                   sockinfo=_address(host, port), dispatcher=self._dispatcher,
                                   head_timeout=head_timeout, _start=False)
        try:
            self._server.accept_connections()
        except OSError as exc:
            self._server.close()
            raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        self._dispatcher.set_thread_count(adj.threads)
        self.port = int(self._server.effective_port)
        self._stopping = False
        self._closed = False
        self._close_lock = threading.Lock()  # the wake-up pipe is never written once closed
        self._thread = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve_forever(self) -> None:
        try:
            while not self._stopping and self._map:
                wasyncore.loop(timeout=self._tick, map=self._map, use_poll=True, count=1)
        finally:
            self._close()  # in the loop's own thread: nothing else touches the sockets meanwhile

    def _close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._server.close_channels()
            self._server.close()  # the listening socket and the wake-up pipe
            self._dispatcher.set_thread_count(0)  # workers end after their current request

    def start(self) -> "Server":
        self._thread = threading.Thread(target=self.serve_forever, name="batchemu-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        if self._thread is None:
            self._close()  # never served
            return
        with self._close_lock:
            if not self._closed:
                self._server.pull_trigger()  # wake the loop now rather than at its next tick
        self._thread.join(5)
