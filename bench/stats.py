"""Summaries of timing samples (n, p50, p90, mean) and the target check every figure gets.

Pure arithmetic: no clocks, no I/O.
"""

from __future__ import annotations

import operator


def percentile(samples: list, q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), q in [0, 100]."""
    if not samples:
        return None
    ordered = sorted(samples)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(samples: list, unit: str, digits: int = 2) -> dict:
    def rnd(x):
        return None if x is None else round(x, digits)
    mean = sum(samples) / len(samples) if samples else None
    return {"n": len(samples), "p50": rnd(percentile(samples, 50)), "p90": rnd(percentile(samples, 90)),
            "mean": rnd(mean), "unit": unit}


_OPS = {"<=": operator.le, ">=": operator.ge}


def target(value: float | None, op: str, bound: float, text: str) -> tuple[dict, bool]:
    """({"text", "op", "value"}, met): met is False when the value could not be measured."""
    met = value is not None and _OPS[op](value, bound)
    return {"text": text, "op": op, "value": bound}, met
