import pytest

from batchemu.testing import running_server


@pytest.fixture(scope="module")
def server():
    with running_server() as s:
        yield s


@pytest.fixture()
def batch(server, request):
    """A boto3 Batch client in an account of its own per test (12-digit access key = account),
    so tests never see each other's resources."""
    account = str(abs(hash(request.node.nodeid)) % 10**12).zfill(12)
    return server.client("batch", access_key=account)
