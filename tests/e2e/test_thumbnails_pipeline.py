"""End to end: the thumbnails example (examples/thumbnails) on a live server with the Docker
runner. Its job image is built by the example's build.sh when missing or stale (the first run
pays a cold debootstrap build of a minute or two). The pipeline runs once per module; each test
checks, with its own boto3 calls, one thing a user of the example would look at."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from batchemu.runners.docker import engine_available
from batchemu.testing import running_server
from tests import docker_support

pytestmark = pytest.mark.docker

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "thumbnails"
IMAGE = "batchemu-examples/thumbnails:latest"
IMAGES = 4
LOG_GROUP = "/aws/batch/job"


def _load_example():
    spec = importlib.util.spec_from_file_location("thumbnails_run", EXAMPLE / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def job_image():
    if not engine_available():
        docker_support.unavailable("no Docker engine answers")
    build = subprocess.run(["bash", str(EXAMPLE / "image" / "build.sh")], capture_output=True,
                           text=True, timeout=1800, env={**os.environ, "THUMBNAILS_IMAGE": IMAGE})
    if build.returncode != 0:
        docker_support.unavailable(f"examples/thumbnails/image/build.sh failed (exit {build.returncode}):\n"
                     f"{build.stdout[-3000:]}\n{build.stderr[-3000:]}")
    return IMAGE


@pytest.fixture(scope="module")
def run(job_image):
    """The example run once: (its module, clients, Pipeline, the parent job described)."""
    example = _load_example()
    with running_server(runner="docker", job_network="host") as server:
        c = example.clients(server.url, "us-east-1", access_key="test", secret_key="test")
        p = example.setup(c, IMAGES, image=job_image, max_vcpus=2)
        example.submit(c, p)
        job = example.wait(c, p.job_id, timeout=600)
        yield example, c, p, job


def png_size(data: bytes) -> tuple:
    """(width, height) of a well-formed PNG: signature, every chunk's CRC, IHDR first, IEND
    last, and image data that inflates to exactly the rows IHDR promises."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, chunks = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert interlace == 0
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    stride = (width * channels * depth + 7) // 8
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(pixels) == height * (1 + stride)
    return width, height


def test_the_array_job_succeeds_with_one_child_per_image(run):
    _, c, p, job = run
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    assert job["arrayProperties"]["size"] == IMAGES
    summary = job["arrayProperties"]["statusSummary"]
    assert summary["SUCCEEDED"] == IMAGES
    assert sum(summary.values()) == IMAGES
    children = c["batch"].list_jobs(arrayJobId=p.job_id, jobStatus="SUCCEEDED")["jobSummaryList"]
    assert sorted(j["arrayProperties"]["index"] for j in children) == list(range(IMAGES))


def test_every_image_has_a_valid_smaller_thumbnail(run):
    _, c, p, _ = run
    keys = sorted(o["Key"] for o in c["s3"].list_objects_v2(Bucket=p.output_bucket).get("Contents", []))
    assert keys == sorted("thumbnails/" + key.rpartition("/")[2] for key, _, _ in p.images)
    for key, width, height in p.images:
        body = c["s3"].get_object(Bucket=p.output_bucket, Key="thumbnails/" + key.rpartition("/")[2])["Body"].read()
        thumb_w, thumb_h = png_size(body)
        assert max(thumb_w, thumb_h) == 64 and thumb_w <= width and thumb_h <= height, (key, thumb_w, thumb_h)
        # thumbnail() keeps the aspect ratio (to within a pixel of rounding)
        assert abs(thumb_w * height - thumb_h * width) <= max(width, height), (key, thumb_w, thumb_h)


def test_one_dynamodb_row_per_image_with_its_array_index(run):
    _, c, p, _ = run
    items = c["dynamodb"].scan(TableName=p.table)["Items"]
    assert len(items) == IMAGES
    by_image = {item["image"]["S"]: item for item in items}
    for index, (key, width, height) in enumerate(p.images):
        item = by_image[key]
        assert item["arrayIndex"]["N"] == str(index)
        assert item["jobId"]["S"] == f"{p.job_id}:{index}"
        assert item["thumbnailKey"]["S"] == "thumbnails/" + key.rpartition("/")[2]
        assert (int(item["originalWidth"]["N"]), int(item["originalHeight"]["N"])) == (width, height)
        assert max(int(item["width"]["N"]), int(item["height"]["N"])) == 64


def test_each_childs_output_is_readable_through_cloudwatch_logs(run):
    _, c, p, _ = run
    ids = [f"{p.job_id}:{i}" for i in range(IMAGES)]
    for child in c["batch"].describe_jobs(jobs=ids)["jobs"]:
        index = child["arrayProperties"]["index"]
        stream = child["container"]["logStreamName"]
        events = c["logs"].get_log_events(logGroupName=LOG_GROUP, logStreamName=stream,
                                          startFromHead=True)["events"]
        lines = [e["message"] for e in events]
        key = p.images[index][0]
        assert lines[0].startswith(f"worker: job {child['jobId']} array index {index} endpoint http://127.0.0.1:"), lines
        assert f"worker: manifest s3://{p.input_bucket}/{p.manifest_key} entry {index} is {key}" in lines
        assert f"worker: recorded {key} in DynamoDB table {p.table}" in lines
        assert lines[-1] == "worker: done"


def test_the_queue_receives_state_change_events_for_every_child(run):
    _, c, p, _ = run
    children = {f"{p.job_id}:{i}" for i in range(IMAGES)}
    wanted = children | {p.job_id}
    seen: dict = {}

    def complete():
        return (all("SUCCEEDED" in seen.get(job_id, ()) for job_id in wanted)
                and all("RUNNING" in seen.get(job_id, ()) for job_id in children))

    deadline = time.monotonic() + 30           # delivery is asynchronous and unordered
    while not complete() and time.monotonic() < deadline:
        for message in c["sqs"].receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10,
                                                WaitTimeSeconds=1).get("Messages", []):
            event = json.loads(message["Body"])
            assert event["source"] == "aws.batch"
            assert event["detail-type"] == "Batch Job State Change"
            assert event["resources"] == [event["detail"]["jobArn"]]
            seen.setdefault(event["detail"]["jobId"], []).append(event["detail"]["status"])
            c["sqs"].delete_message(QueueUrl=p.queue_url, ReceiptHandle=message["ReceiptHandle"])
    for job_id in wanted:
        assert "SUCCEEDED" in seen.get(job_id, ()), (job_id, seen)
    for job_id in children:
        assert "RUNNING" in seen[job_id], (job_id, seen[job_id])
    assert set(seen) == wanted               # the rule matched this run's queue, nothing else


def test_run_py_as_the_readme_runs_it(run):
    """`python3 run.py --endpoint-url URL`: exit 0 and a report naming every result."""
    example, c, _, _ = run
    endpoint = c["batch"].meta.endpoint_url
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    done = subprocess.run([sys.executable, str(EXAMPLE / "run.py"), "--endpoint-url", endpoint,
                           "--images", "2", "--timeout", "600"],
                          capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    out = done.stdout
    assert re.search(r"^job \S+: SUCCEEDED \{.*'SUCCEEDED': 2", out, re.M), out
    assert "[0] images/sample-000.png 320x240 -> thumbnails/sample-000.png 64x48" in out, out
    assert "[1] images/sample-001.png 240x320 -> thumbnails/sample-001.png 48x64" in out, out
    assert out.count("worker: done") == 2, out
    assert out.count(" SUCCEEDED\n") >= 3, out   # events: both children and the parent
