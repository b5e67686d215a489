"""The reset routes: `POST /moto-api/reset` (what moto's own server answers, so test suites and
fixtures written for moto reset batchemu too) and `POST /batchemu/reset` (batchemu's own name
for the same thing). Both answer 200 `{"status": "ok"}` as moto does, once Batch state (jobs
stopped, their containers removed, every resource, job and log deleted) and moto's services
are reset.

Decides only whether a request is a reset and how to answer it; the reset itself is the
composition root's (`emulator.Emulator.reset`), done by the engine. Whether this server allows
one is the Emulator's rule too (an ephemeral server, or `--allow-reset`): it raises
`ResetRefused` otherwise. Both routes sit behind the app's guard like every route: a web page
(foreign Origin) or a DNS-rebinding name (foreign Host) is refused before this module sees the
request. No credentials are required: moto's harness posts without any.
"""

from __future__ import annotations

import json

from flask import Response

from batchemu.wire.endpoint import json_error
from batchemu.wire.guard import ACCESS_DENIED, FORBIDDEN

PATHS = ("/moto-api/reset", "/batchemu/reset")


class ResetRefused(Exception):
    """This server keeps durable state and was not started with --allow-reset."""


def make_frontend(reset):
    """A frontend `(request) -> Response | None` for the reset routes; `reset()` does the
    work or raises ResetRefused."""

    def frontend(req):
        if req.path.rstrip("/") not in PATHS:
            return None
        if req.method != "POST":  # a GET (a link, a prefetch) must never wipe anything
            resp = json_error(405, "ClientException", f"{req.method} is not allowed on {req.path}; use POST")
            resp.headers["Allow"] = "POST"
            return resp
        try:
            reset()
        except ResetRefused as exc:
            return json_error(FORBIDDEN, ACCESS_DENIED, str(exc))
        return Response(json.dumps({"status": "ok"}), status=200, mimetype="application/json")

    return frontend
