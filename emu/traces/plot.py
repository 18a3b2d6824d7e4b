"""PNG plots of spike traces (matplotlib, Agg backend, no display needed).

Each function takes a trace Dataset (see :mod:`emu.traces.analysis` for the names it reads), writes
one PNG and returns its path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from . import analysis  # noqa: E402
from .access import sample_events  # noqa: E402
from .stats import is_akida, layer_names  # noqa: E402

__all__ = [
    "raster",
    "activity",
    "rate_histograms",
    "accuracy_vs_steps",
    "activation_histograms",
    "all_plots",
]


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def raster(
    tr: xr.Dataset,
    sample: int,
    layers: Sequence[str] | None = None,
    path: str | os.PathLike = "raster.png",
) -> Path:
    """Spike raster of one sample (global sample index), one panel per layer."""
    events = sample_events(tr, sample, layers)
    fig, axes = plt.subplots(
        len(events), 1, figsize=(8, 1.6 * len(events) + 0.6), sharex=True, squeeze=False
    )
    steps = tr.sizes["step"]
    for ax, (name, (step, neuron)) in zip(axes[:, 0], events.items(), strict=True):
        ax.scatter(step, neuron, s=2, marker="|", color="k")
        ax.set_ylabel(name, rotation=0, ha="right")
        ax.set_ylim(-0.5, tr.sizes[f"neuron_{name}"] - 0.5)
        ax.set_xlim(-0.5, steps - 0.5)
    axes[-1, 0].set_xlabel("step")
    fig.suptitle(f"sample {sample}")
    fig.tight_layout()
    return _save(fig, path)


def _event_fractions(tr: xr.Dataset) -> dict[str, np.ndarray]:
    """Per layer and neuron: the fraction of samples with a non-zero activation (an event)."""
    return {
        name: np.asarray((tr[f"spike_count_{name}"] != 0).mean("sample").values, np.float64)
        for name in layer_names(tr)
    }


def activity(tr: xr.Dataset, path: str | os.PathLike = "activity.png") -> Path:
    """Spikes per step and neuron of every layer, averaged over samples.

    Akida traces (one frame): the fraction of each layer's neurons with an event (a non-zero
    activation) per sample, one bar per layer.
    """
    if is_akida(tr):
        fractions = _event_fractions(tr)
        fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(fractions) + 2), 4))
        ax.bar(list(fractions), [float(f.mean()) for f in fractions.values()], color="C0")
        ax.set_ylabel("events per neuron and sample")
        ax.set_ylim(0, 1)
        ax.tick_params(axis="x", rotation=45, labelsize="small")
        ax.set_title("Akida: non-zero activations", fontsize="small")
        fig.tight_layout()
        return _save(fig, path)
    per_step = tr["spikes_per_step"].mean("sample").values
    fig, ax = plt.subplots(figsize=(8, 4))
    for k, name in enumerate(layer_names(tr)):
        ax.plot(per_step[:, k] / tr.sizes[f"neuron_{name}"], label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("spikes per neuron")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, path)


def rate_histograms(tr: xr.Dataset, path: str | os.PathLike = "rates.png") -> Path:
    """Per-layer histograms of neuron firing rates (spikes per step, averaged over samples).

    Akida traces: of each neuron's event rate (the fraction of samples it is non-zero in).
    """
    layers = layer_names(tr)
    steps = tr.sizes["step"]
    akida = is_akida(tr)
    fractions = _event_fractions(tr) if akida else {}
    fig, axes = plt.subplots(1, len(layers), figsize=(3 * len(layers), 3), squeeze=False)
    for ax, name in zip(axes[0], layers, strict=True):
        if akida:
            rates = fractions[name]
        else:
            rates = tr[f"spike_count_{name}"].mean("sample").values / steps
        ax.hist(rates, bins=20, range=(0.0, max(1.0, float(rates.max()))), color="C0")
        ax.set_title(name, fontsize="small")
        ax.set_xlabel("events per sample" if akida else "rate")
    axes[0, 0].set_ylabel("neurons")
    fig.tight_layout()
    return _save(fig, path)


def accuracy_vs_steps(tr: xr.Dataset, path: str | os.PathLike = "accuracy.png") -> Path:
    """Accuracy had the run stopped after each step (see :func:`emu.traces.analysis.accuracy_vs_steps`)."""
    curve = analysis.accuracy_vs_steps(tr)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(curve["steps"], curve.values)
    ax.set_xlabel("timesteps")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def activation_histograms(tr: xr.Dataset, path: str | os.PathLike = "activations.png") -> Path:
    """Per-layer histograms of Akida activation values (the output layer's may be signed)."""
    layers = layer_names(tr)
    fig, axes = plt.subplots(1, len(layers), figsize=(3 * len(layers), 3), squeeze=False)
    for ax, name in zip(axes[0], layers, strict=True):
        values = np.asarray(tr[f"spike_count_{name}"].values, np.float64).ravel()
        ax.hist(values, bins=30, color="C2")
        ax.set_yscale("log")
        ax.set_title(name, fontsize="small")
        ax.set_xlabel("activation value")
    axes[0, 0].set_ylabel("neuron x sample")
    fig.tight_layout()
    return _save(fig, path)


def all_plots(
    tr: xr.Dataset, directory: str | os.PathLike, sample: int | None = None
) -> list[Path]:
    """Every plot the traces allow, into ``directory``: a raster needs events, accuracy labels.

    Akida traces (one frame per sample) get activation histograms instead of the accuracy
    against timesteps.
    """
    directory = Path(directory)
    paths = [activity(tr, directory / "activity.png"), rate_histograms(tr, directory / "rates.png")]
    if is_akida(tr):
        return [*paths, activation_histograms(tr, directory / "activations.png")]
    if "event_sample" in tr:
        first = int(tr["sample"].values[0]) if sample is None else sample
        paths.append(raster(tr, first, path=directory / f"raster_{first}.png"))
    if (np.asarray(tr["label"].values) >= 0).any():
        paths.append(accuracy_vs_steps(tr, directory / "accuracy.png"))
    return paths
