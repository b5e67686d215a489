"""Backend: the dependencies every Batch operation is handed as its first argument (`b`): the
store, the config, and a `changed` callback. Despite the name it is not a backend in moto's
sense: it holds no state and does no work; the operations in batch/ do, through these.

`clusters` is where the AWS side effects of compute environments land: the ECS cluster AWS
creates for each one (ref §2.1, §3.6). Batch operations call `clusters.create(account, region,
name)` / `clusters.delete(...)` and know nothing of what holds the clusters (the composition
root passes moto's ECS, ecs_clusters.py); the default holds none.

`changed()` tells the scheduler that something it cares about moved (a job was submitted, a
queue or CE changed); it is a no-op until the engine registers itself. The name stays because
every operation module imports it; `settle_ms` is the config's settle time in milliseconds.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Protocol

from batchemu.config import Config
from batchemu.store import Store


class Clusters(Protocol):
    """The ECS clusters of compute environments, in whatever emulates ECS."""

    def create(self, account: str, region: str, name: str) -> None: ...

    def delete(self, account: str, region: str, name: str) -> None: ...


class NoClusters:
    """No ECS emulation: the clusters exist only as the ARNs Batch reports."""

    def create(self, account: str, region: str, name: str) -> None:
        pass

    def delete(self, account: str, region: str, name: str) -> None:
        pass


@dataclasses.dataclass
class Backend:
    store: Store
    config: Config
    changed: Callable[[], None] = lambda: None
    clusters: Clusters = dataclasses.field(default_factory=NoClusters)

    @property
    def settle_ms(self) -> int:
        return int(self.config.settle_seconds * 1000 / self.config.time_scale)  # --time-scale
