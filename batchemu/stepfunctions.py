"""Step Functions state machines that really run, with their Batch tasks run by batchemu.

moto's Step Functions keeps state machines but only executes them with its "stepfunctions"
`execute_state_machine` setting, and then through its ASL interpreter (moto.stepfunctions.parser,
a port of LocalStack's): Choice, Map, Parallel, Retry/Catch, the execution history. That
interpreter's Batch integration calls Batch with boto3 on moto's own port and polls it every half
second. `install()` (called before moto's first Step Functions request) turns the setting on and
gives the interpreter a Batch task of its own (`BatchTask`) that calls this server's Batch
operations in process (`BatchOperations`: validated like an HTTP request, in the execution's
account and region) instead:

- `arn:aws:states:::batch:submitJob`: SubmitJob; the task's output is its answer (JobArn,
  JobId, JobName) with the SdkHttpMetadata and SdkResponseMetadata every request-response
  optimized integration adds (see `http_metadata`);
- `arn:aws:states:::batch:submitJob.sync`: SubmitJob, then waits for the job to end; the output
  is the job as DescribeJobs shows it, keys in Step Functions' PascalCase (the optimized
  integration's casing); a FAILED job fails the task with `States.TaskFailed` and the job (as
  JSON text, same casing) as the Cause. The waiting thread sleeps on the job's status changes (a
  store.job_observers entry wakes it), reading the job again only when it changed.
  Checked against outputs recorded on AWS: the PascalCase job detail as a .sync state's output
  and as the Cause of `States.TaskFailed` (with MANAGED_BY_AWS=STARTED_BY_STEP_FUNCTIONS in its
  environment) are in NASA-IMPACT/hls-orchestration,
  layers/hls_lambda_layer/python/hls_lambda_layer/batch_test_events.py; LocalStack's
  AWS-validated Batch integration test compares `$..Container`, `$..Attempts`,
  `$..EksAttempts`, `$..PlatformCapabilities` of those outputs. The Step Functions developer
  guide (connect-batch, "Parameters in Step Functions are expressed in PascalCase") shows no
  output.
- an execution stopped (StopExecution), or a task timed out, while its `.sync` job runs:
  TerminateJob, as Step Functions does for the jobs it waits for.
- a Batch error (bad parameters, unknown queue) fails the task with `Batch.<code>`.

Also corrected in moto's interpreter: its other integrations (Lambda, SQS, SNS, aws-sdk:...)
call this server, signed for the execution's account, instead of localhost:5000; a Map
iteration's or Parallel branch's States.* error (a job's States.TaskFailed) stays that error
instead of becoming States.Runtime.

Parameters are written in PascalCase (JobName, JobQueue, ContainerOverrides.Environment[].Name,
...) and mapped to the operation's members by name, case-insensitively; map values (Parameters,
Tags) become strings, as the Batch API wants.

moto runs each execution in a thread of its own, never the request's. Must not answer requests
and holds no Batch rule: every rule is the operation's.
"""

from __future__ import annotations

import email.utils
import json
import logging
import sys
import threading
import time
import uuid

from batchemu.vocabulary.job_states import TERMINAL
from batchemu.wire import members, render
from batchemu.wire.errors import ApiError

log = logging.getLogger("batchemu.stepfunctions")

# The wait for a `.sync` job wakes on each of its status changes; this is only how soon a stop
# or timeout of the execution is noticed while the job does not change.
STOP_CHECK_SECONDS = 0.5
# TerminateJob's reason when Step Functions gives up on a job (AWS does not document its text).
STOPPED_REASON = "Step Functions execution stopped"
TIMED_OUT_REASON = "Step Functions task timed out"
# How much earlier than the TimeoutSeconds clock the wait may have begun (SubmitJob's time).
TIMEOUT_SLACK_SECONDS = 0.5


