"""Data-based weight normalization for rate-coded conversion (Diehl 2015, Rueckauer 2017).

For each population ``l`` (a ReLU output or the graph's output) a scale ``lambda_l`` is
taken from calibration data, the maximum or a percentile of its positive activations.
Weights become ``W * lambda_in / lambda_l`` and biases ``b / lambda_l``, so every
population's activation lies mostly in [0, 1], the range of a firing rate.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np

from ..graph import Add, Conv2d, Dense, Graph, Input

__all__ = ["normalize", "activation_scales"]


def activation_scales(
    graph: Graph, calibration: np.ndarray, percentile: float = 99.9, batch_size: int = 256
) -> dict[str, float]:
    """The ``percentile`` of the positive activations of every node (100 means the maximum)."""
    calibration = np.asarray(calibration, dtype=np.float64)
    if calibration.ndim == 0 or len(calibration) == 0:
        raise ValueError("the calibration set is empty: pass at least one input sample")
    if not np.all(np.isfinite(calibration)):
        raise ValueError("the calibration set contains NaN or infinite values")
    if not 0.0 < percentile <= 100.0:
        raise ValueError(f"percentile must lie in (0, 100], got {percentile}")
    positives: dict[str, list[np.ndarray]] = {}
    rng = np.random.default_rng(0)
    for start in range(0, len(calibration), batch_size):
        values = graph.forward(calibration[start : start + batch_size], keep_all=True)
        values[graph.input.name] = calibration[start : start + batch_size]
        for name, v in values.items():
            pos = v[v > 0]
            if pos.size > 200_000:
                pos = rng.choice(pos, 200_000, replace=False)
            positives.setdefault(name, []).append(pos)
    scales = {}
    for name, chunks in positives.items():
        pos = np.concatenate(chunks)
        scales[name] = float(np.percentile(pos, percentile)) if pos.size else 0.0
    return scales


def normalize(
    graph: Graph,
    calibration: np.ndarray,
    percentile: float = 99.9,
    method: str = "percentile",
) -> Graph:
    """Return a copy of ``graph`` whose populations are scaled to [0, 1] on ``calibration``.

    Parameters
    ----------
    graph
        A float graph from :func:`converters.load`.
    calibration
        Input samples, shape (N, *graph.input.shape), N >= 1.
    percentile
        Percentile of positive activations taken as a layer's maximum (``method="percentile"``).
    method
        ``"percentile"`` or ``"max"`` (the plain maximum, percentile 100).
    """
    if method not in ("percentile", "max"):
        raise ValueError(f"method must be 'percentile' or 'max', got {method!r}")
    p = 100.0 if method == "max" else percentile
    lam = activation_scales(graph, calibration, p)
    out = copy.deepcopy(graph)
    populations = {n.name for n in out.nodes if getattr(n, "relu", False)} | {out.output}
    scale: dict[str, float] = {}
    dead = []
    for node in out.nodes:
        if isinstance(node, Input):
            s = lam[node.name] if lam[node.name] > 0 else 1.0
            node.scale = node.scale * s
            scale[node.name] = s
            continue
        s_in = [scale[i] for i in node.inputs]
        target = s_in[0]
        if node.name in populations:
            target = lam[node.name]
            if target <= 0:
                dead.append(node.name)
                target = 1.0
        if isinstance(node, Conv2d | Dense):
            node.weight = node.weight * (s_in[0] / target)
            node.bias = node.bias / target
        elif isinstance(node, Add):
            base = node.scale or (1.0,) * len(node.inputs)
            node.scale = tuple(b * s / target for b, s in zip(base, s_in, strict=True))
        scale[node.name] = target
    if dead:
        warnings.warn(
            f"{len(dead)} layers never activate on the calibration set and keep scale 1: {dead}",
            stacklevel=2,
        )
    return out
