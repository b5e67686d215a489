"""'Batch Job State Change' events (EventBridge shape, ref §14) for every job status change.
Not built yet: install does nothing."""


def install(store, config):
    """Register the observer that publishes state-change events; returns a shutdown callable."""
    return lambda: None
