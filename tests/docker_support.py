"""The Docker-required check every Docker test shares: without an engine (or the test image)
a test skips on a user's machine, and fails in CI, where BATCHEMU_REQUIRE_DOCKER=1 is set."""

from __future__ import annotations

import os

import pytest

IMAGE = os.environ.get("BATCHEMU_TEST_IMAGE", "batchemu-test/busybox:latest")


def unavailable(reason: str):
    if os.environ.get("BATCHEMU_REQUIRE_DOCKER") == "1":
        pytest.fail(f"{reason} (BATCHEMU_REQUIRE_DOCKER=1)")
    pytest.skip(f"{reason}; set BATCHEMU_REQUIRE_DOCKER=1 to fail instead of skipping")


def docker_client(image: str | None = IMAGE):
    """A docker SDK client, once the engine answers and `image` (if any) is there."""
    import docker
    import docker.errors

    from batchemu.runners.docker import engine_available

    if not engine_available():
        unavailable("no Docker engine answers")
    client = docker.from_env()
    if image:
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            unavailable(f"test image {image} is missing (build it: bash scripts/build-test-image.sh)")
    return client


def lambda_image() -> None:
    """batchemu's Lambda runtime image, built when missing or stale
    (scripts/build-lambda-image.sh; a build failure fails the test in CI)."""
    import subprocess
    from pathlib import Path

    from batchemu.runners.docker import engine_available

    if not engine_available():
        unavailable("no Docker engine answers")
    script = Path(__file__).resolve().parents[1] / "scripts" / "build-lambda-image.sh"
    build = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=1800,
                           env=dict(os.environ))
    if build.returncode != 0:
        unavailable(f"scripts/build-lambda-image.sh failed (exit {build.returncode}):\n"
                    f"{build.stdout[-3000:]}\n{build.stderr[-3000:]}")
