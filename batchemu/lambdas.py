"""Lambda functions that really run, in Docker, and call back into this server.

moto's Lambda runs a function's code in a container of a runtime image (`<image>:<runtime>`,
e.g. `batchemu/lambda:python3.12`) with the handler and the event as the command, the code in a
volume at /var/task, and reads the result from the last line of the output. `install()` (called
before moto's first Lambda request) completes it for a local server:

- the runtime image defaults to `batchemu/lambda`, built from Debian packages by
  scripts/build-lambda-image.sh (MOTO_DOCKER_LAMBDA_IMAGE still chooses another);
- the container joins the jobs' network (`--job-network`: the host's by default) and its
  AWS_ENDPOINT_URL is the address jobs use to reach this server (the JobEndpoint's URL), so
  boto3 in the function needs no endpoint in its code;
- its credentials name the function's account (batchemu's rule: a 12-digit access key is the
  account), so what the function creates lands where the function lives;
- each invocation's output is a stream of /aws/lambda/<function> in this server's CloudWatch
  Logs (moto would keep it in its own Logs backend, which this endpoint does not serve);
- invocations run on this module's worker threads, never a request thread: S3 notifications
  and `Invoke` with InvocationType Event return at once (AWS invokes those asynchronously),
  a RequestResponse `Invoke` waits for its worker.

Knows nothing of Batch. Must not change moto's code on disk: it wraps at runtime.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
import types
import uuid
from urllib.parse import urlsplit

from batchemu.store.logs import LogTables

log = logging.getLogger("batchemu.lambdas")

DEFAULT_IMAGE = "batchemu/lambda"
WORKERS = 4  # invocations at a time; more wait their turn (each is a container)


class Runtime:
    """Where this server's functions run: `url()` is how a container reaches the server (None
    until it listens), `network` the Docker network the jobs use, `secret` the secret handed
    to a function of an account (the same as the jobs get); with a `store`, each invocation's
    log goes to this server's CloudWatch Logs (/aws/lambda/<function>), as on AWS."""

    def __init__(self, url, network: str, secret, store=None, clock=None):
        self.url = url
        self.network = network
        self.secret = secret
        self.logs = LogTables(store) if store is not None else None
        self.clock = clock

    def save_log(self, function, output: str) -> None:
        """One invocation's output as a new stream of the function's group, without its last
        line (the function's answer, which moto reads there; AWS does not log it)."""
        lines = output.splitlines()
        lines = lines[:-1] if len(lines) > 1 else lines  # a lone line is moto's Docker error
        now = int(self.clock())
        group = f"/aws/lambda/{function.function_name}"
        stream = time.strftime("%Y/%m/%d/", time.gmtime(now / 1000)) + f"[{function.version}]{uuid.uuid4().hex}"
        account, region = function.account_id, function.region
        with self.logs.store.transaction():
            self.logs.create_group(account, region, group, now)
            self.logs.create_stream(account, region, group, stream, now)
        self.logs.append(account, region, group, stream, [(now, line) for line in lines], now)


_runtimes: list[Runtime] = []
_patched = False
_patch_lock = threading.Lock()
_pool: concurrent.futures.ThreadPoolExecutor | None = None


def install(runtime: Runtime) -> Runtime:
    _runtimes.append(runtime)
    _patch_moto()
    return runtime


def uninstall(runtime: Runtime) -> None:
    if runtime in _runtimes:
        _runtimes.remove(runtime)


def _current() -> Runtime | None:
    return _runtimes[-1] if _runtimes else None


def _workers() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _patch_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(WORKERS, thread_name_prefix="batchemu-lambda")
        return _pool


