"""Small helpers every measurement shares: distributions of timings and target checks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def distribution(values: Sequence[float], digits: int = 3) -> dict:
    """n, p50, p95, mean and max of some timings (in whatever unit they come in)."""
    if not len(values):
        return {"n": 0, "p50": None, "p95": None, "mean": None, "max": None}
    array = np.asarray(values, dtype=float)
    return {
        "n": int(array.size),
        "p50": round(float(np.percentile(array, 50)), digits),
        "p95": round(float(np.percentile(array, 95)), digits),
        "mean": round(float(array.mean()), digits),
        "max": round(float(array.max()), digits),
    }


def target(
    name: str, goal: str, measured: float | None, limit: float, *, at_most: bool, unit: str = "", note: str = ""
) -> dict:
    """One row of the targets table: `met` is None when nothing was measured (skipped or failed)."""
    met = None if measured is None else (measured <= limit if at_most else measured >= limit)
    return {"name": name, "target": goal, "measured": measured, "unit": unit, "met": met, "note": note}