class JobWatch:
    """Threads waiting for jobs' status changes: a store.job_observers entry sets the Event of
    a watched job on every status write (the waiter then reads the job again)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiting: dict[str, set] = {}  # job id -> the Events of its waiters

    def observe(self, doc: dict, old_status: str) -> None:
        if doc.get("status") == old_status:
            return
        with self._lock:
            events = list(self._waiting.get(doc.get("jobId"), ()))
        for event in events:
            event.set()

    def watch(self, job_id: str) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self._waiting.setdefault(job_id, set()).add(event)
        return event

    def forget(self, job_id: str, event: threading.Event) -> None:
        with self._lock:
            waiting = self._waiting.get(job_id)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiting[job_id]


class Runtime:
    """What the tasks of this process call: the newest server's Batch operations and job
    watch, and `url()`, the server's own address for moto's other integrations."""

    def __init__(self, ops, store, url=None, default_account: str = "123456789012", secret=None):
        self.ops = ops
        self.store = store
        self.url = url
        self.default_account = default_account
        self.secret = secret or (lambda account: "states")  # account -> the secret it signs with
        self.watch = JobWatch()


_runtimes: list[Runtime] = []  # the newest started server's Runtime serves moto's executions
_patched = False
_patch_lock = threading.Lock()


def install(ops, store, url=None, default_account: str = "123456789012", secret=None) -> Runtime:
    """Run moto's state machines from now on, their Batch tasks through `ops` (moto's Step
    Functions must not have answered a request yet for the setting to cover every machine),
    their other integrations (Lambda, SQS, SNS, DynamoDB, aws-sdk:...) over HTTP at `url()`."""
    runtime = Runtime(ops, store, url, default_account, secret)
    store.job_observers.append(runtime.watch.observe)
    _runtimes.append(runtime)
    _patch_moto()
    return runtime


def uninstall(runtime: Runtime) -> None:
    if runtime in _runtimes:
        _runtimes.remove(runtime)
    if runtime.watch.observe in runtime.store.job_observers:
        runtime.store.job_observers.remove(runtime.watch.observe)


def _runtime() -> Runtime:
    if not _runtimes:
        raise ApiError("no batchemu server is running in this process", "ServerException", 500)
    return _runtimes[-1]


def _patch_moto() -> None:
    """Once per process: the interpreter on, and `batch` tasks made as BatchTask."""
    global _patched
    with _patch_lock:
        if _patched:
            return
        # lazy for start-up time: moto's Step Functions and its interpreter load on first use
        from moto.core.config import default_user_config  # lazy (above)
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory  # lazy

        default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
        original = state_task_factory.state_task_service_for

        def state_task_service_for(service_name: str):
            if service_name == "batch":
                return _batch_task_class()()
            return original(service_name=service_name)

        state_task_factory.state_task_service_for = state_task_service_for
        _point_clients_here()
        _keep_states_errors()
        # A state that fails (a job that FAILED, a Catch taken) is an ordinary outcome, recorded in
        # the execution's history; moto logs each at ERROR with the whole state's repr. Keep its
        # log for the interpreter's own exceptions.
        logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").addFilter(
            lambda record: not str(record.msg).startswith("%s at ") or
            not str(record.args[0] if record.args else "").startswith("Exception=FailureEventException"))
        _patched = True


def _keep_states_errors() -> None:
    """moto 5.2 turns a Map iteration's or a Parallel branch's failure into `States.Runtime`
    when its error is one of the States.* names (it wraps every name as a custom one, which
    refuses that prefix): a .sync job's `States.TaskFailed` inside a Map would reach the Map's
    Catch as States.Runtime. AWS fails the Map or Parallel state with the inner error."""
    # lazy for start-up time (as _patch_moto): moto's interpreter modules
    from moto.stepfunctions.parser.asl.component.common.error_name import custom_error_name  # lazy
    from moto.stepfunctions.parser.asl.component.common.error_name import states_error_name  # lazy
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import iteration_worker  # lazy
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl  # lazy

    def error_name_of(error_name=None):
        if isinstance(error_name, str) and error_name.startswith(custom_error_name.ILLEGAL_CUSTOM_ERROR_PREFIX):
            try:
                return states_error_name.StatesErrorName.from_name(error_name)
            except Exception:  # a States.* name the interpreter does not know: keep moto's answer
                pass
        return custom_error_name.CustomErrorName(error_name=error_name)

    iteration_worker.CustomErrorName = error_name_of
    branches_decl.CustomErrorName = error_name_of


def _point_clients_here() -> None:
    """moto's other integrations call boto3 at http://localhost:5000 (moto's own server) with
    test keys; make them call this server, signed for the execution's account (the account of
    the role the task runs as: the execution's role, or the state's Credentials.RoleArn)."""
    import boto3  # lazy (above): only the integrations use it
    from botocore.config import Config  # lazy (above)
    from moto.stepfunctions.parser.asl.utils import boto_client  # lazy (above)

    original = boto_client.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials=None):
        runtime = _current_or_none()
        url = runtime.url() if runtime is not None and runtime.url is not None else None
        if url is None:
            return original(region=region, service=service, state_credentials=state_credentials)
        role = getattr(state_credentials, "role_arn", None) or ""
        account = role.split(":")[4] if role.count(":") >= 5 else ""
        if not (len(account) == 12 and account.isdigit()):
            account = runtime.default_account
        return boto3.client(service, region_name=region, endpoint_url=url, aws_access_key_id=account,
                            aws_secret_access_key=runtime.secret(account),
                            config=Config(retries={"max_attempts": 0, "total_max_attempts": 1},
                                          connect_timeout=60, read_timeout=60))

    boto_client.boto_client_for = boto_client_for
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = boto_client_for


def _current_or_none() -> Runtime | None:
    return _runtimes[-1] if _runtimes else None


_task_class = None


def _batch_task_class():
    """BatchTask, defined once moto's interpreter is loaded (it subclasses moto's)."""
    global _task_class
    if _task_class is None:
        _task_class = _define_batch_task()
    return _task_class


def _define_batch_task():
    # Each import below is lazy for start-up time: moto's interpreter, loaded with its Step Functions.
    from moto.stepfunctions.parser import api  # lazy (above)
    from moto.stepfunctions.parser.asl.component.common.error_name import custom_error_name  # lazy (above)
    from moto.stepfunctions.parser.asl.component.common.error_name import failure_event  # lazy (above)
    from moto.stepfunctions.parser.asl.component.common.error_name import states_error_name  # lazy (above)
    from moto.stepfunctions.parser.asl.component.common.error_name import states_error_name_type  # lazy
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_batch  # lazy
    from moto.stepfunctions.parser.asl.eval.event import event_detail  # lazy (above)
    from moto.stepfunctions.parser.asl.utils import encoding  # lazy (above)

    HistoryEventType, TaskFailedEventDetails = api.HistoryEventType, api.TaskFailedEventDetails
    CustomErrorName = custom_error_name.CustomErrorName
    FailureEvent, FailureEventException = failure_event.FailureEvent, failure_event.FailureEventException
    StatesErrorName = states_error_name.StatesErrorName
    StatesErrorNameType = states_error_name_type.StatesErrorNameType
    EventDetails = event_detail.EventDetails
    to_json_str = encoding.to_json_str

    class BatchTask(state_task_service_batch.StateTaskServiceBatch):
        """moto's Batch task with batchemu's operations underneath (see the module docstring)."""

        def _call(self, part, operation: str, params: dict) -> dict:
            runtime = _runtime()
            result = runtime.ops(part.account, part.region, operation, params)
            return plain(result, runtime.ops.spec.operation(operation).output_shape)

        def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            # When this task's frame began (moto's TimeoutSeconds clock started just before).
            env.batchemu_task_started = time.monotonic()
            action = self.resource.api_action.lower()
            if action != "submitjob":
                raise ApiError(f"{self.resource.api_action} is not a Step Functions Batch integration",
                               "ClientException", 400)
            shape = _runtime().ops.shape("SubmitJob")
            params = members.to_members(normalised_parameters, shape)  # PascalCase -> members
            answer = self._call(resource_runtime_part, "SubmitJob", params)
            output = to_pascal(answer, _runtime().ops.spec.operation("SubmitJob").output_shape)
            env.stack.append({**output, **http_metadata(answer)})

        def _from_error(self, env, ex):
            if isinstance(ex, ApiError):
                name = f"Batch.{ex.code}"
                request_id = str(uuid.uuid4())
                details = "; ".join(["Service: AWSBatch", f"Status Code: {ex.status}", f"Error Code: {ex.code}",
                                     f"Request ID: {request_id}", "Proxy: null"])
                return FailureEvent(
                    env=env, error_name=CustomErrorName(name), event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                        error=name, resource=self._get_sfn_resource(), resourceType=self._get_sfn_resource_type(),
                        cause=f"Error executing request, Exception : {ex.message}, RequestId: {request_id} "
                              f"({details})")))
            return super()._from_error(env=env, ex=ex)

        def _build_sync_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            submitted = env.stack.pop()
            job_id = submitted["JobId"]
            part = resource_runtime_part

            def wait_for_job(timeout_seconds=None):
                runtime = _runtime()
                changed = runtime.watch.watch(job_id)
                try:
                    while env.is_running():
                        changed.clear()
                        jobs = self._call(part, "DescribeJobs", {"jobs": [job_id]})["jobs"]
                        if jobs and jobs[0]["status"] in TERMINAL:
                            return self._ended(env, to_pascal(jobs[0], _job_detail_shape()))
                        changed.wait(STOP_CHECK_SECONDS)
                finally:
                    runtime.watch.forget(job_id, changed)
                # The execution was stopped (StopExecution, a failed sibling iteration or branch),
                # or this task's TimeoutSeconds passed: Step Functions stops the job. moto ends
                # the frame the same way for both, so the time tells them apart.
                ran = time.monotonic() - getattr(env, "batchemu_task_started", time.monotonic())
                timed_out = timeout_seconds is not None and ran >= timeout_seconds - TIMEOUT_SLACK_SECONDS
                reason = TIMED_OUT_REASON if timed_out else STOPPED_REASON
                try:
                    self._call(part, "TerminateJob", {"jobId": job_id, "reason": reason})
                except ApiError as err:
                    log.warning("could not terminate job %s of a stopped execution: %s", job_id, err.message)
                return None

            return wait_for_job

        def _ended(self, env, job: dict) -> dict:
            if job["Status"] == "SUCCEEDED":
                return job
            raise FailureEventException(FailureEvent(
                env=env, error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                    resource=self._get_sfn_resource(), resourceType=self._get_sfn_resource_type(),
                    error=StatesErrorNameType.StatesTaskFailed.to_name(), cause=to_json_str(job)))))

        def _eval_sync(self, env, sync_resolver, timeout_seconds, callback_endpoint, heartbeat_endpoint):
            # moto's loop calls the resolver every half second; ours returns only when the job
            # ended or the execution stopped (it sleeps on the job's changes meanwhile).
            return sync_resolver(timeout_seconds)

    return BatchTask


def _job_detail_shape():
    return _runtime().ops.spec.operation("DescribeJobs").output_shape.members["jobs"].member


# -- parameters and results ------------------------------------------------------------------

def plain(result: dict, shape) -> dict:
    """An operation's result as plain JSON values: kept views (wire.render.Rendered, JSON
    text) decoded, then reduced to the output shape as the wire would send it."""
    decoded = {k: (json.loads(v) if isinstance(v, render.Rendered) else v) for k, v in result.items()}
    return render.to_shape(decoded, shape)


def http_metadata(answer: dict) -> dict:
    """What Step Functions adds to a request-response optimized integration's answer: the HTTP
    response it got (SdkHttpMetadata) and its request id (SdkResponseMetadata). Its shape is
    that of the ECS, DynamoDB and SNS task outputs recorded on AWS in LocalStack's snapshots
    (localstack/localstack, tests/aws/services/stepfunctions/v2/services/
    test_ecs_task_service.snapshot.json); LocalStack's Batch integration test on AWS skips these
    two keys, so AWS's Batch answer has them too. The headers are the ones this server would
    have sent for the SubmitJob answer `answer` (AWS's own Batch headers are not published)."""
    request_id = str(uuid.uuid4())
    headers = {"Content-Length": str(len(json.dumps(answer, separators=(",", ":")))),
               "Content-Type": "application/json", "Date": email.utils.formatdate(usegmt=True),
               "x-amzn-RequestId": request_id}
    return {"SdkHttpMetadata": {"AllHttpHeaders": {name: [value] for name, value in headers.items()},
                                "HttpHeaders": headers, "HttpStatusCode": 200},
            "SdkResponseMetadata": {"RequestId": request_id}}


def to_pascal(value, shape):
    """Step Functions' casing of a Batch answer of botocore `shape`: every structure member with
    its first letter upper case (jobId -> JobId, container.exitCode -> Container.ExitCode);
    map keys (parameters, tags) stay as the user wrote them."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {key[:1].upper() + key[1:]: (to_pascal(item, shape.members[key]) if key in shape.members else item)
                for key, item in value.items()}
    if kind == "list" and isinstance(value, list):
        return [to_pascal(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: to_pascal(v, shape.value) for k, v in value.items()}
    return value
