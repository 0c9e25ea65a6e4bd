"""Median with min and max of repeated measurements."""

from __future__ import annotations

import statistics


def spread(values) -> dict:
    """``{"median", "min", "max", "runs"}`` of the values (None when there are none)."""
    values = [value for value in values if value is not None]
    if not values:
        return {"median": None, "min": None, "max": None, "runs": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}


def ratio(numerator, denominator):
    if numerator is None or not denominator:
        return None
    return numerator / denominator
