"""BatchProvider: each model operation served by the function of the same (snake_case) name in
the resource modules (wire.handlers: one lookup, a name defined twice refused at start-up), and
the paginator model applied to list results.

An operation with no function answers 501 (NotImplementedOperation), never 500.
"""

from __future__ import annotations

from batchemu.batch import (compute_environments, consumable_resources, job_definitions,
                            job_queue_snapshot, job_queues, jobs, quota_shares, scheduling_policies,
                            service_environments, service_jobs, tags)
from batchemu.batch.backend import Backend
from batchemu.batch.pagination import paginate
from batchemu.wire.handlers import Handlers
from batchemu.wire.spec import ServiceSpec

MODULES = [compute_environments, job_queues, job_definitions, scheduling_policies, tags, jobs,
           consumable_resources, job_queue_snapshot, service_environments, service_jobs, quota_shares]

# Enums the real service accepts in any case (ref §9: evaluateOnExit action "aren't case
# sensitive"; Terraform sends "retry"/"exit").
CASE_INSENSITIVE_ENUMS = ("RetryAction",)

# Create calls whose `tags` map may be empty although the model says `min: 1`. The evidence is
# clients that run against real AWS every day and send `tags: {}` by default: Airflow's
# BatchOperator (apache-airflow-providers-amazon) on SubmitJob and the Snakemake AWS Batch
# executor on RegisterJobDefinition; every create call shares the one tag shape
# (TagrisTagsMap), so AWS's check is the same for all of them. TagResource is left out: its
# whole purpose is to add tags, no client sends it empty, and the tagging service's own
# TagResource requires at least one tag. computeResources.capacityTags keeps the model's
# minimum too (no client evidence either way).
EMPTY_TAGS_ALLOWED = tuple((f"{op}Request", "tags") for op in (
    "SubmitJob", "RegisterJobDefinition", "CreateComputeEnvironment", "CreateJobQueue",
    "CreateSchedulingPolicy", "CreateServiceEnvironment", "CreateConsumableResource",
    "SubmitServiceJob", "CreateQuotaShare"))


class BatchProvider(Handlers):
    def __init__(self, backend: Backend, spec: ServiceSpec, modules=None):
        super().__init__(spec, MODULES if modules is None else modules, backend,
                         unimplemented="batchemu does not implement {operation} yet")

    def result(self, fn, operation: str, params: dict, result: dict) -> dict:
        paging = self.spec.paginators.get(operation)
        if paging and not getattr(fn, "pages_itself", False):
            result = paginate(result, paging, params)
        return result
