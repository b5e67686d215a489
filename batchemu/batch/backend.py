"""Backend: what every Batch operation needs besides the request (store, config, clock hooks).

`changed()` tells the scheduler that something it cares about moved (a job was submitted, a
queue or CE changed); it is a no-op until the engine registers itself.
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
        return int(self.config.settle_seconds * 1000)
