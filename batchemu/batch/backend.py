"""Backend: the dependencies every Batch operation is handed as its first argument (`b`): the
store, the config, and a `changed` callback. Despite the name it is not a backend in moto's
sense: it holds no state and does no work; the operations in batch/ do, through these.

`changed()` tells the scheduler that something it cares about moved (a job was submitted, a
queue or CE changed); it is a no-op until the engine registers itself. The name stays because
every operation module imports it; `settle_ms` is the config's settle time in milliseconds.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from batchemu.config import Config
from batchemu.store import Store


@dataclasses.dataclass
class Backend:
    store: Store
    config: Config
    changed: Callable[[], None] = lambda: None

    @property
    def settle_ms(self) -> int:
        return int(self.config.settle_seconds * 1000 / self.config.time_scale)  # --time-scale
