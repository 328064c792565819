"""The sine wave behind the ``sliders`` app and the site page that matches it (pure numpy, unit-testable)."""

from __future__ import annotations

import numpy as np

X_MAX = 4 * np.pi


def sample_x(points: int) -> np.ndarray:
    return np.linspace(0, X_MAX, points)


def sine_wave(x: np.ndarray, amplitude: float, frequency: float, phase: float, offset: float) -> np.ndarray:
    return amplitude * np.sin(frequency * x + phase) + offset
