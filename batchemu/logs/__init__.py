"""Job output as CloudWatch Logs (json-1.1, X-Amz-Target `Logs_20140328.*`) on the same
endpoint, served from the store's log_events table. Not built yet: make_frontend returns None."""


def make_frontend(store, config, clock, runner):
    """A frontend `(request) -> Response | None` for CloudWatch Logs requests, or None."""
    return None
