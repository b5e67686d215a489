"""Job output as CloudWatch Logs (json-1.1, X-Amz-Target `Logs_20140328.*`) on the same
endpoint: the provider that maps the model's operations to service.py, and `install`, which
registers the job observer that gives each attempt its log group and stream (jobs.py).
Operations of the model without a function here answer 501 NotImplemented, never a 500.
Knows no HTTP: the composition root (emulator.py) puts the provider behind a json-1.1 endpoint.
"""

from __future__ import annotations

from batchemu.logs import service
from batchemu.logs.backend import LogsBackend
from batchemu.logs.jobs import stream_observer
from batchemu.wire.handlers import Handlers

# The Logs model's validation error, and its generic server error (HTTP 500).
VALIDATION_ERROR = "InvalidParameterException"
SERVER_ERROR = "ServiceUnavailableException"


class LogsProvider(Handlers):
    """Maps each model operation to the function of the same snake_case name in service.py."""

    def __init__(self, backend: LogsBackend, spec):
        super().__init__(spec, [service], backend,
                         unimplemented="batchemu does not implement CloudWatch Logs {operation}")


def install(store, clock) -> LogsBackend:
    """The Logs backend over `store`, with each job attempt's group and stream registered as the
    attempt starts (a job observer)."""
    backend = LogsBackend(store)
    store.job_observers.append(stream_observer(backend.tables, clock))
    return backend
