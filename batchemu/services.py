"""Every non-Batch AWS call (S3, SQS, SNS, DynamoDB, EventBridge, IAM, STS, ...) on the same
endpoint, answered by moto's in-process backends through moto's own dispatcher. Decides only
*whether* a request is moto's, and in which account; moto does the routing. Moto state lives in
memory only, so before moto's first request for a service the callbacks registered for it run
(before_first_request: the composition root puts compute environments' ECS clusters back and
hands CloudFormation's Batch resources to batchemu). (The environment that points jobs back
here is job_endpoint.py's.)
Must not answer Batch or Logs requests (those frontends come first in app.py).
"""

from __future__ import annotations

import io
import json
import threading
import uuid

from botocore.model import OperationNotFoundError
from flask import Response, request

from batchemu.wire.auth import identify

_lock = threading.Lock()
_dispatcher = None
_hooks_lock = threading.Lock()
_first_request_hooks: dict[str, list] = {}  # moto service name -> callbacks not run yet
_served: set[str] = set()  # the services that have had a request in this process


def moto_dispatcher():
    """moto's DomainDispatcherApplication, imported on first use: importing moto takes about a
    second and ~20 MB, more than the rest of start-up, which a Batch-only server never pays."""
    global _dispatcher
    with _lock:
        if _dispatcher is None:
            # lazy for start-up time (see the docstring)
            from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

            _fix_moto()

            def create_app(service):
                app = create_backend_app(service)
                # moto's Flask apps answer an unknown path or method with werkzeug's HTML page.
                app.register_error_handler(404, _json_http_error)
                app.register_error_handler(405, _json_http_error)
                if service == "s3":
                    app.before_request(_keep_raw_body)
                return app

            _dispatcher = DomainDispatcherApplication(create_app)
    return _dispatcher


def before_first_request(service: str, callback):
    """Run `callback()` before moto answers the first request for `service` (moto's name:
    "ecs", "cloudformation") in this process, or now if one came already. Used to put back
    state moto lost (it keeps state in memory only) without importing that part of moto until
    someone asks for it. Returns a function that unregisters the callback (a stopped server's
    must not run later)."""
    with _hooks_lock:
        if service not in _served:
            _first_request_hooks.setdefault(service, []).append(callback)
            return lambda: _forget_hook(service, callback)
    callback()
    return lambda: None


def _forget_hook(service: str, callback) -> None:
    with _hooks_lock:
        waiting = _first_request_hooks.get(service, [])
        if callback in waiting:
            waiting.remove(callback)


def prepare(service: str) -> None:
    """Run the hooks of `service` now, as its first request would (once per process): for state
    that must be back in moto before anyone asks for it (a kept function a rule invokes)."""
    moto_dispatcher()
    _before_request(service)


def _before_request(service: str) -> None:
    """The hooks of `service`, once; a concurrent first request waits until they have run."""
    if service in _served:
        return
    with _hooks_lock:
        if service in _served:
            return
        _served.add(service)
        for callback in _first_request_hooks.pop(service, []):
            callback()


def moto_loaded() -> bool:
    """True once any request reached moto: before that no moto resource can exist."""
    return _dispatcher is not None


def reset_moto() -> None:
    """Every moto backend back to empty (what moto's own POST /moto-api/reset does); nothing to
    do when no request ever reached moto."""
    if _dispatcher is None:
        return
    from moto.moto_api._internal.models import moto_api_backend  # lazy for start-up time (moto_dispatcher)

    moto_api_backend.reset()


def _fix_moto() -> None:
    """moto 5.2's default EventBridge target input drops `account` and reorders the envelope;
    EventBridge delivers the whole event unchanged (ref §14.1), so put every field back in
    AWS's order. `<time>` stays unquoted: moto passes a number and formats it per target."""
    from moto.events.utils import EventTemplateParser  # lazy for start-up time (moto_dispatcher)

    EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = (
        '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", '
        '"account": "<account>", "time": <time>, "region": "<region>", "resources": <resources>, '
        '"detail": <detail>}')


