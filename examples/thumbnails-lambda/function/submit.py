"""The Lambda function of the thumbnails-through-Lambda example: an S3 "object created"
notification for a manifest under manifests/ submits ONE array job, a child per image the
manifest lists. Plain boto3, no endpoint in the code: on AWS it talks to AWS; under batchemu
the function's environment (AWS_ENDPOINT_URL, region, credentials) points it at the emulator.

Environment (set on the function): JOB_QUEUE, JOB_DEFINITION.
"""

import json
import os
import re
import urllib.parse

import boto3

s3 = boto3.client("s3")
batch = boto3.client("batch")


def handler(event, context):
    submitted = []
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        count = len(manifest["keys"])
        # AWS arrays have 2 to 10,000 children; one image is a plain job (the worker reads index 0).
        array = {"arrayProperties": {"size": count}} if count >= 2 else {}
        name = "thumbnails-" + re.sub(r"[^A-Za-z0-9_-]", "-", key.rsplit("/", 1)[-1].rsplit(".", 1)[0])[:100]
        job = batch.submit_job(
            jobName=name, jobQueue=os.environ["JOB_QUEUE"], jobDefinition=os.environ["JOB_DEFINITION"],
            containerOverrides={"environment": [{"name": "INPUT_BUCKET", "value": bucket},
                                                {"name": "MANIFEST_KEY", "value": key}]},
            tags={"submittedBy": context.function_name, "manifest": key}, propagateTags=True, **array)
        print(f"s3://{bucket}/{key}: {count} images -> job {job['jobId']} ({name})")
        submitted.append(job["jobId"])
    return {"jobIds": submitted}
