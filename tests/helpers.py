"""Small assertions shared by the API tests."""

import pytest
from botocore.exceptions import ClientError


def client_error(call, *args, **kwargs) -> str:
    """The message of the HTTP 400 ClientException that `call(*args, **kwargs)` must raise."""
    with pytest.raises(ClientError) as exc:
        call(*args, **kwargs)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert exc.value.response["Error"]["Code"] == "ClientException"
    return exc.value.response["Error"]["Message"]
