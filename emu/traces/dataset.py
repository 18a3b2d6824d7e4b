"""Spike traces: one xarray.Dataset per run, stored as HDF5 (h5netcdf), written atomically.

Layout (format version 1)::

    dims    sample, step, layer, neuron_<layer> (one per layer), event (optional)
    coords  sample (global sample index), layer (layer names, in network order)
    spike_count_<layer>(sample, neuron_<layer>)   int32  spikes (Loihi) or activation values (Akida)
    spikes_per_step(sample, step, layer)           int32  spikes of all neurons of a layer per step
    output_per_step(sample, step, neuron_<out>)    uint8  output layer spikes per step (decoding curve)
    prediction(sample), label(sample)              int16  label -1 where unknown
    saturation(layer, kind)                        int64  counts of u wraps, v clips, input overflows
    event_sample, event_step, event_layer, event_neuron (event)   optional sparse raster
    u_<layer>, v_<layer>(sample, step, probe_<layer>)   int32  optional probed compartment state
    input_out_of_range(sample)                     int32  optional: input values outside the
                                                          calibrated range (attribute input_range)

Attributes: ``format``, ``format_version``, ``target``, ``net_digest``, ``device``,
``timesteps``, ``dt``, ``versions`` (JSON) and whatever the network adds.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SATURATION_KINDS",
    "TraceFormatError",
    "make_traces",
    "save_traces",
    "load_traces",
    "package_versions",
]

FORMAT = "neuroemu-traces"
FORMAT_VERSION = 1
SATURATION_KINDS = ("u_wrap", "v_clip", "input_overflow")


class TraceFormatError(ValueError):
    """A file is not a neuroemu trace file, or one this version cannot read."""


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("neuroemu", "brian2", "numpy", "xarray", "h5netcdf"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def make_traces(
    *,
    layers: Sequence[str],
    counts: Mapping[str, np.ndarray],
    spikes_per_step: np.ndarray,
    output_per_step: np.ndarray,
    predictions: np.ndarray,
    labels: np.ndarray | None,
    saturation: np.ndarray,
    attrs: Mapping[str, object],
    sample_offset: int = 0,
    events: Mapping[str, np.ndarray] | None = None,
    probes: Mapping[str, np.ndarray] | None = None,
    probe_neurons: Mapping[str, Sequence[int]] | None = None,
    input_out_of_range: np.ndarray | None = None,
) -> xr.Dataset:
    """Assemble a trace Dataset from per-layer arrays (see the module docstring)."""
    layers = list(layers)
    n = len(predictions)
    output = layers[-1]
    data_vars: dict[str, tuple] = {}
    for name in layers:
        data_vars[f"spike_count_{name}"] = (
            ("sample", f"neuron_{name}"),
            counts[name].astype(np.int32),
        )
    data_vars["spikes_per_step"] = (("sample", "step", "layer"), spikes_per_step.astype(np.int32))
    data_vars["output_per_step"] = (
        ("sample", "step", f"neuron_{output}"),
        output_per_step.astype(np.uint8),
    )
    data_vars["prediction"] = (("sample",), predictions.astype(np.int16))
    label_values = np.full(n, -1, np.int16) if labels is None else np.asarray(labels, np.int16)
    data_vars["label"] = (("sample",), label_values)
    data_vars["saturation"] = (("layer", "kind"), saturation.astype(np.int64))
    if input_out_of_range is not None:
        data_vars["input_out_of_range"] = (("sample",), np.asarray(input_out_of_range, np.int32))
    if events is not None:
        for key in ("sample", "step", "layer", "neuron"):
            data_vars[f"event_{key}"] = (("event",), np.asarray(events[key]).astype(np.int32))
    coords = {
        "sample": np.arange(sample_offset, sample_offset + n),
        "layer": np.array(layers, dtype=object),
        "kind": np.array(SATURATION_KINDS, dtype=object),
    }
    for key, values in (probes or {}).items():
        layer, var = key.rsplit(".", 1)
        data_vars[f"{var}_{layer}"] = (
            ("sample", "step", f"probe_{layer}"),
            values.astype(np.int32),
        )
        coords[f"probe_{layer}"] = np.asarray(probe_neurons[layer], np.int64)
    ds = xr.Dataset(data_vars, coords=coords)
    ds.attrs.update({"format": FORMAT, "format_version": FORMAT_VERSION})
    ds.attrs.update({k: _attr(v) for k, v in attrs.items()})
    ds.attrs.setdefault("versions", json.dumps(package_versions()))
    return ds


def _attr(value: object) -> object:
    if isinstance(value, dict | list | tuple):
        return json.dumps(value)
    if isinstance(value, bool):
        return int(value)
    return value


def save_traces(traces: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``traces`` to ``path`` (HDF5 via h5netcdf) through a temporary file renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        encoding = {
            name: {"compression": "gzip", "compression_opts": 4}
            for name, var in traces.data_vars.items()
            if var.ndim >= 1 and var.size > 1024
        }
        traces.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_traces(path: str | os.PathLike, lazy: bool = False) -> xr.Dataset:
    """Read a trace file written by :func:`save_traces`, checking that it is one.

    With ``lazy`` the arrays stay on disk until selected (dask-backed when dask is installed).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"trace file {path} does not exist")
    from .bounds import check_declared_sizes  # it imports this module

    check_declared_sizes(path)
    try:
        chunks = {} if lazy and _has_dask() else None
        ds = xr.open_dataset(path, engine="h5netcdf", chunks=chunks)
    except Exception as err:  # h5py/h5netcdf raise several unrelated types for a bad file
        raise TraceFormatError(f"{path} is not a readable HDF5 trace file: {err}") from err
    check_format(ds, str(path))
    return ds if lazy else ds.load()


def check_format(ds: xr.Dataset, where: str = "dataset") -> None:
    """Raise TraceFormatError unless ``ds`` is a trace set this version can read."""
    if ds.attrs.get("format") != FORMAT:
        raise TraceFormatError(
            f"{where} is not a neuroemu trace file (attribute 'format' is {ds.attrs.get('format')!r}, "
            f"expected {FORMAT!r})"
        )
    version = int(ds.attrs.get("format_version", -1))
    if version > FORMAT_VERSION:
        raise TraceFormatError(
            f"{where} has trace format version {version}; this neuroemu reads up to {FORMAT_VERSION}: "
            "upgrade neuroemu"
        )
    missing = [v for v in ("spikes_per_step", "prediction", "label") if v not in ds.variables]
    if missing:
        raise TraceFormatError(f"{where} lacks the trace variables {missing}")


def _has_dask() -> bool:
    try:
        import dask  # noqa: F401
    except ImportError:
        return False
    return True
