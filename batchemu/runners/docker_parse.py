"""Reading what the Docker engine writes: its RFC3339Nano timestamps and the output of
`docker logs --timestamps`. Pure functions: no client, no threads, no RunnerEvents.
"""

from __future__ import annotations

import calendar
import time


def parse_docker_time(text: str | None) -> int | None:
    """RFC3339Nano as Docker writes it ("2024-01-02T03:04:05.123456789Z", always UTC) -> epoch
    ms. Parsed by hand: datetime.fromisoformat only takes nanoseconds from Python 3.11 on."""
    if not text or text.startswith("0001-"):        # Docker's zero time: never happened
        return None
    try:
        whole, _, frac = text.rstrip("Z").partition(".")
        seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
        return seconds * 1000 + int((frac + "000")[:3])
    except ValueError:
        return None


def parse_log_output(raw: bytes) -> list:
    """`docker logs --timestamps` output -> [(epoch_ms, text)] in time order. Docker stamps each
    stream's chunks when it reads them, so sorting (stable) interleaves stdout and stderr."""
    lines = []
    last_ms = 0
    for line in raw.decode("utf-8", errors="replace").split("\n"):
        stamp, sep, text = line.partition(" ")
        ms = parse_docker_time(stamp) if sep else None
        if ms is None:
            # A continuation of a partial (>16 KiB) message has no stamp of its own.
            if not line:
                continue
            ms, text = last_ms, line
        last_ms = ms
        lines.append((ms, text.rstrip("\r")))
    lines.sort(key=lambda item: item[0])
    return lines
