"""The input range a network was calibrated for, and the sample values that fall outside it."""

from __future__ import annotations

import numpy as np

__all__ = ["input_range", "out_of_range_counts"]


def input_range(net) -> tuple[float, float]:
    """The input range a network was calibrated for: [0, scale] (Loihi and Akida alike)."""
    scale = net.input.scale if hasattr(net, "input") else net.input_scale
    return 0.0, float(scale)


def out_of_range_counts(samples: np.ndarray, low: float, high: float) -> np.ndarray:
    """Per sample, how many of its values lie outside [low, high] (and are clipped)."""
    x = np.asarray(samples, dtype=np.float64)
    outside = (x < low) | (x > high)
    return outside.reshape(len(x), -1).sum(axis=1).astype(np.int64)
