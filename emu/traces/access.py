"""Lazy access to trace files and to the shards of partial runs, with checked selections.

:func:`open_traces` reads metadata only: every variable stays on disk as a dask array and a
selection (by sample, layer, step or neuron) reads only the HDF5 chunks it touches.

The shard layout of a long run is that of :mod:`emu.traces.store`.
``event_sample`` holds global sample indices (values of the ``sample`` coordinate) in every
trace file, shard or not. A run that stopped early opens with the samples it finished;
``attrs["missing_samples"]`` lists the absent ranges and a :class:`PartialRunWarning` says so.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import dask.array  # noqa: F401  (chunked variables; imported here, not on the first open)
import numpy as np
import xarray as xr

from .stats import layer_names
from .store import open_lazy, open_shards, shard_directory

__all__ = [
    "PartialRunWarning",
    "SelectionError",
    "open_traces",
    "missing_samples",
    "select",
    "layer_counts",
    "sample_events",
    "event_blocks",
]


class PartialRunWarning(UserWarning):
    """A run's shards do not yet hold every sample its manifest announces."""


class SelectionError(IndexError):
    """A selection names samples, layers, steps or neurons that the traces do not hold."""


def open_traces(path: str | os.PathLike) -> xr.Dataset:
    """Open a trace file or a run's shard directory lazily (metadata only).

    Parameters
    ----------
    path
        A trace file (``run.h5``), a shard directory (``run.h5.shards``), or ``run.h5``
        whose file is absent but whose shard directory exists.

    Returns
    -------
    xarray.Dataset
        Dask-backed; ``attrs["missing_samples"]`` holds ``[[first, last], ...]`` as JSON
        (empty for a complete file).
    """
    path = Path(path)
    if path.is_dir():
        return _open_partial(path)
    shards = shard_directory(path)
    if not path.exists() and shards.is_dir():
        return _open_partial(shards)
    ds = open_lazy(path)
    ds.attrs["missing_samples"] = "[]"
    return ds


def _open_partial(directory: Path) -> xr.Dataset:
    combined, total, missing = open_shards(directory)
    combined.attrs["total_samples"] = total
    combined.attrs["missing_samples"] = json.dumps(missing)
    if missing:
        warnings.warn(
            f"{directory} holds {combined.sizes['sample']} of {total} samples; missing "
            + ", ".join(f"{a}..{b}" for a, b in missing),
            PartialRunWarning,
            stacklevel=3,
        )
    return combined


def missing_samples(tr: xr.Dataset) -> list[tuple[int, int]]:
    """Inclusive ranges of samples a partial run has not written yet (empty if complete)."""
    return [tuple(r) for r in json.loads(tr.attrs.get("missing_samples", "[]"))]


def _check_samples(tr: xr.Dataset, sample) -> object:
    recorded = tr["sample"].values
    if isinstance(sample, slice):
        wanted = np.array([b for b in (sample.start, sample.stop) if b is not None])
        absent = wanted[(wanted < recorded.min()) | (wanted > recorded.max())]
    else:
        absent = np.setdiff1d(np.atleast_1d(np.asarray(sample)), recorded)
    if absent.size:
        holes = missing_samples(tr)
        note = f"; this partial run lacks {holes}" if holes else ""
        raise SelectionError(
            f"samples {absent[:10].tolist()} are not recorded: the traces hold "
            f"{len(recorded)} samples in {int(recorded.min())}..{int(recorded.max())}{note}"
        )
    return sample


def _check_index(name: str, index, size: int) -> object:
    if isinstance(index, slice):
        start, stop, _ = index.indices(size)
        if (index.start is not None and not -size <= index.start < size) or (
            index.stop is not None and index.stop > size
        ):
            raise SelectionError(f"{name} slice {index} is outside the recorded 0..{size - 1}")
        return slice(start, stop, index.step)
    values = np.atleast_1d(np.asarray(index))
    if values.size and (values.min() < 0 or values.max() >= size):
        raise SelectionError(
            f"{name} {values[(values < 0) | (values >= size)][:10].tolist()} outside the "
            f"recorded 0..{size - 1}"
        )
    return index


