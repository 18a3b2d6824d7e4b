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
    "is_akida",
    "saturation_lines",
    "SATURATION_REMEDY",
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


def is_akida(tr: xr.Dataset) -> bool:
    """True for Akida traces (one frame per sample, activation values instead of spikes)."""
    return str(tr.attrs.get("target", "")) == "akida"


# what each saturation kind means, per target: the chip's own arithmetic, or where the
# emulation and a chip may part
_SATURATION_WORDS = {
    ("loihi", "v_clip"): "v clips (the chip's own arithmetic: v saturates at +-(2**23 - 1))",
    ("loihi", "u_wrap"): (
        "u wraps (24-bit wrap-around as documented; where the emulation and a chip may part)"
    ),
    ("loihi", "input_overflow"): (
        "step inputs beyond +-2**21 (undefined on the chip; where the emulation and a chip "
        "may part)"
    ),
    ("akida", "v_clip"): "potential saturations (the chip's own 20-bit arithmetic)",
}
SATURATION_REMEDY = (
    "remedy: rescale (normalize with a lower --percentile), give the weights more bits, or "
    "lower the input scale"
)


def saturation_lines(tr: xr.Dataset) -> list[str]:
    """One line per layer whose traces counted saturations, in words that say what they mean.

    A remedy line follows when any layer saturated: the chip computes v clips the same
    way, but they move the outputs away from the float network's.
    """
    if "saturation" not in tr.variables:
        return []
    target = "akida" if is_akida(tr) else "loihi"
    kinds = [str(k) for k in tr["kind"].values] if "kind" in tr.coords else []
    values = np.asarray(tr["saturation"].values)
    out = []
    for i, layer in enumerate(layer_names(tr)):
        hits = [(kind, int(v)) for kind, v in zip(kinds, values[i], strict=False) if v]
        if hits:
            said = "; ".join(
                f"{v:,} {_SATURATION_WORDS.get((target, kind), kind.replace('_', ' '))}"
                for kind, v in hits
            )
            out.append(f"saturation in layer {layer!r}: {said}")
    if out:
        out.append(SATURATION_REMEDY)
    return out
