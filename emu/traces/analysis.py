"""Analysis of spike traces: per-layer summaries, comparison of two runs, accuracy against steps.

NeuroBench's metrics of a run (:func:`neurobench_metrics`) live in :mod:`emu.neurobench_metrics`.

Every function takes a trace Dataset as :func:`emu.open_traces` or :func:`emu.load_traces`
returns it and reads these names (docs/design.md, "Spike traces")::

    spike_count_<layer>(sample, neuron_<layer>)   spikes per neuron (Akida: activation values)
    spikes_per_step(sample, step, layer)           spikes of a layer per step
    output_per_step(sample, step, neuron_<out>)    output spikes per step
    prediction(sample), label(sample)              label -1 where unknown
    saturation(layer, kind)                        counts of u wraps, v clips, input overflows
    event_sample, event_step, event_layer, event_neuron (event)   optional raster

Lazy (dask-backed) inputs are reduced chunk by chunk, so a 10,000-sample file fits in memory.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import dask
import numpy as np
import xarray as xr

from ..neurobench_metrics import NeuroBenchMetrics, neurobench_metrics
from .access import event_blocks, missing_samples
from .stats import is_akida, labelled_accuracy, layer_names

__all__ = [
    "LayerSummary",
    "RunSummary",
    "LayerComparison",
    "Comparison",
    "summary",
    "compare",
    "accuracy_vs_steps",
    "first_spike_steps",
    "NeuroBenchMetrics",
    "neurobench_metrics",
]

_BLOCK_CELLS = 1 << 24  # (sample, neuron) cells per pass of first_spike_steps


@dataclass
class LayerSummary:
    """Activity of one layer, averaged over the recorded samples."""

    name: str
    neurons: int
    spikes_per_sample: float  # Akida: sum of activation values per sample
    nonzero_per_sample: float  # neurons with a non-zero count (Akida: non-zero activations)
    firing_rate: float | None  # spikes per neuron per step (None for one-shot Akida layers)
    silent_fraction: float  # neurons silent in every sample
    first_step: float | None  # mean step of the layer's first spike (samples where it spikes)
    first_spike_latency: float | None  # mean first-spike step per firing neuron (needs events)
    saturation: dict[str, int]


@dataclass
class RunSummary:
    """What a trace file holds and how its network behaved."""

    samples: int
    timesteps: int
    target: str
    net_digest: str
    accuracy: float | None  # over samples with a label; None if none has one
    labelled: int
    missing_samples: list[tuple[int, int]]
    layers: list[LayerSummary] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LayerComparison:
    """One layer of two runs on their common samples (b minus a)."""

    name: str
    spikes_per_sample_a: float  # Akida: sum of activation values per sample
    spikes_per_sample_b: float
    rate_a: float | None  # spikes per neuron per step (None for one-shot Akida layers)
    rate_b: float | None
    mean_abs_count_diff: float  # per neuron and sample
    identical_fraction: float  # fraction of (sample, neuron) counts equal in both


@dataclass
class Comparison:
    """Two runs of one network under two settings, on the samples both hold."""

    samples: int
    same_network: bool  # equal net_digest
    prediction_agreement: float
    accuracy_a: float | None
    accuracy_b: float | None
    layers: list[LayerComparison] = field(default_factory=list)
    target: str = "unknown"

    def to_dict(self) -> dict:
        return asdict(self)


def _timesteps(tr: xr.Dataset) -> int:
    return int(tr.sizes["step"])


def summary(tr: xr.Dataset) -> RunSummary:
    """Per-layer activity, accuracy and saturation of a trace set.

    Parameters
    ----------
    tr
        Traces with the variables listed in the module docstring; ``event_*`` are optional
        (without them ``first_spike_latency`` is None).
    """
    layers = layer_names(tr)
    akida = is_akida(tr)
    lazy = {}
    for name in layers:
        counts = tr[f"spike_count_{name}"]
        lazy[name] = (
            counts.sum(dim=f"neuron_{name}").mean("sample"),
            (counts != 0).sum(dim=f"neuron_{name}").mean("sample"),
            (counts != 0).any("sample").sum(),
        )
    spiking = tr["spikes_per_step"] > 0
    first = spiking.argmax("step").where(spiking.any("step"))
    lazy["_first"] = first.mean("sample")
    lazy["_io"] = (tr["prediction"], tr["label"], tr["saturation"])
    (values,) = dask.compute(lazy)
    prediction, label, saturation = (np.asarray(v) for v in values["_io"])
    accuracy, labelled = labelled_accuracy(prediction, label)
    first_mean = np.asarray(values["_first"])
    latency = _neuron_latency(tr) if "event_sample" in tr else None
    steps = _timesteps(tr)
    kinds = [str(k) for k in tr["kind"].values]
    out = RunSummary(
        samples=int(tr.sizes["sample"]),
        timesteps=int(tr.attrs.get("timesteps", steps)),
        target=str(tr.attrs.get("target", "unknown")),
        net_digest=str(tr.attrs.get("net_digest", "")),
        accuracy=accuracy,
        labelled=labelled,
        missing_samples=missing_samples(tr),
    )
    for k, name in enumerate(layers):
        total, nonzero, active = (float(v) for v in values[name])
        neurons = int(tr.sizes[f"neuron_{name}"])
        out.layers.append(
            LayerSummary(
                name=name,
                neurons=neurons,
                spikes_per_sample=total,
                nonzero_per_sample=nonzero,
                firing_rate=None if akida else total / (neurons * steps),
                silent_fraction=1.0 - active / neurons,
                first_step=None if np.isnan(first_mean[k]) else float(first_mean[k]),
                first_spike_latency=None if latency is None else latency[k],
                saturation={kind: int(saturation[k, j]) for j, kind in enumerate(kinds)},
            )
        )
    return out


def first_spike_steps(tr: xr.Dataset, layer: str, samples: slice | None = None) -> np.ndarray:
    """First-spike step of every neuron of ``layer``, shape (sample, neuron); -1 where silent.

    Reads the events chunk by chunk; ``samples`` is a slice of positions along ``sample``
    (``event_sample`` holds the global sample indices of the ``sample`` coordinate).
    """
    if "event_sample" not in tr:
        raise ValueError("these traces hold no events: first-spike steps need the raster")
    k = layer_names(tr).index(layer)
    lo, hi, _ = (samples or slice(None)).indices(tr.sizes["sample"])
    size = int(tr.sizes[f"neuron_{layer}"])
    first = np.full((hi - lo) * size, np.iinfo(np.int32).max, np.int32)
    for s, t, lay, n in _event_blocks(tr):
        keep = (lay == k) & (s >= lo) & (s < hi)
        np.minimum.at(first, (s[keep] - lo) * size + n[keep], t[keep].astype(np.int32))
    first = first.reshape(hi - lo, size)
    first[first == np.iinfo(np.int32).max] = -1
    return first


def _event_blocks(tr: xr.Dataset):
    """(sample position, step, layer, neuron) arrays of the events, one chunk at a time."""
    coords = tr["sample"].values
    contiguous = np.array_equal(coords, np.arange(coords[0], coords[0] + len(coords)))
    for sample, step, layer, neuron in event_blocks(tr):
        s = sample()
        position = s - coords[0] if contiguous else np.searchsorted(coords, s)
        yield position, step(), layer(), neuron()


def _neuron_latency(tr: xr.Dataset) -> list[float | None]:
    """Mean first-spike step over (sample, neuron) pairs that fire, per layer."""
    layers = layer_names(tr)
    sizes = np.array([tr.sizes[f"neuron_{n}"] for n in layers])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    n_samples = tr.sizes["sample"]
    block = max(1, _BLOCK_CELLS // int(sizes.sum()))
    totals = np.zeros(len(layers))
    firing = np.zeros(len(layers))
    total = int(sizes.sum())
    big = np.iinfo(np.int32).max
    for lo in range(0, n_samples, block):
        hi = min(lo + block, n_samples)
        first = np.full((hi - lo) * total, big, np.int32)  # flat (sample, neuron): 1-D is fast
        for s, t, lay, n in _event_blocks(tr):
            keep = (s >= lo) & (s < hi)
            cell = (s[keep] - lo) * total + offsets[lay[keep]] + n[keep]
            np.minimum.at(first, cell, t[keep].astype(np.int32))
        first = first.reshape(hi - lo, total)
        for k in range(len(layers)):
            part = first[:, offsets[k] : offsets[k] + sizes[k]]
            fired = part != big
            totals[k] += part[fired].sum(dtype=np.int64)
            firing[k] += fired.sum()
    return [float(t / f) if f else None for t, f in zip(totals, firing, strict=True)]


def compare(tr_a: xr.Dataset, tr_b: xr.Dataset) -> Comparison:
    """Per-layer differences and prediction agreement of two runs on their common samples.

    Both must have the same layers with the same neuron counts (the same network, perhaps
    under other settings such as timesteps or reset); rates are per step of each run.
    """
    la, lb = layer_names(tr_a), layer_names(tr_b)
    if la != lb:
        raise ValueError(f"the runs have different layers: {la} and {lb}")
    for name in la:
        na, nb = tr_a.sizes[f"neuron_{name}"], tr_b.sizes[f"neuron_{name}"]
        if na != nb:
            raise ValueError(f"layer {name!r} has {na} neurons in one run and {nb} in the other")
    common = np.intersect1d(tr_a["sample"].values, tr_b["sample"].values)
    if common.size == 0:
        raise ValueError("the runs share no sample")
    a, b = tr_a.sel(sample=common), tr_b.sel(sample=common)
    lazy = {"_io": (a["prediction"], b["prediction"], a["label"], b["label"])}
    for name in la:
        ca, cb = a[f"spike_count_{name}"], b[f"spike_count_{name}"]
        dim = f"neuron_{name}"
        ca, cb = ca.astype(np.int64), cb.astype(np.int64)
        lazy[name] = (
            ca.sum(dim).mean(),
            cb.sum(dim).mean(),
            abs(cb - ca).mean(),
            (cb == ca).mean(),
        )
    (values,) = dask.compute(lazy)
    pa, pb, ya, yb = (np.asarray(v) for v in values["_io"])
    steps_a, steps_b = _timesteps(tr_a), _timesteps(tr_b)
    out = Comparison(
        samples=int(common.size),
        same_network=tr_a.attrs.get("net_digest") == tr_b.attrs.get("net_digest"),
        prediction_agreement=float(np.mean(pa == pb)),
        accuracy_a=labelled_accuracy(pa, ya)[0],
        accuracy_b=labelled_accuracy(pb, yb)[0],
        target=str(tr_a.attrs.get("target", "unknown")),
    )
    akida = is_akida(tr_a)
    for name in la:
        sa, sb, diff, same = (float(v) for v in values[name])
        n = tr_a.sizes[f"neuron_{name}"]
        rate_a, rate_b = (None, None) if akida else (sa / (n * steps_a), sb / (n * steps_b))
        out.layers.append(LayerComparison(name, sa, sb, rate_a, rate_b, diff, same))
    return out


def accuracy_vs_steps(tr: xr.DataArray | xr.Dataset) -> xr.DataArray:
    """Accuracy had the run stopped after 1, 2, ..., T steps, from one run's output spikes.

    The prediction after ``t`` steps is the output neuron with the most spikes in steps
    ``0..t-1`` (the lowest index on ties, as ``argmax``), over samples with a label.

    Returns
    -------
    xarray.DataArray
        dims ``steps`` (1..T), the accuracy after that many steps.
    """
    known = np.asarray(tr["label"].values) >= 0
    if not known.any():
        raise ValueError("no sample has a label: accuracy needs labels")
    out = tr["output_per_step"].isel(sample=np.flatnonzero(known))
    label = np.asarray(tr["label"].values)[known]
    neuron = out.dims[2]
    cumulative = out.astype(np.int32).cumsum("step")
    prediction = cumulative.argmax(neuron)
    correct = (prediction == xr.DataArray(label, dims="sample")).mean("sample")
    values = np.asarray(correct.values, dtype=np.float64)
    return xr.DataArray(
        values,
        dims="steps",
        coords={"steps": np.arange(1, len(values) + 1)},
        name="accuracy",
    )
