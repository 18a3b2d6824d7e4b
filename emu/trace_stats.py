"""Per-layer counts, layer lists and accuracy of a trace Dataset, for every reader of traces."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = [
    "layer_names",
    "labelled_accuracy",
    "accuracy",
    "count_array",
    "step_array",
    "spikes_per_sample",
]


def layer_names(tr: xr.Dataset) -> list[str]:
    """The recorded layers, input first, as the ``layer`` coordinate lists them."""
    return [str(name) for name in tr["layer"].values]


def labelled_accuracy(prediction: np.ndarray, label: np.ndarray) -> tuple[float | None, int]:
    """Fraction of labelled samples (label >= 0) predicted right, and how many are labelled."""
    prediction, label = np.asarray(prediction), np.asarray(label)
    known = label >= 0
    if not known.any():
        return None, 0
    return float(np.mean(prediction[known] == label[known])), int(known.sum())


def accuracy(tr: xr.Dataset) -> float | None:
    """Accuracy of a run over its labelled samples (None when no sample has a label)."""
    return labelled_accuracy(tr["prediction"].values, tr["label"].values)[0]


def count_array(tr: xr.Dataset, name: str) -> np.ndarray:
    """Spike counts (Akida: activation values) of one layer, (sample, neuron), in memory as float64."""
    return np.asarray(tr[f"spike_count_{name}"].values, np.float64)


def step_array(tr: xr.Dataset) -> np.ndarray:
    """Spikes (or events) per sample, step and layer, in memory as float64."""
    return np.asarray(tr["spikes_per_step"].values, np.float64)


def spikes_per_sample(tr: xr.Dataset) -> dict[str, float]:
    """Mean spikes per sample of every layer."""
    totals = tr["spikes_per_step"].sum(dim=("sample", "step")).values / tr.sizes["sample"]
    return dict(zip(layer_names(tr), map(float, totals), strict=True))
