"""What the real-client tests (tests/clients) share: a boto3 client of an account against the
server under test, and the output of a queue's Batch jobs for a failure's message."""

from __future__ import annotations


def client(server, service: str, account: str):
    import boto3

    return boto3.client(service, endpoint_url=server.url, region_name="us-east-1",
                        aws_access_key_id=account, aws_secret_access_key="x")


def job_logs(server, account: str, queue: str) -> str:
    """What the Batch jobs of `queue` printed, with each job's name, status and command."""
    batch, logs = client(server, "batch", account), client(server, "logs", account)
    text = []
    for status in ("SUCCEEDED", "FAILED"):
        for summary in batch.list_jobs(jobQueue=queue, jobStatus=status)["jobSummaryList"]:
            (job,) = batch.describe_jobs(jobs=[summary["jobId"]])["jobs"]
            stream = job["container"].get("logStreamName")
            events = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream)["events"] if stream else []
            text.append(f"\n--- {job['jobName']} {status} {job['container'].get('command')}\n"
                        + "\n".join(e["message"] for e in events[-40:]))
    return "".join(text)
