"""The two errors the Batch model defines (ref §1.4). Every validation, conflict and not-found
error is a ClientException (HTTP 400)."""

from batchemu.context import RequestContext
from batchemu.wire.errors import ApiError


class ClientException(ApiError):
    code = "ClientException"
    status = 400


class UnknownJob(ClientException):
    """A job or service job id the caller's account does not have. The single operations answer
    it as a ClientException; the bulk ones count the id as processed (batch.bulk)."""


class ServerException(ApiError):
    code = "ServerException"
    status = 500


def wrapped(ctx: RequestContext, detail: str) -> ClientException:
    """A validation error in the real service's wrapped form (ref §1.4, Appendix A):
    `Error executing request, Exception : <detail>, RequestId: <uuid>`."""
    return ClientException(f"Error executing request, Exception : {detail}, RequestId: {ctx.request_id}")
