"""Operations -> handler functions, found by name: each operation of a service model is served by
the function of the same snake_case name (`SubmitJob` -> `submit_job`) in the service's modules.

One lookup for every service (Batch, CloudWatch Logs). A name offered by two modules is refused
at start-up (`DuplicateHandler`): taking the first found would make the order of a module list
decide silently which code answers. An operation with no function answers 501, never 500.
Knows no service: the modules and the message are the caller's.
"""

from __future__ import annotations

from botocore import xform_name

from batchemu.wire.errors import NotImplementedOperation
from batchemu.wire.spec import ServiceSpec


class DuplicateHandler(RuntimeError):
    """Two modules define a function for the same operation."""


def find_handlers(spec: ServiceSpec, modules) -> dict:
    """operation name -> the one function named after it across `modules`."""
    handlers, where = {}, {}
    for name in spec.operation_names:
        function_name = xform_name(name)
        for module in modules:
            fn = getattr(module, function_name, None)
            if not callable(fn):
                continue
            if name in handlers and handlers[name] is not fn:
                raise DuplicateHandler(f"{name} has two handlers: {where[name]}.{function_name} and "
                                       f"{module.__name__}.{function_name}; keep one")
            handlers.setdefault(name, fn)
            where.setdefault(name, module.__name__)
    return handlers


class Handlers:
    """`handlers(ctx, operation, params) -> dict`: calls `fn(backend, ctx, params)`, the
    operation's function; raises NotImplementedOperation (501) for one without a function,
    saying `unimplemented.format(operation=...)`."""

    def __init__(self, spec: ServiceSpec, modules, backend, unimplemented: str):
        self.spec = spec
        self.backend = backend
        self.handlers = find_handlers(spec, modules)
        self.unimplemented = unimplemented

    def __call__(self, ctx, operation: str, params: dict) -> dict:
        fn = self.handlers.get(operation)
        if fn is None:
            raise NotImplementedOperation(self.unimplemented.format(operation=operation))
        return self.result(fn, operation, params, fn(self.backend, ctx, params) or {})

    def result(self, fn, operation: str, params: dict, result: dict) -> dict:
        """The answer to send; a service may post-process (Batch paginates)."""
        return result

    @property
    def implemented(self):
        return sorted(self.handlers)
