"""Every non-Batch AWS call (S3, SQS, EventBridge, IAM, STS, ...) goes to moto's in-process
backends on the same endpoint. Not built yet: make_frontend returns None and jobs get no
endpoint variables."""


def make_frontend(config):
    """A frontend `(request) -> Response | None` for other AWS services, or None."""
    return None


def job_environment(config):
    """A function job -> extra environment variables (AWS_ENDPOINT_URL, region, credentials)."""
    return lambda job: {}
