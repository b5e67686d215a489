"""The job engine: the state machine, the scheduler and the glue to a runner."""
