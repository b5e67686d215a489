"""Jobs (ref §6-§8): SubmitJob, DescribeJobs, ListJobs, CancelJob, TerminateJob, and their bulk
forms CancelJobs, TerminateJobs (batch.bulk runs the single operation per id).

Submit validates and stores a SUBMITTED job, then wakes the scheduler; everything after that
(dependencies, placement, running, retries) is the engine's. Cancel/terminate change status
through engine.actions. No HTTP here, no Docker here.
"""

from __future__ import annotations

import uuid

from batchemu.batch import (bulk, consumable_resources, fargate_rules, host_access, job_definition_rules,
                            job_definitions, job_spec, job_submission, job_views, multinode_spec,
                            task_properties)
from batchemu.batch.backend import Backend
from batchemu.batch.common import check_name, check_tags, resolve
from batchemu.batch.errors import ClientException, wrapped
from batchemu.batch.job_filters import filter_clause
from batchemu.batch.pagination import decode_token, encode_token, page_size, pages_itself
from batchemu.context import RequestContext
from batchemu.engine import actions
from batchemu.store.jobs import Jobs
from batchemu.vocabulary import arns, job_states

MAX_DEPENDENCIES = 20             # ref §8
MAX_DESCRIBE = 100                # ref §1.6
ARRAY_MIN, ARRAY_MAX = 2, 10_000  # ref §7
LIST_FILTERS = ("JOB_NAME", "JOB_DEFINITION", "BEFORE_CREATED_AT", "AFTER_CREATED_AT", "SHARE_IDENTIFIER")


