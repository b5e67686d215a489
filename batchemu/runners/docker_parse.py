"""Reading what the Docker engine writes: its RFC3339Nano timestamps and the output of
`docker logs --timestamps`. Pure functions: no client, no threads, no RunnerEvents.
"""

from __future__ import annotations

import calendar
import time

_MS = 1_000_000


def parse_docker_time_ns(text: str | None) -> int | None:
    """RFC3339Nano as Docker writes it ("2024-01-02T03:04:05.123456789Z", always UTC) -> epoch
    ns. Parsed by hand: datetime.fromisoformat only takes nanoseconds from Python 3.11 on."""
    if not text or text.startswith("0001-"):        # Docker's zero time: never happened
        return None
    try:
        whole, _, frac = text.rstrip("Z").partition(".")
        seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
        return seconds * 1_000_000_000 + int((frac + "000000000")[:9])
    except ValueError:
        return None


def parse_lines_ns(raw: bytes) -> list:
    """`docker logs --timestamps` output -> [(epoch_ns, text)] in the log file's order."""
    lines = []
    last_ns = 0
    for line in raw.decode("utf-8", errors="replace").split("\n"):
        stamp, sep, text = line.partition(" ")
        ns = parse_docker_time_ns(stamp) if sep else None
        if ns is None:
            # A continuation of a partial (>16 KiB) message has no stamp of its own.
            if not line:
                continue
            ns, text = last_ns, line
        last_ns = ns
        lines.append((ns, text.rstrip("\r")))
    return lines


def in_time_order(lines: list) -> list:
    """[(ns, text)] -> [(epoch_ms, text)] as a reader sees them. Docker stamps each stream's
    chunks when it reads them, so sorting (stable) interleaves stdout and stderr."""
    return sorted(((ns // _MS, text) for ns, text in lines), key=lambda item: item[0])


def parse_docker_time(text: str | None) -> int | None:
    """RFC3339Nano as Docker writes it -> epoch ms (None for Docker's zero time)."""
    ns = parse_docker_time_ns(text)
    return None if ns is None else ns // _MS
