"""Serve an app on a host/port with a threaded WSGI server, in the foreground or a thread.

HTTP/1.1 with keep-alive: SDKs (boto3, the CLI, the JS SDK) reuse one connection for many
calls. Knows nothing of Batch.
"""

from __future__ import annotations

import io
import logging
import socket
import threading

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

access_log = logging.getLogger("batchemu.http")

# A request body up to this size is read before the app runs, so the connection is clean for
# the next request; a larger (or chunked, or 100-continue) request closes its connection.
MAX_BUFFERED_BODY = 16 * 1024 * 1024
# Seconds an idle keep-alive connection is kept open.
IDLE_TIMEOUT = 120


class ListenError(RuntimeError):
    """The server could not listen on the address (port in use, unknown host, ...)."""


class _OneSendWriter:
    """The handler's socket writer: while a response is being written, the status line and
    headers wait for the body and leave with it in one send. Each send is its own TCP segment
    (TCP_NODELAY) and on loopback costs the whole stack's work once more, so a response in one
    send takes less server time than headers and body apart."""

    def __init__(self, sock):
        self._sock = sock
        self._held = b""
        self.closed = False

    def hold(self, data: bytes) -> None:
        self._held += data

    def write(self, data) -> int:
        if self._held:
            data, self._held = self._held + bytes(data), b""
        self._sock.sendall(data)
        return len(data)

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, b""
            self._sock.sendall(held)

    def close(self) -> None:
        self.closed = True


class _Handler(WSGIRequestHandler):
    """werkzeug sends `Connection: close` on every response because it cannot drain an unread
    body before the next request line (and its drain loop would eat a pipelined request).
    This handler reads the body up front and serves the app from that buffer, so the socket
    is always at a request boundary after a response and the connection can stay open."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    _keep_alive = False
    _responding = False  # while werkzeug writes the app's response (see flush_headers)

    def setup(self):
        super().setup()
        # Responses go out as several small writes; without TCP_NODELAY, Nagle's algorithm
        # holds the last one until the client's delayed ACK (~40 ms per request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.wfile = _OneSendWriter(self.connection)
        self.server.track(self.connection)

    def finish(self):
        self.server.untrack(self.connection)
        super().finish()

    def run_wsgi(self):
        socket_file = self.rfile
        body = self._read_body()
        self._keep_alive = body is not None
        if body is not None:
            self.rfile = io.BytesIO(body)  # becomes wsgi.input; the drain loop reads it, not the socket
        self._responding = True
        try:
            super().run_wsgi()
        finally:
            self._responding = False
            self.rfile = socket_file
            if not self._keep_alive:
                self.close_connection = True
            try:
                self.wfile.flush()  # werkzeug flushes after each write; this is only a safeguard
            except OSError:
                self.close_connection = True

    def flush_headers(self):
        # Only a response's headers wait for its body; any other (100 Continue, an error sent
        # before the app runs) goes out at once.
        if self._responding and hasattr(self, "_headers_buffer"):
            self.wfile.hold(b"".join(self._headers_buffer))
            self._headers_buffer = []
        else:
            super().flush_headers()

    def _read_body(self) -> bytes | None:
        """The whole body, or None when it is not read up front (the connection then closes)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return None
        if self.headers.get("Expect", "").strip().lower() == "100-continue":
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if length < 0 or length > MAX_BUFFERED_BODY:
            return None
        body = self.rfile.read(length) if length else b""
        return body if len(body) == length else None

    def send_header(self, keyword, value):
        if (keyword.lower() == "connection" and value.lower() == "close"
                and self._keep_alive and not self.close_connection):
            return  # werkzeug's unconditional close; this connection stays open
        super().send_header(keyword, value)

    def log_request(self, code="-", size="-"):
        if access_log.isEnabledFor(logging.DEBUG):
            access_log.debug('%s "%s" %s %s', self.address_string(), self.requestline, code, size)

    def log_error(self, format, *args):
        if format.startswith("Request timed out"):  # an idle keep-alive connection expired
            access_log.debug(format, *args)
        else:
            super().log_error(format, *args)


class _WSGIServer(ThreadedWSGIServer):
    def __init__(self, host, port, app):
        self._connections: set = set()
        self._connections_lock = threading.Lock()
        super().__init__(host, port, app, _Handler)

    # werkzeug prints to stderr and calls sys.exit(1) when bind fails; a library must raise.
    def server_bind(self):
        try:
            super().server_bind()
        except OSError as exc:
            raise ListenError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from exc

    def server_activate(self):
        try:
            super().server_activate()
        except OSError as exc:
            raise ListenError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from exc

    def track(self, conn) -> None:
        with self._connections_lock:
            self._connections.add(conn)

    def untrack(self, conn) -> None:
        with self._connections_lock:
            self._connections.discard(conn)

    def close_connections(self) -> None:
        """End open keep-alive connections, so no client keeps talking to a stopped server."""
        with self._connections_lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Server:
    def __init__(self, app, host: str, port: int):
        self.app = app
        self._server = _WSGIServer(host, port, app)
        self.host = host
        self.port = self._server.server_port
        self._thread = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def start(self) -> "Server":
        self._thread = threading.Thread(target=self._server.serve_forever, name="batchemu-http",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        if self._thread:
            self._thread.join(5)
