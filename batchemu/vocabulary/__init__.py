"""The shared vocabulary, on the floor just above context and config: ARNs and name-or-ARN resolution
(arns), the asynchronous status of resources (lifecycle), job statuses (job_states) and the
status reasons jobs end with (reasons).

Every layer may import it; it imports nothing of batchemu above floor 0 (context). Plain names
and small pure functions only: no store, no engine, no HTTP, no rule that needs more than a
document to decide (tests/unit/test_layers.py holds its imports to that).
"""
