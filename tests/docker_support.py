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
