"""A stub HTTP server that answers every request at once with a recorded response body: the
"client floor", i.e. what the same boto3 calls cost when the server does no work at all.

    python3 -m bench.stub PORT RESPONSES.json    # {"<path>|<nextToken or ''>": "<body>", ...}

HTTP/1.1 keep-alive with TCP_NODELAY, like batchemu's server. Knows nothing of Batch.
"""

from __future__ import annotations

import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_handler(responses: dict):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                token = (json.loads(raw or b"{}") or {}).get("nextToken") or ""
            except ValueError:
                token = ""
            body = responses.get(f"{self.path}|{token}", "{}").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


def main(argv=None) -> int:
    port, path = (argv or sys.argv[1:])[:2]
    with open(path) as f:
        responses = json.load(f)
    ThreadingHTTPServer(("127.0.0.1", int(port)), make_handler(responses)).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
