"""Job output as CloudWatch Logs (json-1.1, X-Amz-Target `Logs_20140328.*`) on the same
endpoint: wires the protocol (wire.endpoint with json-1.1) to the operations (service.py) and
registers the job observer that gives each attempt its log group and stream (jobs.py).
Operations of the model without a function here answer 501 NotImplemented, never a 500.
"""

from __future__ import annotations

from batchemu.logs import service
from batchemu.logs.backend import LogsBackend
from batchemu.logs.jobs import stream_observer
from batchemu.wire import spec as wire_spec
from batchemu.wire.endpoint import AWS_JSON_1_1, Endpoint
from batchemu.wire.handlers import Handlers
from batchemu.wire.validate import Validator


class LogsProvider(Handlers):
    """Maps each model operation to the function of the same snake_case name in service.py."""

    def __init__(self, backend: LogsBackend, spec):
        super().__init__(spec, [service], backend,
                         unimplemented="batchemu does not implement CloudWatch Logs {operation}")


def make_frontend(store, config, clock, gate=None):
    """A frontend `(request) -> Response | None` for CloudWatch Logs requests; `gate(request)`
    may refuse a matched request with its own response (app.py: unsigned requests)."""
    backend = LogsBackend(store)
    store.job_observers.append(stream_observer(backend.tables, clock))
    spec = wire_spec.load("logs")
    # The Logs model's generic server error (HTTP 500) is ServiceUnavailableException.
    endpoint = Endpoint(spec, AWS_JSON_1_1, LogsProvider(backend, spec),
                        Validator("InvalidParameterException", patterns=True), config, clock,
                        server_error_code="ServiceUnavailableException")

    def frontend(request):
        name = endpoint.match(request)
        if not name:
            return None
        refused = gate(request) if gate else None
        return refused if refused is not None else endpoint(request, name)
    return frontend
