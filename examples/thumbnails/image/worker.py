"""The thumbnails example's job: one array child makes one thumbnail.

Runs inside batchemu-examples/thumbnails. Picks manifest entry AWS_BATCH_JOB_ARRAY_INDEX (0 for
a job that is not an array child), writes a 64x64-bounded thumbnail to OUTPUT_BUCKET and a row
to TABLE. boto3 finds the endpoint, region and credentials in the environment batchemu gives
every job (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, ...): none is set here on purpose.
"""

import io
import json
import os
import sys

import boto3
from PIL import Image

THUMBNAIL_BOX = (64, 64)


def say(message):
    # One line per step: the output is read back through CloudWatch Logs.
    print(f"worker: {message}", flush=True)


def main():
    in_bucket = os.environ["INPUT_BUCKET"]
    out_bucket = os.environ["OUTPUT_BUCKET"]
    table = os.environ["TABLE"]
    manifest_key = os.environ["MANIFEST_KEY"]
    job_id = os.environ["AWS_BATCH_JOB_ID"]
    index = int(os.environ.get("AWS_BATCH_JOB_ARRAY_INDEX", "0"))
    say(f"job {job_id} array index {index} endpoint {os.environ.get('AWS_ENDPOINT_URL', '(AWS)')}")

    s3 = boto3.client("s3")
    dynamodb = boto3.client("dynamodb")

    manifest = json.loads(s3.get_object(Bucket=in_bucket, Key=manifest_key)["Body"].read())
    key = manifest["keys"][index]
    say(f"manifest s3://{in_bucket}/{manifest_key} entry {index} is {key}")

    data = s3.get_object(Bucket=in_bucket, Key=key)["Body"].read()
    image = Image.open(io.BytesIO(data))
    image.load()
    image_format = image.format or "PNG"
    original = image.size
    say(f"downloaded s3://{in_bucket}/{key}: {len(data)} bytes, {image_format} {original[0]}x{original[1]}")

    image.thumbnail(THUMBNAIL_BOX)
    out = io.BytesIO()
    image.save(out, format=image_format)
    thumbnail_key = "thumbnails/" + key.rpartition("/")[2]
    s3.put_object(Bucket=out_bucket, Key=thumbnail_key, Body=out.getvalue(),
                  ContentType=Image.MIME.get(image_format, "application/octet-stream"))
    say(f"wrote s3://{out_bucket}/{thumbnail_key}: {out.tell()} bytes, {image.width}x{image.height}")

    dynamodb.put_item(TableName=table, Item={
        "image": {"S": key},
        "thumbnailKey": {"S": thumbnail_key},
        "width": {"N": str(image.width)},
        "height": {"N": str(image.height)},
        "originalWidth": {"N": str(original[0])},
        "originalHeight": {"N": str(original[1])},
        "jobId": {"S": job_id},
        "arrayIndex": {"N": str(index)},
    })
    say(f"recorded {key} in DynamoDB table {table}")
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
