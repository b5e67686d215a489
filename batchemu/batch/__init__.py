"""AWS Batch semantics: one module per resource, one function per operation.

Each operation function is `op_name(backend: Backend, ctx: RequestContext, params: dict) -> dict` where
the name is botocore's snake_case of the operation. No HTTP here; no Docker here.
"""
