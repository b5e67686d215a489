"""The failure-injection API (README "Failure injection"): JSON routes under /batchemu/faults
that hand an instruction to the engine (engine.faults) and answer what it did.

    POST /batchemu/faults/reclaim-spot   {"computeEnvironment"?: name|ARN, "jobId"?: id}
    POST /batchemu/faults/lose-instance  {"computeEnvironment"?, "instanceId"?, "jobId"?}
    POST /batchemu/faults/fail-pulls     {"image": "repo:tag"}
    POST /batchemu/faults/clear-pulls    {"image"?: "repo:tag"}   (every image when omitted)
    GET  /batchemu/faults                -> {"failingPulls": [{"image", "reason"}]}

Behind the same guard as every route (Host/Origin, app.py), and like the Batch API it needs AWS
credentials (a SigV4 Authorization header) and acts on the signer's account and region only.
Bad input is a 400 ClientException naming the field. Knows no Batch rule and touches no job.
"""

from __future__ import annotations

import json

from flask import Response

from batchemu.context import RequestContext
from batchemu.engine.faults import FaultError
from batchemu.wire.auth import identify
from batchemu.wire.endpoint import json_error

PREFIX = "/batchemu/faults"
# action -> (the members it takes, the members it requires)
ACTIONS = {
    "reclaim-spot": (("computeEnvironment", "jobId"), ()),
    "lose-instance": (("computeEnvironment", "instanceId", "jobId"), ()),
    "fail-pulls": (("image",), ("image",)),
    "clear-pulls": (("image",), ()),
}
MAX_BODY = 64 * 1024


def make_frontend(engine, guard, config):
    """`(request) -> Response | None` for the routes above."""

    def frontend(req):
        path = req.path.rstrip("/")
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return None
        refused = guard.require_credentials(req)
        if refused is not None:
            return refused
        caller = identify(req.headers, req.args, config.default_account, config.default_region)
        ctx = RequestContext(caller.account, caller.region)
        faults = engine.scheduler.faults
        if path == PREFIX:
            if req.method != "GET":
                return _not_allowed(req, "GET")
            return _json({"failingPulls": faults.failing_pulls(ctx)})
        action = path[len(PREFIX) + 1:]
        if action not in ACTIONS:
            return json_error(404, "UnknownOperationException",
                              f"No fault {action!r}; use one of {', '.join(ACTIONS)}")
        if req.method != "POST":
            return _not_allowed(req, "POST")
        try:
            args = _body(req, *ACTIONS[action])
            if action == "fail-pulls":
                return _json(faults.fail_pulls(ctx, args["image"]))
            if action == "clear-pulls":
                return _json({"cleared": faults.clear_pulls(ctx, args.get("image"))})
            if action == "reclaim-spot" and len(args) > 1:
                raise FaultError("give at most one of computeEnvironment and jobId")
            return _json(engine.fault(ctx, action, **args))
        except FaultError as exc:
            return json_error(400, "ClientException", str(exc))

    return frontend


def _body(req, allowed: tuple, required: tuple) -> dict:
    raw = req.get_data(cache=True, parse_form_data=False)[:MAX_BODY + 1]
    if len(raw) > MAX_BODY:
        raise FaultError(f"the request body must be at most {MAX_BODY} bytes")
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise FaultError("the request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise FaultError("the request body must be a JSON object")
    for key, value in body.items():
        if key not in allowed:
            raise FaultError(f"unknown member {key!r}; this fault takes {', '.join(allowed)}")
        if not isinstance(value, str) or not value or len(value) > 1024:
            raise FaultError(f"{key} must be a non-empty string of at most 1024 characters")
    for key in required:
        if key not in body:
            raise FaultError(f"{key} is required")
    return body


def _json(payload: dict) -> Response:
    return Response(json.dumps(payload), status=200, mimetype="application/json")


def _not_allowed(req, allowed: str) -> Response:
    resp = json_error(405, "ClientException", f"{req.method} is not allowed on {req.path}; use {allowed}")
    resp.headers["Allow"] = allowed
    return resp
