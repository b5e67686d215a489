"""The engine-events thread: follows the Docker engine's `die` and `oom` events for one
server's containers and hands each to the runner. The SDK ends the iteration quietly when the
connection drops, so the thread reconnects with a backoff; after every (re)connect it calls
`on_connect`, which inspects the containers the runner thinks are running so no exit is missed.

Owns the subscription only: what an event means for an attempt is the runner's (docker.py).
"""

from __future__ import annotations

import logging
import threading

from batchemu.runners.docker_create import LABEL_SERVER

log = logging.getLogger(__name__)


class EngineEvents:
    def __init__(self, client, server_id: str, on_event, on_connect):
        self._client = client
        self._server_id = server_id
        self._on_event = on_event
        self._on_connect = on_connect
        self._closing = threading.Event()
        self._connected = threading.Event()
        self.stream = None           # the current subscription (a test drops it on purpose)
        self._thread = threading.Thread(target=self._follow, name="batchemu-docker-events", daemon=True)
        self._thread.start()
        # Subscribe before anything is started, so no die event can be missed.
        self._connected.wait(timeout=10)

    def close(self) -> None:
        self._closing.set()
        stream = self.stream
        if stream is not None:
            try:
                stream.close()
            except Exception:
                pass
        self._thread.join(timeout=5)

    def _follow(self) -> None:
        backoff = 0.2
        while not self._closing.is_set():
            try:
                stream = self.stream = self._client.events(decode=True, filters={
                    "type": "container", "event": ["die", "oom"],
                    "label": f"{LABEL_SERVER}={self._server_id}"})
                if self._closing.is_set():   # close() may have looked before the line above
                    stream.close()
                    break
                self._connected.set()
                self._on_connect()
                backoff = 0.2
                for event in stream:
                    self._on_event(event)
            except Exception:
                if not self._closing.is_set():
                    log.warning("docker event stream failed; reconnecting", exc_info=True)
            if self._closing.wait(backoff):
                break
            backoff = min(backoff * 2, 5.0)
