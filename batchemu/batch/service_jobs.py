"""Service jobs (ref §13.3): SubmitServiceJob, DescribeServiceJob, ListServiceJobs,
TerminateServiceJob, UpdateServiceJob, and TerminateServiceJobs (batch.bulk runs
TerminateServiceJob per id).

Submit validates the Batch parameters and stores a SUBMITTED service job; the request payload
(a SageMaker CreateTrainingJob request) is read for its capacity (ResourceConfig) and checked
where batchemu uses it (names that become paths, types; engine.training.check_request), and is
otherwise passed through, as AWS does; the engine (engine.service_scheduler) runs it. No HTTP here.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from batchemu.batch import bulk, job_submission, quota_shares
from batchemu.batch.backend import Backend
from batchemu.batch.common import check_name, check_tags, resolve
from batchemu.batch.errors import ClientException, UnknownJob
from batchemu.batch.job_filters import filter_clause
from batchemu.context import RequestContext
from batchemu.engine import attempts, service_placement, training
from batchemu.engine.service_scheduler import PRE_START
from batchemu.engine.states import transition
from batchemu.vocabulary import job_states
from batchemu.store.service_jobs import ServiceJobs
from batchemu.vocabulary import arns

MAX_PAYLOAD_BYTES = 10 * 1024    # ref §13.3, §15
MAX_ATTEMPTS = 10                # ref §13.3
MAX_RULES = 5                    # evaluateOnExit (ref §13.3)
SAGEMAKER = "SAGEMAKER_TRAINING"
LIST_FILTERS = ("JOB_NAME", "BEFORE_CREATED_AT", "AFTER_CREATED_AT", "SHARE_IDENTIFIER", "QUOTA_SHARE_NAME")


def submit_service_job(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    job_submission.check_size(ctx, params)
    name = params["jobName"]
    check_name(name, "jobName")
    queue = _queue(backend, ctx, params["jobQueue"])
    if params["serviceJobType"] != queue["jobQueueType"]:
        raise ClientException(f"serviceJobType {params['serviceJobType']} doesn't match job queue "
                              f"{queue['jobQueueName']}, a {queue['jobQueueType']} job queue")
    request = _payload(params["serviceRequestPayload"])
    resource = request.get("ResourceConfig") or {}
    count = resource.get("InstanceCount", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ClientException(f"serviceRequestPayload: ResourceConfig.InstanceCount must be a whole number of "
                              f"at least 1, got {count!r}")
    policy = job_submission.scheduling_policy(backend, ctx, queue)
    share = job_submission.check_share_presence(policy, params.get("shareIdentifier"))
    quota_share = _quota_share(backend, ctx, queue, policy, params.get("quotaShareName"))
    priority = params.get("schedulingPriority")
    if priority is not None and not 0 <= priority <= 9999:
        raise ClientException(f"schedulingPriority must be between 0 and 9999, got {priority}")
    retry = _retry_strategy(params.get("retryStrategy"))
    timeout = params.get("timeoutConfig")
    if timeout and timeout.get("attemptDurationSeconds") is not None and timeout["attemptDurationSeconds"] < 1:
        raise ClientException("timeoutConfig.attemptDurationSeconds must be at least 1")
    preemption = params.get("preemptionConfiguration")
    if preemption and (preemption.get("preemptionRetriesBeforeTermination") or 0) < 0:
        raise ClientException("preemptionConfiguration.preemptionRetriesBeforeTermination must be at least 0")
    tags = check_tags(params.get("tags"))
    environment = quota_shares.environment_of(backend, ctx, queue)
    unit = service_placement.capacity_unit(environment, resource.get("InstanceType")) if environment else service_placement.NUM_INSTANCES

    jobs = ServiceJobs(backend.store)
    job_id = str(uuid.uuid4())
    token = params.get("clientToken")
    with backend.store.transaction():
        if token is not None:
            # Model: two requests with identical payloads and clientTokens are the same request,
            # "and the second request is rejected".
            same = hashlib.sha256(json.dumps({k: v for k, v in params.items() if k != "clientToken"},
                                             sort_keys=True).encode()).hexdigest()
            if jobs.select(ctx.account, ctx.region, "json_extract(doc, '$._clientToken') = ? AND "
                           "json_extract(doc, '$._request') = ?", (token, same), "seq", 1):
                raise ClientException(f"clientToken {token}: an identical SubmitServiceJob request was already "
                                      "accepted; this one is rejected")
        doc = {
            "jobId": job_id,
            "jobArn": arns.make(ctx, arns.SERVICE_JOB, job_id),
            "jobName": name,
            "jobQueue": queue["jobQueueArn"],
            "serviceJobType": params["serviceJobType"],
            "serviceRequestPayload": params["serviceRequestPayload"],
            "status": job_states.SUBMITTED,
            "createdAt": ctx.now_ms,
            "retryStrategy": retry,
            "schedulingPriority": priority,
            "shareIdentifier": share,
            "quotaShareName": quota_share,
            "preemptionConfiguration": preemption,
            "timeoutConfig": timeout,
            "tags": tags,
            "attempts": [],
            "capacityUsage": [{"capacityUnit": unit, "quantity": float(count)}],
            "_account": ctx.account,
            "_region": ctx.region,
            "_instances": count,
            "_instanceType": resource.get("InstanceType"),
            "_attempt": 0,
            "_clientToken": token,
            "_request": same if token is not None else None,
        }
        jobs.insert(doc)
    backend.changed()
    return {"jobArn": doc["jobArn"], "jobName": name, "jobId": job_id}


def describe_service_job(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    return _own(backend, ctx, params["jobId"])


def list_service_jobs(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    filters = params.get("filters") or []
    if len(filters) > 1:
        raise ClientException("filters: only one filter can be used at a time")  # model text
    where, args = [], []
    if params.get("jobQueue"):
        queue = resolve(backend, ctx, arns.JOB_QUEUE, params["jobQueue"])
        if queue is None:
            raise ClientException(f"JobQueue {params['jobQueue']} not found.")
        where.append("queue_arn=?")
        args.append(queue["jobQueueArn"])
    status_applies = True
    for f in filters:
        clause, values = filter_clause(f, LIST_FILTERS, {"SHARE_IDENTIFIER": "share_id",
                                                         "QUOTA_SHARE_NAME": "quota_share"})
        where.append(clause)
        args.extend(values)
        # Model: with a filter jobStatus is ignored, except with SHARE_IDENTIFIER/QUOTA_SHARE_NAME.
        status_applies = f.get("name") in ("SHARE_IDENTIFIER", "QUOTA_SHARE_NAME")
    if status_applies:
        where.append("status=?")
        args.append(params.get("jobStatus") or job_states.RUNNING)  # RUNNING only by default (model)
    rows = ServiceJobs(backend.store).select(ctx.account, ctx.region, " AND ".join(where) or "1", tuple(args),
                                       "created_at DESC, seq DESC")
    return {"jobSummaryList": [_summary(d) for d in rows]}


def terminate_service_job(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    jobs = ServiceJobs(backend.store)
    for _ in range(20):  # compare-and-set, retried on a race with the scheduler
        doc = _own(backend, ctx, params["jobId"])
        if doc["status"] in job_states.TERMINAL:
            return {}  # a no-op that succeeds, like TerminateJob (ref §6.7)
        if doc["status"] in PRE_START:
            if transition(jobs, doc, job_states.FAILED, ctx.now_ms, statusReason=params["reason"],
                                 isTerminated=True):
                break
        elif doc.get("_stop") or attempts.request_stop(jobs, doc, {"kind": "terminate", "reason": params["reason"]},
                                                       service_placement.BUSY):
            break
    backend.changed()
    return {}


def terminate_service_jobs(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    return bulk.each(backend, ctx, params, terminate_service_job)


def update_service_job(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    priority = params["schedulingPriority"]
    if not 0 <= priority <= 9999:
        raise ClientException(f"schedulingPriority must be between 0 and 9999, got {priority}")
    jobs = ServiceJobs(backend.store)
    for _ in range(20):
        doc = _own(backend, ctx, params["jobId"])
        if doc["status"] in job_states.TERMINAL:
            raise ClientException(f"Service job {doc['jobId']} is {doc['status']}; only unfinished jobs can be "
                                  "updated")
        doc["schedulingPriority"] = priority
        if jobs.update(doc):
            break
    backend.changed()
    return {"jobArn": doc["jobArn"], "jobName": doc["jobName"], "jobId": doc["jobId"]}


# -- helpers -----------------------------------------------------------------------------------

def _own(backend: Backend, ctx: RequestContext, job_id: str) -> dict:
    doc = ServiceJobs(backend.store).get_own(ctx.account, ctx.region, job_id)
    if doc is None:
        raise UnknownJob(f"Service job {job_id} does not exist")
    return doc


def _queue(backend: Backend, ctx: RequestContext, ident: str) -> dict:
    queue = job_submission.live_queue(backend, ctx, ident)
    if queue.get("jobQueueType") != SAGEMAKER:
        raise ClientException(f"JobQueue {queue['jobQueueName']} is a {queue.get('jobQueueType')} job queue; "
                              "service jobs need a SAGEMAKER_TRAINING job queue (use SubmitJob for "
                              "container jobs)")
    return job_submission.check_enabled(queue)


def _payload(text: str) -> dict:
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise ClientException(f"serviceRequestPayload must be at most 10 KiB, got {len(text.encode())} bytes")
    try:
        request = json.loads(text)
    except ValueError as exc:
        raise ClientException(f"serviceRequestPayload must be the JSON of a SageMaker CreateTrainingJob "
                              f"request: {exc}")
    if not isinstance(request, dict):
        raise ClientException("serviceRequestPayload must be a JSON object (a SageMaker CreateTrainingJob "
                              "request)")
    try:
        training.check_request(request)  # names become directories and container names
    except training.Rejected as exc:
        raise ClientException(f"serviceRequestPayload: {exc}") from None
    return request


def _quota_share(backend: Backend, ctx: RequestContext, queue: dict, policy: dict | None, name: str | None):
    quota = bool(policy and policy.get("quotaSharePolicy") is not None)
    if quota and not name:
        raise ClientException("quotaShareName is required for job queues with a quota share scheduling "
                              "policy")  # model
    if not quota and name:
        raise ClientException("quotaShareName can't be specified for a job queue without a quota share "
                              "scheduling policy")  # model: "Don't specify this parameter if ..."
    if name:
        share = quota_shares.find(backend, ctx, queue, name)
        if share is None:
            raise ClientException(f"Quota share {name} does not exist in job queue {queue['jobQueueName']}")
        if share.get("state") != "ENABLED":
            raise ClientException(f"Quota share {name} is not in ENABLED state; new jobs can't be submitted to a "
                                  "DISABLED quota share")  # ref §13.4: DISABLED stops submissions
    return name


def _retry_strategy(strategy: dict | None) -> dict | None:
    if not strategy:
        return None
    attempts = strategy.get("attempts")
    if attempts is None or not 1 <= attempts <= MAX_ATTEMPTS:
        raise ClientException(f"retryStrategy.attempts must be between 1 and {MAX_ATTEMPTS}, got {attempts}")
    rules = strategy.get("evaluateOnExit") or []
    if len(rules) > MAX_RULES:
        raise ClientException(f"retryStrategy.evaluateOnExit can have at most {MAX_RULES} entries, got {len(rules)}")
    for i, rule in enumerate(rules):
        pattern = rule.get("onStatusReason")
        if not rule.get("action"):
            raise ClientException(f"retryStrategy.evaluateOnExit[{i}].action is required (RETRY or EXIT)")
        if pattern is not None and (len(pattern) > 512 or not pattern.isprintable()):
            raise ClientException(f"retryStrategy.evaluateOnExit[{i}].onStatusReason must be at most 512 "
                                  "printable characters")  # model text
    return strategy


def _summary(doc: dict) -> dict:
    out = {k: doc.get(k) for k in ("latestAttempt", "capacityUsage", "createdAt", "jobArn", "jobId", "jobName",
                                   "scheduledAt", "serviceJobType", "shareIdentifier", "quotaShareName",
                                   "status", "statusReason", "startedAt", "stoppedAt")}
    if doc.get("isTerminated"):  # present only when true (model: ServiceJobSummary.isTerminated)
        out["isTerminated"] = True
    return out


def load_for_tags(backend: Backend, ctx: RequestContext, kind: str, arn: str) -> dict | None:
    """The service job whose ARN this is (tags module hook)."""
    return ServiceJobs(backend.store).get_own(ctx.account, ctx.region, arn.rsplit("/", 1)[-1])


def save_tags(backend: Backend, ctx: RequestContext, kind: str, arn: str, doc: dict) -> None:
    if not ServiceJobs(backend.store).update(doc):  # inside the tags module's transaction: no race
        raise ClientException(f"Service job {doc['jobId']} changed while it was being tagged; try again")
