"""RequestContext: who is asking (account, region), which request, and what time it is.

Built by the wire layer from the SigV4 scope; read by Batch semantics. Knows no HTTP.
"""

from __future__ import annotations

import dataclasses


def partition_for(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


@dataclasses.dataclass(frozen=True)
class RequestContext:
    account: str
    region: str
    request_id: str = ""
    now_ms: int = 0

    @property
    def partition(self) -> str:
        return partition_for(self.region)
