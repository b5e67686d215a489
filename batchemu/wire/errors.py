"""ApiError: an error the wire layer turns into an AWS-shaped JSON error response.

Service packages subclass it (e.g. batch.errors.ClientException); the wire layer only reads
code, message and status.
"""


class ApiError(Exception):
    code = "ServerException"
    status = 500

    def __init__(self, message: str, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class NotImplementedOperation(ApiError):
    """An operation the model defines but whose semantics are not built yet (HTTP 501)."""

    code = "NotImplemented"
    status = 501
