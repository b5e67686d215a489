"""A fake Kubernetes API server for the runner's tests: enough of /api/v1 over real HTTP that
the real `kubernetes` client talks to it unchanged (pods: create, list with a label selector,
watch as a chunked stream of JSON lines, JSON-patch, delete, log; nodes: list). It records
every request (method, path, query, content type, body), so a test sees the request shapes
the runner sends, and lets a test push watch events, end a watch with an ERROR (410 Gone, as
an expired resourceVersion) or serve pods out of band.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_POD = re.compile(r"^/api/v1/namespaces/([^/]+)/pods(?:/([^/]+)(/log)?)?$")


class FakeKubeApi:
    def __init__(self):
        self.pods = {}               # (namespace, name) -> pod
        self.logs = {}               # (namespace, name, container) -> text
        self.nodes = []
        self.requests = []           # (method, path, query dict, content type, body)
        self.version = 1
        self.watches = queue.Queue()   # what a watch stream sends next: an event dict, or "close"
        self.watching = threading.Event()
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._handle(self, "GET")

            def do_POST(self):
                fake._handle(self, "POST")

            def do_PATCH(self):
                fake._handle(self, "PATCH")

            def do_DELETE(self):
                fake._handle(self, "DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.watches.put("close")
        self.server.shutdown()
        self.server.server_close()

    # -- what a test does --------------------------------------------------------------------

    def calls(self, method: str, path_part: str = "") -> list:
        return [r for r in self.requests if r[0] == method and path_part in r[1]]

    def set_pod(self, pod: dict, event: str | None = "MODIFIED") -> None:
        """Change a pod; with `event`, the watch stream sends it too."""
        with self.lock:
            self.version += 1
            pod["metadata"]["resourceVersion"] = str(self.version)
            self.pods[(pod["metadata"]["namespace"], pod["metadata"]["name"])] = pod
        if event:
            self.watches.put({"type": event, "object": pod})

    def expire_watch(self) -> None:
        """The watch ends with 410 Gone twice (the client retries once by itself)."""
        gone = {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                            "code": 410, "reason": "Expired", "message": "too old resource version"}}
        self.watches.put(gone)
        self.watches.put(gone)

    # -- the server ----------------------------------------------------------------------------

    def _handle(self, handler, method: str) -> None:
        parsed = urllib.parse.urlsplit(handler.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        self.requests.append((method, parsed.path, query, handler.headers.get("Content-Type"), body))
        if parsed.path == "/api/v1/nodes":
            return self._json(handler, 200, {"kind": "NodeList", "apiVersion": "v1", "metadata": {},
                                             "items": self.nodes})
        match = _POD.match(parsed.path)
        if not match:
            return self._json(handler, 404, _status(404, "NotFound", f"no route {parsed.path}"))
        namespace, name, is_log = match.groups()
        key = (namespace, name)
        if method == "GET" and name is None and query.get("watch") == "true":
            return self._watch(handler)
        if method == "GET" and name is None:
            selector = query.get("labelSelector", "")
            with self.lock:
                items = [p for (ns, _), p in self.pods.items() if ns == namespace and _selected(p, selector)]
                version = str(self.version)
            return self._json(handler, 200, {"kind": "PodList", "apiVersion": "v1",
                                             "metadata": {"resourceVersion": version}, "items": items})
        if method == "POST":
            pod = dict(body, metadata=dict(body["metadata"], namespace=namespace, uid=f"uid-{len(self.pods)}"),
                       status={"phase": "Pending"})
            self.set_pod(pod, "ADDED")
            return self._json(handler, 201, pod)
        if key not in self.pods:
            return self._json(handler, 404, _status(404, "NotFound", f'pods "{name}" not found'))
        if is_log:
            text = self.logs.get((namespace, name, query.get("container")), "")
            return self._send(handler, 200, text.encode(), "text/plain")
        if method == "PATCH":
            return self._json(handler, 200, self.pods[key])
        if method == "DELETE":
            with self.lock:
                pod = self.pods.pop(key)
            self.watches.put({"type": "DELETED", "object": pod})
            return self._json(handler, 200, pod)
        return self._json(handler, 200, self.pods[key])

    def _watch(self, handler) -> None:
        """A chunked stream of JSON lines, as the API server sends a watch, until a test closes
        it, sends an ERROR, or nothing happened for a while (the client then watches again)."""
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        self.watching.set()
        try:
            while True:
                try:
                    event = self.watches.get(timeout=2)
                except queue.Empty:
                    break
                if event == "close":
                    break
                line = json.dumps(event).encode() + b"\n"
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                handler.wfile.flush()
                if event["type"] == "ERROR":
                    break
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _json(self, handler, code: int, doc) -> None:
        self._send(handler, code, json.dumps(doc).encode(), "application/json")

    @staticmethod
    def _send(handler, code: int, data: bytes, content_type: str) -> None:
        handler.send_response(code)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


def _status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
            "message": message}


def _selected(pod: dict, selector: str) -> bool:
    labels = pod["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in (part.split("=", 1) for part in selector.split(",") if part))


def kubeconfig(path, contexts: dict, current: str) -> str:
    """A kubeconfig file with one context (and cluster of the same name) per fake server:
    {context name: (FakeKubeApi, namespace or None)}."""
    clusters = [{"name": name, "cluster": {"server": api.url}} for name, (api, _) in contexts.items()]
    entries = [{"name": name, "context": {"cluster": name, "user": "u", **({"namespace": ns} if ns else {})}}
               for name, (_, ns) in contexts.items()]
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": clusters, "contexts": entries,
                                "users": [{"name": "u", "user": {"token": "t"}}], "current-context": current}))
    return str(path)
