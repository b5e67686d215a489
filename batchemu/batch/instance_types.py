"""Which `instanceTypes` a compute environment may name (ref §3.1): an EC2 instance type
(`c5.8xlarge`), a family (`c5`), or `optimal` / `default_x86_64` / `default_arm64`. Anything
else is refused the way the real service does it [observed, Netflix/metaflow#70, ref §3.1 and
Appendix A]: `Error executing request, Exception : Instance type can only be one of [...]`.

The known types are the `InstanceType` enum of botocore's EC2 model (installed with boto3),
read once, on first use, so an emulator that never validates a compute environment never
loads it. Pure rule: no store, no operation.
"""

from __future__ import annotations

import functools

import botocore.loaders

from batchemu.batch.errors import wrapped
from batchemu.context import RequestContext

ALIASES = ("optimal", "default_x86_64", "default_arm64")  # ref §3.1


@functools.lru_cache(maxsize=1)
def known() -> tuple[str, ...]:
    """ALIASES, then every family, then every size, each sorted (the order of the message)."""
    model = botocore.loaders.Loader().load_service_model("ec2", "service-2")
    sizes = sorted(model["shapes"]["InstanceType"]["enum"])
    families = sorted({s.split(".", 1)[0] for s in sizes})
    return ALIASES + tuple(families) + tuple(sizes)


def check(ctx: RequestContext, types: list[str] | None) -> None:
    if not types:
        return
    allowed = frozenset(known())
    if any(t not in allowed for t in types):
        raise wrapped(ctx, f"Instance type can only be one of [{', '.join(known())}]")


