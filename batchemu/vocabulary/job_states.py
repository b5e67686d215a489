"""Job statuses (ref §6.2; service jobs ref §13.3) and the groups of them every layer asks
about. Which status may follow which is the engine's rule (engine.states.TRANSITIONS), not
vocabulary."""

from __future__ import annotations

SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED, FAILED = (
    "SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
# Service jobs only: placed on a service environment, not yet starting (ref §13.3).
SCHEDULED = "SCHEDULED"

ALL = (SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED, FAILED)
TERMINAL = frozenset({SUCCEEDED, FAILED})
ACTIVE = frozenset(ALL) - TERMINAL