def _keep_raw_body() -> None:
    """Read the body before anything parses it as a form: an object PUT with a form content
    type (`curl -X PUT --data-binary @f "$PRESIGNED_URL"`) would otherwise be stored empty,
    as moto reads `request.data`. Form uploads still parse, from these cached bytes."""
    request.get_data(cache=True, parse_form_data=False)


def _json_error(status: int, code: str, message: str) -> Response:
    resp = Response(json.dumps({"__type": code, "message": message}), status=status,
                    mimetype="application/json")
    resp.headers["x-amzn-ErrorType"] = code
    resp.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return resp


def _json_http_error(exc):
    code = "UnknownOperationException" if exc.code == 404 else "MethodNotAllowed"
    return _json_error(exc.code, code, f"No operation matches {request.method} {request.path}")


def make_frontend(config):
    """A frontend `(request) -> Response | None`: requests signed for any service but Batch,
    and unsigned requests moto recognises (X-Amz-Target, Action=...), go to moto in the
    caller's account (batchemu's rule: a 12-digit access key id is the account)."""

    def frontend(req):
        caller = identify(req.headers, req.args, config.default_account, config.default_region)
        if caller.service == "batch":
            return None  # Batch's even when no Batch route matched: app.py answers 404/405
        req.get_data(cache=True)  # before anything parses a form, so moto sees the raw body
        account = caller.account
        s3_key = _s3_access_key(req) if caller.service is None else None
        if s3_key is not None and _is_account(s3_key):
            account = s3_key
        environ = _environ(req, account)
        dispatcher = moto_dispatcher()
        host = dispatcher.infer_service_region_host(environ, req.path)
        if host is None:
            if caller.service is None and s3_key is None:
                return None  # unsigned and unrecognisable (moto would guess S3): app.py's JSON 404
        elif dispatcher.get_backend_for_host(host) is None:
            service = caller.service or host.split(".")[0]
            return _json_error(501, "NotImplemented", f"service {service!r} is not emulated")
        else:
            _before_request(host.split(".")[0])
        try:
            response = Response.force_type(dispatcher, environ)
        except OperationNotFoundError as exc:  # an action the service's model lacks (moto 5.2.1)
            return _json_error(400, "InvalidAction", f"unknown action {exc}")
        except NotImplementedError as exc:
            # moto raises this for operations it lacks; 501 because SDKs do not retry it.
            return _json_error(501, "NotImplemented", f"not emulated by moto: {exc}")
        if response.status_code == 404 and not response.get_data():
            # Newer moto (5.2.6) answers an action its model lacks with an empty HTML 404.
            action = req.values.get("Action")
            if action:
                return _json_error(400, "InvalidAction", f"unknown action {action}")
            return _json_error(404, "UnknownOperationException", f"No operation matches {req.method} {req.path}")
        return response

    return frontend


def _s3_access_key(req) -> str | None:
    """The access key of an S3 request whose credentials are where wire.auth does not look:
    SigV2 (`Authorization: AWS key:sig`, or a presigned URL's AWSAccessKeyId, which boto3's
    generate_presigned_url makes by default) and browser POST uploads (the policy form's
    x-amz-credential or AWSAccessKeyId field). moto takes all of these for S3."""
    auth = req.headers.get("Authorization", "")
    if auth.startswith("AWS "):
        return auth[4:].split(":", 1)[0].strip()
    if "AWSAccessKeyId" in req.args:
        return req.args["AWSAccessKeyId"]
    if req.method == "POST" and req.mimetype == "multipart/form-data":
        form = {k.lower(): v for k, v in req.form.items()}
        if "policy" in form:
            credential = form.get("x-amz-credential")
            return credential.split("/", 1)[0] if credential else form.get("awsaccesskeyid")
    return None


def _is_account(key: str) -> bool:
    return len(key) == 12 and key.isdigit()  # batchemu's rule, as in wire.auth


def _environ(req, account: str) -> dict:
    """A WSGI environ for moto: the body as a fresh stream (earlier frontends may have read
    it), and the account in the header moto honours (moto/core/responses.py)."""
    body = req.get_data(cache=True)
    environ = dict(req.environ)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ["HTTP_X_MOTO_ACCOUNT_ID"] = account
    return environ
