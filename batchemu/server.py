"""Serve an app on a host/port with a threaded WSGI server, in the foreground or a thread."""

from __future__ import annotations

import threading

from werkzeug.serving import make_server


class Server:
    def __init__(self, app, host: str, port: int):
        self.app = app
        self._server = make_server(host, port, app, threaded=True)
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
        if self._thread:
            self._thread.join(5)
