"""The steps of the Step Functions workflow example, one program run by every job.

The job definition fetches this file from S3 and runs it (AWS Batch's "fetch and run"
pattern), so the job image needs only python3 and boto3. `Ref::step` picks the step:

    prepare         list s3://$BUCKET/inputs/ -> work/manifest.json
    count           array child i: words and lines of manifest entry i -> work/counts/<i>.json
                    (an input containing the word FAIL makes the child exit 1)
    aggregate       every count -> results/summary.json
    report-failure  the failed state's Error and Cause -> results/failure.json

boto3 finds the endpoint, region and credentials in the environment batchemu gives each job.
"""

import json
import os
import sys

import boto3

s3 = boto3.client("s3")
BUCKET = os.environ["BUCKET"]


def say(message):
    print(f"{STEP}: {message}", flush=True)


def get_json(key):
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def put_json(key, value):
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(value, indent=1).encode(),
                  ContentType="application/json")


def prepare():
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="inputs/").get("Contents", []))
    put_json("work/manifest.json", {"keys": keys})
    say(f"{len(keys)} inputs -> s3://{BUCKET}/work/manifest.json")


def count():
    index = int(os.environ.get("AWS_BATCH_JOB_ARRAY_INDEX", "0"))
    key = get_json("work/manifest.json")["keys"][index]
    text = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    if "FAIL" in text.split():
        say(f"{key} asks to fail")
        return 1
    counts = {"key": key, "words": len(text.split()), "lines": len(text.splitlines())}
    put_json(f"work/counts/{index}.json", counts)
    say(f"[{index}] {key}: {counts['words']} words, {counts['lines']} lines")
    return 0


def aggregate():
    n = len(get_json("work/manifest.json")["keys"])
    counts = [get_json(f"work/counts/{i}.json") for i in range(n)]
    summary = {"files": n, "words": sum(c["words"] for c in counts), "lines": sum(c["lines"] for c in counts)}
    put_json("results/summary.json", summary)
    say(f"summary {summary}")


def report_failure():
    cause = os.environ.get("FAILURE_CAUSE", "")
    try:
        job = json.loads(cause)  # a .sync task's Cause is the failed job, as DescribeJobs shows it
    except ValueError:
        job = {}
    report = {"error": os.environ.get("FAILURE_ERROR"), "jobId": job.get("JobId"), "jobName": job.get("JobName"),
              "statusReason": job.get("StatusReason"), "cause": cause if not job else None}
    put_json("results/failure.json", report)
    say(f"recorded {report['error']} of job {report['jobId']}")


STEP = sys.argv[1] if len(sys.argv) > 1 else "?"
STEPS = {"prepare": prepare, "count": count, "aggregate": aggregate, "report-failure": report_failure}

if __name__ == "__main__":
    if STEP not in STEPS:
        print(f"unknown step {STEP!r}; one of {', '.join(STEPS)}", file=sys.stderr)
        sys.exit(2)
    sys.exit(STEPS[STEP]() or 0)