def _check_layers(tr: xr.Dataset, layers: str | Sequence[str]) -> list[str]:
    names = [layers] if isinstance(layers, str) else list(layers)
    unknown = [n for n in names if n not in layer_names(tr)]
    if unknown:
        raise SelectionError(f"layers {unknown} are not in the traces; layers: {layer_names(tr)}")
    return names


def select(
    tr: xr.Dataset,
    sample: int | slice | Sequence[int] | None = None,
    layers: str | Sequence[str] | None = None,
    step: int | slice | Sequence[int] | None = None,
) -> xr.Dataset:
    """A lazy sub-Dataset of the given samples (global indices), layers and steps.

    Raises :class:`SelectionError` for anything outside the recorded range. Events are
    dropped from the result (use :func:`sample_events`).
    """
    out = tr.drop_vars([v for v in tr.data_vars if str(v).startswith("event_")])
    if layers is not None:
        names = _check_layers(tr, layers)
        drop = [
            f"spike_count_{n}"
            for n in layer_names(tr)
            if n not in names and f"spike_count_{n}" in out
        ]
        out = out.drop_vars(drop).sel(layer=names)
    if sample is not None:
        out = out.sel(sample=_check_samples(tr, sample))
    if step is not None:
        out = out.isel(step=_check_index("step", step, tr.sizes["step"]))
    return out


def layer_counts(
    tr: xr.Dataset,
    layer: str,
    sample: int | slice | Sequence[int] | None = None,
    neuron: int | slice | Sequence[int] | None = None,
) -> xr.DataArray:
    """``spike_count_<layer>(sample, neuron_<layer>)``, lazily, checked against the recorded range.

    :func:`emu.traces.stats.count_array` reads a whole layer into memory instead.
    """
    (layer,) = _check_layers(tr, layer)
    counts = tr[f"spike_count_{layer}"]
    if sample is not None:
        counts = counts.sel(sample=_check_samples(tr, sample))
    if neuron is not None:
        dim = f"neuron_{layer}"
        counts = counts.isel({dim: _check_index(dim, neuron, tr.sizes[dim])})
    return counts


def sample_events(
    tr: xr.Dataset, sample: int, layers: str | Sequence[str] | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The spike raster of one sample: ``{layer: (steps, neurons)}``, read chunk by chunk.

    Raises :class:`SelectionError` if the traces hold no events or not that sample.
    """
    if "event_sample" not in tr:
        raise SelectionError(
            "these traces hold no events (the run did not record the raster; "
            "record_events=True records it)"
        )
    _check_samples(tr, [sample])
    names = layer_names(tr) if layers is None else _check_layers(tr, layers)
    index = {n: k for k, n in enumerate(layer_names(tr))}
    wanted = np.array([index[n] for n in names])
    step, layer, neuron = [], [], []
    for sample_block, step_block, layer_block, neuron_block in event_blocks(tr):
        hit = np.flatnonzero(sample_block() == sample)
        if hit.size == 0:
            continue
        lay = layer_block()[hit]
        keep = np.isin(lay, wanted)
        step.append(step_block()[hit][keep])
        neuron.append(neuron_block()[hit][keep])
        layer.append(lay[keep])
    step_all, layer_all, neuron_all = (_join(step), _join(layer), _join(neuron))
    return {n: (step_all[layer_all == index[n]], neuron_all[layer_all == index[n]]) for n in names}


def _join(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, np.int32)


def event_blocks(tr: xr.Dataset):
    """Iterate over the event arrays chunk by chunk.

    Yields
    ------
    tuple
        Four callables (sample, step, layer, neuron), each reading that chunk of its
        ``event_*`` variable as a numpy array, so a caller reads only what it needs.
    """
    data = [tr[f"event_{k}"].data for k in ("sample", "step", "layer", "neuron")]
    if not hasattr(data[0], "blocks"):
        yield tuple((lambda d=d: np.asarray(d)) for d in data)
        return
    for i in range(data[0].numblocks[0]):
        yield tuple((lambda d=d, i=i: np.asarray(d.blocks[i].compute())) for d in data)