def _patch_moto() -> None:
    global _patched
    with _patch_lock:
        if _patched:
            return
        # lazy for start-up time: moto's Lambda and S3 load on their first request
        from moto import settings  # lazy (above)
        from moto.awslambda import models  # lazy (above)
        from moto.s3 import notifications  # lazy (above)

        models.settings = _settings(settings)
        run_container = models.LambdaFunction._invoke_lambda
        invoke = models.LambdaFunction.invoke
        notify = notifications._invoke_awslambda

        save_logs = models.LambdaFunction.save_logs

        def _invoke_lambda(self, event=None):
            return run_container(_as_account(self), event)

        def save_to_our_logs(self, output):
            runtime = _current()
            if runtime is None or runtime.logs is None:
                return save_logs(self, output)
            return runtime.save_log(self, output)

        def invoke_on_worker(self, body, request_headers, response_headers):
            future = _workers().submit(invoke, self, body, request_headers, response_headers)
            if (request_headers or {}).get("x-amz-invocation-type") in ("Event", "DryRun"):
                future.add_done_callback(_log_failure)
                return b""
            return future.result()

        def notify_later(account_id, event_body, fn_arn, region_name):
            # S3 invokes its notification targets asynchronously: the PUT does not wait.
            _workers().submit(notify, account_id, event_body, fn_arn, region_name).add_done_callback(_log_failure)

        models.LambdaFunction._invoke_lambda = _invoke_lambda
        models.LambdaFunction.save_logs = save_to_our_logs
        models.LambdaFunction.invoke = invoke_on_worker
        notifications._invoke_awslambda = notify_later
        _patched = True


def invoke_async(account: str, region: str, function_arn: str, payload: str) -> None:
    """Invoke a function the way AWS services do (InvocationType Event): queued on the worker
    threads, returning at once; a missing function or a failure is only logged. For callers
    that deliver events to Lambda targets (an EventBridge rule's, ...). moto must be loaded."""
    # lazy for start-up time: moto's Lambda is loaded by whoever created the function
    from moto.awslambda.utils import get_backend  # lazy (above)

    def invoke():
        function = get_backend(account, region).get_function(function_arn)
        function.invoke(payload, {"x-amz-invocation-type": "Event"}, {})

    _workers().submit(invoke).add_done_callback(_log_failure)


def _log_failure(future) -> None:
    if future.exception() is not None:
        log.warning("an asynchronous Lambda invocation failed: %s", future.exception())


def _as_account(function):
    """A shallow copy of moto's function whose environment names its account: moto writes its
    own test keys first and the function's variables over them."""
    runtime = _current()
    proxy = object.__new__(type(function))  # not copy.copy: moto's __getstate__ drops its Docker client
    proxy.__dict__.update(function.__dict__)
    # Lambda sets AWS_DEFAULT_REGION beside AWS_REGION (boto3 reads only the former); moto
    # sets only AWS_REGION.
    identity = {"AWS_ACCESS_KEY_ID": function.account_id, "AWS_SESSION_TOKEN": "",
                "AWS_DEFAULT_REGION": function.region}
    if runtime is not None:
        identity["AWS_SECRET_ACCESS_KEY"] = runtime.secret(function.account_id)
    proxy.environment_vars = {**identity, **(function.environment_vars or {})}
    return proxy


def _settings(settings):
    """moto.settings as moto's Lambda reads it, with this server's answers for where the
    server is, which network and which image; every other setting is moto's."""
    proxy = types.SimpleNamespace(**{name: getattr(settings, name) for name in dir(settings)
                                     if not name.startswith("__")})

    def url() -> tuple[str, str]:
        runtime = _current()
        found = runtime.url() if runtime is not None else None
        if not found:
            return settings.moto_server_host(), settings.moto_server_port()
        parts = urlsplit(found)
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        return f"{parts.scheme}://{host}", str(parts.port or 80)

    def network_mode():
        runtime = _current()
        if settings.moto_network_mode() or settings.moto_network_name() or runtime is None:
            return settings.moto_network_mode()
        return "host" if runtime.network == "host" else None

    def network_name():
        runtime = _current()
        if settings.moto_network_mode() or settings.moto_network_name() or runtime is None:
            return settings.moto_network_name()
        return None if runtime.network in ("host", "bridge", "default") else runtime.network

    proxy.moto_server_host = lambda: url()[0]
    proxy.moto_server_port = lambda: url()[1]
    proxy.moto_network_mode = network_mode
    proxy.moto_network_name = network_name
    proxy.moto_lambda_image = lambda: settings.moto_lambda_image() or DEFAULT_IMAGE
    return proxy
