"""BatchProvider: maps each model operation to the function of the same (snake_case) name in
the resource modules, and applies the paginator model to list results.

An operation with no function answers 501 (NotImplementedOperation), never 500.
"""

from __future__ import annotations

from botocore import xform_name

from batchemu.batch import (compute_environments, consumable_resources, job_definitions,
                            job_queue_snapshot, job_queues, jobs, quota_shares, scheduling_policies,
                            service_environments, service_jobs, tags)
from batchemu.batch.backend import Backend
from batchemu.batch.pagination import paginate
from batchemu.wire.errors import NotImplementedOperation
from batchemu.wire.spec import ServiceSpec

MODULES = [compute_environments, job_queues, job_definitions, scheduling_policies, tags, jobs,
           consumable_resources, job_queue_snapshot, service_environments, service_jobs, quota_shares]

# Enums the real service accepts in any case (ref §9: evaluateOnExit action "aren't case
# sensitive"; Terraform sends "retry"/"exit").
CASE_INSENSITIVE_ENUMS = ("RetryAction",)


class BatchProvider:
    def __init__(self, backend: Backend, spec: ServiceSpec, modules=None):
        self.backend = backend
        self.spec = spec
        self.handlers = {}
        for name in spec.operation_names:
            for module in modules or MODULES:
                fn = getattr(module, xform_name(name), None)
                if fn is not None:
                    self.handlers[name] = fn
                    break

    def __call__(self, ctx, operation: str, params: dict) -> dict:
        fn = self.handlers.get(operation)
        if fn is None:
            raise NotImplementedOperation(f"batchemu does not implement {operation} yet")
        result = fn(self.backend, ctx, params) or {}
        paging = self.spec.paginators.get(operation)
        if paging and not getattr(fn, "pages_itself", False):
            result = paginate(result, paging, params)
        return result

    @property
    def implemented(self):
        return sorted(self.handlers)
