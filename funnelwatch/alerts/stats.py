"""Small robust statistics (no numpy needed for a handful of numbers)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

# MAD times this estimates the standard deviation of normally distributed data.
MAD_SCALE = 1.4826


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def mad(values: Sequence[float]) -> float:
    """Median absolute deviation from the median."""
    if not values:
        return 0.0
    m = median(values)
    return median([abs(v - m) for v in values])


def robust_sigma(values: Sequence[float]) -> float:
    """A spread that one odd day cannot inflate; never below 10% of the median or 0.5,
    so a perfectly regular baseline does not turn every small dip into an alert."""
    m = median(values)
    return max(MAD_SCALE * mad(values), 0.1 * abs(m), 0.5)


def beta_mean(successes: int, trials: int, alpha: float, beta: float) -> float:
    """Posterior mean of a Beta(alpha, beta) prior after ``successes`` in ``trials``."""
    return (successes + alpha) / (trials + alpha + beta)