def submit_job(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    job_submission.check_size(ctx, params)
    name = params["jobName"]
    try:
        check_name(name, "jobName")
    except ClientException:
        raise wrapped(ctx, "Job name should match valid pattern")  # ref §6.1
    queue = job_submission.check_enabled(job_submission.live_queue(backend, ctx, params["jobQueue"]))
    definition = job_definitions.resolve_for_submit(backend, ctx, params["jobDefinition"])
    task = job_spec.managed_instances_task(definition)  # an ECS Managed Instances job's one task
    multinode = definition.get("type") == "multinode"
    multi = None if task is not None or multinode else task_properties.kind(definition)  # several containers / a pod
    if not (multinode or definition.get("containerProperties") or task or multi):
        raise ClientException(f"Job definition {definition['jobDefinitionArn']} has no containerProperties, "
                              "ecsProperties, eksProperties or nodeProperties batchemu can run")
    if multinode:
        multinode_spec.check_submit(params)  # ref §12: not an array job; overrides per node range
    elif params.get("nodeOverrides"):
        raise ClientException("nodeOverrides can only be used with a multinode job definition")
    array_size = _array_size(params)
    depends_on = _dependencies(backend, ctx, params, array_size)
    if not multinode:
        _check_override_kinds(params, "ecs" if task is not None else multi)
    if multi or multinode:
        definition_container, overrides = {}, {}  # per container, pod or node range
    elif task is not None:
        definition_container = job_spec.task_container(task)
        overrides = job_spec.ecs_overrides(params.get("ecsPropertiesOverride"), definition_container)
    else:
        definition_container = definition["containerProperties"]
        overrides = params.get("containerOverrides") or {}
    job_spec.check_overrides(overrides, definition_container)
    # Submit-time timeout and retryStrategy replace the definition's wholesale (ref §6.8) and
    # follow the same rules (ref §9, §10).
    timeout = job_definition_rules.check_timeout(params.get("timeout")) or definition.get("timeout")
    retry = job_definition_rules.check_retry_strategy(params.get("retryStrategy")) or definition.get("retryStrategy")
    share = _share_identifier(backend, ctx, queue, params)
    priority = params.get("schedulingPriorityOverride")
    if priority is None:
        priority = definition.get("schedulingPriority")
    if priority is not None and not 0 <= priority <= 9999:
        raise ClientException("schedulingPriorityOverride must be between 0 and 9999")
    tags = check_tags(params.get("tags"))
    parameters = job_spec.merge_parameters(definition, params.get("parameters"))
    if multinode:
        container, fields = None, _node_fields(backend, queue, definition, params, parameters)
    elif multi:
        container, fields = None, _task_fields(backend, queue, definition, params, parameters, multi)
    else:
        container = job_spec.resolve_container(definition_container, overrides, parameters)
        if definition.get("platformCapabilities") == ["FARGATE"] and overrides.get("resourceRequirements"):
            fargate_rules.check_submitted(container, job_definition_rules.FARGATE_MEMORY)  # ref §5.3 at submit
        _check_host_access(backend, queue, definition, container,
                           "ecsProperties.taskProperties[0].containers[0]" if task is not None else "containerProperties")
        fields = {"_need": job_spec.needs(container)}
    consumables, held = consumable_resources.for_submit(          # ref §13.1
        backend, ctx, definition.get("consumableResourceProperties"), params.get("consumableResourcePropertiesOverride"))

    job_id = str(uuid.uuid4())
    doc = {
        "jobId": job_id,
        "jobArn": arns.make(ctx, arns.JOB, job_id),
        "jobName": name,
        "jobQueue": queue["jobQueueArn"],
        "status": job_states.SUBMITTED,
        "createdAt": ctx.now_ms,
        "jobDefinition": definition["jobDefinitionArn"],
        "parameters": parameters,
        "container": container,
        "retryStrategy": retry,
        "timeout": timeout,
        "dependsOn": depends_on,
        "attempts": [],
        "tags": tags,
        "propagateTags": params.get("propagateTags", definition.get("propagateTags", False)),
        "platformCapabilities": definition.get("platformCapabilities") or [],
        "schedulingPriority": priority,
        "shareIdentifier": share,
        "arrayProperties": {"size": array_size} if array_size else None,
        "consumableResourceProperties": consumables,
        "_account": ctx.account,
        "_region": ctx.region,
        "_queueName": queue["jobQueueName"],
        "_definitionName": definition["jobDefinitionName"],
        "_logConfiguration": definition_container.get("logConfiguration"),
        # ECS Managed Instances: the task around `container` (job_views shows ecsProperties) and
        # its network, `host` as on Managed Instances (the runner's --job-network doesn't apply).
        "_ecsTask": {k: v for k, v in task.items() if k != "containers"} if task else None,
        "_network": "host" if task else None,
        **fields,
        "_consumables": held,  # {arn: quantity}: what the job holds from STARTING on (engine.consumables)
        "_attempt": 0,
    }
    Jobs(backend.store).insert(doc)
    backend.changed()
    return {"jobArn": doc["jobArn"], "jobName": name, "jobId": job_id}


def _check_override_kinds(params: dict, kind: str | None) -> None:
    """Each override block only with its kind of definition (ref §6.8)."""
    blocks = {None: ("containerOverrides", "containerProperties"), "ecs": ("ecsPropertiesOverride", "ecsProperties"),
              "eks": ("eksPropertiesOverride", "eksProperties")}
    for wanted, (key, _) in blocks.items():
        if params.get(key) and kind != wanted:
            right, block = blocks[kind]
            raise ClientException(f"{key} can't be used with an {block} job definition; use {right}")


def _node_fields(backend: Backend, queue: dict, definition: dict, params: dict, parameters: dict) -> dict:
    """The document fields of a multi-node job (engine.multinode runs it, ref §12): its
    nodeProperties (the definition's plus nodeOverrides), which nodes each range holds
    (`_nodeRanges`) and the whole gang's need (gang placement)."""
    props, ranges, need = multinode_spec.resolve(definition, params.get("nodeOverrides"), parameters)
    for i, node_range in enumerate(props["nodeRangeProperties"]):
        if node_range.get("container") is not None:
            _check_host_access(backend, queue, definition, node_range["container"],
                               f"nodeProperties.nodeRangeProperties[{i}].container")
    found = [f for f in host_access.in_definition({"nodeProperties": props})
             if ".container." not in f and not f.endswith(".container")]  # task and pod ranges
    if found and backend.config.deny_host_access:
        host_access.refuse(found, f"Job definition {definition['jobDefinitionArn']}: ")
    return {"nodeProperties": props, "_nodeRanges": ranges, "_need": need}


def _task_fields(backend: Backend, queue: dict, definition: dict, params: dict, parameters: dict, kind: str) -> dict:
    """The document fields of an ecsProperties/eksProperties job (engine.task_jobs runs it): the
    resolved task or pod, what each container and the whole job need."""
    if kind == "ecs":
        ecs, limits, need = task_properties.ecs_job(definition, params.get("ecsPropertiesOverride"), parameters)
        props, more = {"ecsProperties": ecs}, {}
    else:
        eks, limits, need, sizes = task_properties.eks_job(definition, params.get("eksPropertiesOverride"),
                                                           parameters)
        props, more = {"eksProperties": eks, "eksAttempts": []}, {"sizes": sizes}
    found = host_access.in_definition(props)
    if found and queue.get("jobQueueType") == "ECS_FARGATE":
        raise ClientException(f"{found[0]} isn't supported for jobs that run on Fargate resources (job queue "
                              f"{queue['jobQueueName']} runs on Fargate)")
    if backend.config.deny_host_access:
        host_access.refuse(found, f"Job definition {definition['jobDefinitionArn']}: ")
    return {**props, "_task": {"kind": kind, "limits": limits, **more}, "_need": need}


def _check_host_access(backend: Backend, queue: dict, definition: dict, container: dict, where: str) -> None:
    """The job's container (definition and overrides) as it would run: no host access on a
    Fargate queue (ref §5.3: Fargate refuses host volumes, devices and privileged; AWS would
    never place an EC2 definition there, batchemu says why at once), nor anywhere with
    --deny-host-access (a definition registered before the option was set)."""
    found = host_access.in_container(container, where)
    if found and queue.get("jobQueueType") == "ECS_FARGATE":
        raise ClientException(f"{found[0]} isn't supported for jobs that run on Fargate resources (job queue "
                              f"{queue['jobQueueName']} runs on Fargate; job definition "
                              f"{definition['jobDefinitionArn']})")
    if backend.config.deny_host_access:
        host_access.refuse(found, f"Job definition {definition['jobDefinitionArn']}: ")


def describe_jobs(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    ids = params.get("jobs") or []
    if len(ids) > MAX_DESCRIBE:
        raise ClientException("Maximum number of jobs supported is 100")  # ref §1.6
    # The order asked for, each id once; unknown ids left out (ref §1.5).
    return {"jobs": job_views.details(Jobs(backend.store), ctx.account, ctx.region, list(dict.fromkeys(ids)))}


@pages_itself
def list_jobs(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    selectors = [k for k in ("jobQueue", "arrayJobId", "multiNodeJobId") if params.get(k)]
    if len(selectors) != 1:
        raise ClientException("Exactly one of jobQueue, arrayJobId or multiNodeJobId must be specified "
                              f"(got {', '.join(selectors) or 'none'})")
    filters = params.get("filters") or []
    if len(filters) > 1:
        raise ClientException("filters: only one filter can be used at a time")  # ref §6.6
    where, args = [], []
    if params.get("jobQueue"):
        queue = resolve(backend, ctx, arns.JOB_QUEUE, params["jobQueue"])
        if queue is None:
            raise ClientException(f"JobQueue {params['jobQueue']} not found.")
        where.append("queue_arn=? AND parent_id IS NULL")  # children list under their parent
        args.append(queue["jobQueueArn"])
    elif params.get("arrayJobId"):
        where.append("parent_id=? AND instr(job_id, '#') = 0")
        args.append(params["arrayJobId"])
        filters = []  # filters don't apply to array children (ref §6.6)
    else:
        where.append("parent_id=? AND instr(job_id, '#') > 0")  # the nodes <jobId>#<n> (ref §12)
        args.append(params["multiNodeJobId"])
        filters = []  # filters don't apply to nodes (ref §6.6)
    status_applies = True
    for f in filters:
        clause, values = filter_clause(f, LIST_FILTERS, {"SHARE_IDENTIFIER": "share_id"})
        where.append(clause)
        args.extend(values)
        status_applies = f.get("name") == "SHARE_IDENTIFIER"  # the only one kept with jobStatus
    if status_applies:
        where.append("status=?")
        args.append(params.get("jobStatus") or job_states.RUNNING)  # RUNNING by default (ref §6.6)
    limit = page_size(params, default=100 if filters else 1000, maximum=100 if filters else 1000)
    after = decode_token(params.get("nextToken"))
    if after is not None:
        if not (isinstance(after, list) and len(after) == 2 and isinstance(after[0], int)
                and isinstance(after[1], str)):  # (created_at, job_id) as list_jobs made it
            raise ClientException("Invalid nextToken")
        # A row value, so SQLite starts the page at this key in the index instead of filtering.
        where.append("(created_at, job_id) < (?, ?)")
        args.extend([after[0], after[1]])
    page, last = job_views.summary_page(Jobs(backend.store), ctx.account, ctx.region, " AND ".join(where),
                                        tuple(args), "created_at DESC, job_id DESC", limit)
    result = {"jobSummaryList": page}
    if last is not None:
        result["nextToken"] = encode_token(list(last))
    return result


def cancel_job(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    return _stop(backend, ctx, params, actions.cancel)


def terminate_job(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    return _stop(backend, ctx, params, actions.terminate)


def _stop(backend: Backend, ctx: RequestContext, params: dict, action) -> dict:
    doc = _own_job(backend, ctx, params["jobId"])
    if doc is not None:  # an unknown id: 200 {} (aws/aws-cli#2551, see _own_job)
        action(Jobs(backend.store), doc, params["reason"], ctx.now_ms)
        backend.changed()
    return {}


def cancel_jobs(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    return bulk.each(backend, ctx, params, cancel_job)


def terminate_jobs(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    return bulk.each(backend, ctx, params, terminate_job)


# -- submit rules ----------------------------------------------------------------------------

def _array_size(params: dict) -> int | None:
    props = params.get("arrayProperties")
    if not props or props.get("size") is None:
        return None
    size = props["size"]
    if not ARRAY_MIN <= size <= ARRAY_MAX:
        raise ClientException(f"arrayProperties.size must be between {ARRAY_MIN} and {ARRAY_MAX}, got {size}")
    return size


def _dependencies(backend: Backend, ctx: RequestContext, params: dict, array_size: int | None) -> list:
    deps = params.get("dependsOn") or []
    if len(deps) > MAX_DEPENDENCIES:
        raise wrapped(ctx, f"Job cannot have more than {MAX_DEPENDENCIES} dependencies")  # ref §8
    ids = [d["jobId"] for d in deps if d.get("jobId")]
    known = {d["jobId"]: d for d in Jobs(backend.store).get_many(ctx.account, ctx.region, ids)}
    out = []
    for dep in deps:
        kind, dep_id = dep.get("type"), dep.get("jobId")
        if kind == "SEQUENTIAL" and dep_id and not array_size:
            # A non-array job's `{jobId, type: SEQUENTIAL}` is accepted by AWS as a plain
            # dependency on that job (issue 15: moto's suite, written against AWS, submits it);
            # it is echoed as given and waited on like any other.
            pass
        elif kind == "SEQUENTIAL":
            if not array_size:
                raise ClientException("dependsOn: a SEQUENTIAL dependency is only valid for an array job")
            if dep_id:
                raise ClientException("dependsOn: a SEQUENTIAL dependency takes no jobId; it orders the "
                                      "children of this array job")
            out.append({"type": "SEQUENTIAL"})
            continue
        if not dep_id:
            raise ClientException("dependsOn: jobId is required unless type is SEQUENTIAL")
        target = known.get(dep_id)
        if target is None:
            raise ClientException(f"dependsOn: job {dep_id} does not exist")  # ref §8 (suggested)
        if kind == "N_TO_N":
            their = (target.get("arrayProperties") or {}).get("size")
            if not array_size or not their or target.get("_parent"):
                raise ClientException("dependsOn: an N_TO_N dependency needs this job and job "
                                      f"{dep_id} to both be array jobs")
            if their != array_size:
                raise ClientException(f"dependsOn: N_TO_N needs arrays of the same size; {dep_id} has "
                                      f"{their} children and this job {array_size}")  # ref §7
        out.append({"jobId": dep_id, "type": kind} if kind else {"jobId": dep_id})
    return out


def _share_identifier(backend: Backend, ctx: RequestContext, queue: dict, params: dict):
    share = job_submission.check_share_presence(job_submission.scheduling_policy(backend, ctx, queue),
                                                params.get("shareIdentifier"))
    if share is not None and (len(share) > 255 or not share.rstrip("*").isalnum() or share.count("*") > 1
                              or ("*" in share and not share.endswith("*"))):
        raise ClientException("shareIdentifier is limited to 255 alphanumeric characters, optionally "
                              "followed by an asterisk (*)")  # ref §11.4
    return share


def load_for_tags(backend: Backend, ctx: RequestContext, kind: str, arn: str) -> dict | None:
    """The job whose ARN this is (tags module hook); array children never get here."""
    found = Jobs(backend.store).get_many(ctx.account, ctx.region, [arn.rsplit("/", 1)[-1]])
    return found[0] if found else None


def save_tags(backend: Backend, ctx: RequestContext, kind: str, arn: str, doc: dict) -> None:
    # Called inside the tags module's store transaction, which holds the store's lock, so
    # no other writer can slip in between the read and this compare-and-set.
    if not Jobs(backend.store).update(doc):
        raise ClientException(f"Job {doc['jobId']} changed while it was being tagged; try again")


def _own_job(backend: Backend, ctx: RequestContext, job_id: str) -> dict | None:
    """This account's job, or None. CancelJob/TerminateJob of an unknown id answer 200 `{}` on
    AWS: aws/aws-cli#2551 shows the service's own debug log for `terminate-job --job-id
    Whatever-string` ("POST /v1/terminatejob" 200, body {}), which outweighs ref §1.5's
    [uncertain] suggestion of a ClientException (issue 15)."""
    found = Jobs(backend.store).get_many(ctx.account, ctx.region, [job_id])
    if not found:
        return None
    doc = found[0]
    if doc.get("nodeDetails") is not None:
        # A node is cancelled or terminated with its whole job: its attempt is the job's
        # (ref §12: the job's lifecycle follows the main node, its timeout and retries are the job's).
        return _own_job(backend, ctx, doc["_parent"])
    return doc
