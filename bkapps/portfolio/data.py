"""The portfolio app's numbers: a reproducible simulated portfolio, without any Bokeh import.

Each asset follows a geometric random walk from 100 with its own drift and volatility; the seed is
fixed, so every session (and every share link) with the same ``days`` shows the same history. A
stress test applies a one-day ``shock`` (a fraction, -0.5 for a 50 % fall) halfway through.
"""

from __future__ import annotations

import numpy as np

# name: (daily drift, daily volatility, weight in the portfolio)
ASSETS = {
    "Equities": (0.0004, 0.012, 0.5),
    "Bonds": (0.0001, 0.004, 0.3),
    "Gold": (0.0002, 0.009, 0.2),
}
START_VALUE = 100.0
SEED = 20261123


def simulate(days: int, shock: float = 0.0) -> dict[str, list[float]]:
    """Columns ``day``, one per asset, and ``total`` (the weighted portfolio), ``days`` + 1 rows."""
    if days < 1:
        raise ValueError("days must be at least 1")
    rng = np.random.default_rng(SEED)
    columns: dict[str, list[float]] = {"day": list(range(days + 1))}
    total = np.zeros(days + 1)
    for name, (drift, volatility, weight) in ASSETS.items():
        returns = rng.normal(drift, volatility, days)
        returns[days // 2] += shock
        values = START_VALUE * np.concatenate(([1.0], np.cumprod(1.0 + np.clip(returns, -0.99, None))))
        columns[name] = values.tolist()
        total += weight * values
    columns["total"] = total.tolist()
    return columns
