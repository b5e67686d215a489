"""The CloudWatch Logs errors batchemu raises, with the codes the Logs model declares (all
HTTP 400) and AWS's message texts where they are known."""

from batchemu.wire.errors import ApiError


class LogsError(ApiError):
    status = 400


class InvalidParameter(LogsError):
    code = "InvalidParameterException"


class ResourceNotFound(LogsError):
    code = "ResourceNotFoundException"


class ResourceAlreadyExists(LogsError):
    code = "ResourceAlreadyExistsException"


class TooManyTags(LogsError):
    code = "TooManyTagsException"


class Validation(LogsError):
    code = "ValidationException"


def group_not_found() -> ResourceNotFound:
    return ResourceNotFound("The specified log group does not exist.")


def stream_not_found() -> ResourceNotFound:
    return ResourceNotFound("The specified log stream does not exist.")


def invalid_token() -> InvalidParameter:
    return InvalidParameter("The specified nextToken is invalid.")
