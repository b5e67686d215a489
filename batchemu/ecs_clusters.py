"""The ECS cluster of each compute environment, held in moto's ECS emulation, so the same
endpoint's ECS API (ListClusters, DescribeClusters) shows what DescribeComputeEnvironments'
`ecsClusterArn` names (ref §2.1, §3.6). batch/ calls `create`/`delete` through its
`backend.clusters` interface (batch.backend.Clusters) and knows nothing of moto; this module
knows moto's ECS backend and nothing of Batch.

moto keeps its state in memory and is imported on first use (services.py), while batchemu's
compute environments are durable. So `create`/`delete` do nothing until `restore()` has run,
and `restore()` (which the composition root runs before moto's first ECS request:
services.before_first_request) creates the cluster of every compute environment the store
holds: a restarted server's clusters come back, and a server nobody asks about ECS never
imports moto's ECS.
Must not decide which compute environments have clusters (batch.compute_environments does).
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger("batchemu.ecs_clusters")


class MotoClusters:
    """batch.backend.Clusters over moto's ECS backends (account, region)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._ready = False

    def restore(self, wanted: Callable[[], list[tuple[str, str, str]]]) -> None:
        """Start taking create/delete calls, then create every cluster `wanted()` lists (those
        moto already holds are kept as they are). Ready first, list second: a compute
        environment saved meanwhile is either listed or creates its own cluster."""
        with self._lock:
            self._ready = True
        for account, region, name in wanted():
            self.create(account, region, name)

    def create(self, account: str, region: str, name: str) -> None:
        backend = self._backend(account, region)
        if backend is not None and name not in backend.clusters:
            backend.create_cluster(name)

    def delete(self, account: str, region: str, name: str) -> None:
        """The cluster goes INACTIVE, as ECS DeleteCluster leaves it (DescribeClusters still
        shows it for a while; a restarted server forgets it)."""
        backend = self._backend(account, region)
        if backend is not None and name in backend.clusters:
            backend.delete_cluster(name)

    def _backend(self, account: str, region: str):
        """moto's ECS backend of (account, region); None before restore() or in a region moto
        does not emulate (Batch takes any region a signature names, moto's ECS does not)."""
        with self._lock:
            if not self._ready:
                return None
        from moto.ecs.models import ecs_backends  # lazy for start-up time (moto is loaded by now)
        try:
            return ecs_backends[account][region]
        except KeyError:
            log.info("no ECS emulation in region %s: the cluster of a compute environment there "
                     "exists only as its ARN", region)
            return None
