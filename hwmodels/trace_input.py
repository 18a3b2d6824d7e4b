"""The check that a trace set was recorded from the network a hardware model is given."""

from __future__ import annotations

import numpy as np
import xarray as xr

from emu.traces.stats import layer_names, saturation_lines

from .models import models_for

__all__ = ["TraceMismatchError", "check_traces", "saturation_warnings"]


class TraceMismatchError(ValueError):
    """Traces that were not recorded from the given network, or lack what a model reads."""


def check_traces(net, traces: xr.Dataset, target: str) -> None:
    """Raise TraceMismatchError unless ``traces`` were recorded from ``net`` on ``target``.

    Checks the target chip, the network digest, that every layer's spike counts are present
    with the layer's size, and the per-step totals, and that the counts are what the chip
    records: Loihi's spike counts integers >= 0, Akida's activations finite numbers (the
    output layer's potentials may be negative).
    """
    got = traces.attrs.get("target")
    if got != target:
        raise TraceMismatchError(f"the traces are for target {got!r}, this model needs {target!r}")
    kind = models_for(target).traces
    digest = traces.attrs.get("net_digest")
    if digest != net.digest():
        raise TraceMismatchError(
            f"the traces were recorded from network {digest!r}, not from the given network "
            f"{net.digest()!r}: pass the network that produced them"
        )
    sizes = _LAYER_SIZES[kind](net)
    missing = [f"spike_count_{n}" for n in sizes if f"spike_count_{n}" not in traces.variables]
    missing += [v for v in ("spikes_per_step", "prediction", "label") if v not in traces.variables]
    if missing:
        raise TraceMismatchError(f"the traces lack the variables {missing}")
    for name, size in sizes.items():
        got_size = traces[f"spike_count_{name}"].shape[1]
        if got_size != size:
            raise TraceMismatchError(
                f"layer {name!r} has {size} neurons but its traces hold {got_size}"
            )
    layers = layer_names(traces) if "layer" in traces.coords else []
    if layers != list(sizes):
        raise TraceMismatchError(f"the traces hold layers {layers}, the network {list(sizes)}")
    check = _VALUE_CHECKS[kind]
    for name in [f"spike_count_{n}" for n in sizes] + ["spikes_per_step"]:
        check(traces[name], name)


def _check_activations(values: xr.DataArray, name: str) -> None:
    """Akida activations are finite numbers (a forged file could change every figure)."""
    if not np.issubdtype(values.dtype, np.number) or not np.all(np.isfinite(values.values)):
        raise TraceMismatchError(f"{name} holds values that are not finite numbers")


def _check_counts(values: xr.DataArray, name: str) -> None:
    """Spike counts are integers >= 0 (a forged file could change every figure)."""
    if not np.issubdtype(values.dtype, np.integer):
        raise TraceMismatchError(f"{name} holds {values.dtype} values; spike counts are integers")
    low = int(values.min()) if values.size else 0
    if low < 0:
        raise TraceMismatchError(
            f"{name} holds the negative spike count {low}; counts are integers >= 0"
        )


def _compartment_sizes(net) -> dict[str, int]:
    """Neurons per layer of a Loihi network, its input included."""
    return {layer.name: layer.size for layer in net.all_layers()}


def _output_sizes(net) -> dict[str, int]:
    """Outputs of the input and of every layer of an Akida network."""
    sizes = {net.input_name: int(np.prod(net.input_shape))}
    sizes.update({layer.name: int(np.prod(layer.output_shape)) for layer in net.layers})
    return sizes


# by what the traces count (:attr:`hwmodels.models.HardwareModel.traces`)
_LAYER_SIZES = {"spikes": _compartment_sizes, "activations": _output_sizes}
_VALUE_CHECKS = {"spikes": _check_counts, "activations": _check_activations}


def saturation_warnings(traces: xr.Dataset) -> list[str]:
    """One line per layer whose traces counted saturations, then the remedy.

    The words say which counts are the chip's own arithmetic (v clips, Akida's 20-bit
    potentials) and which mark where the emulation and a chip may part (u wraps, undefined
    input overflows); see :func:`emu.traces.stats.saturation_lines`.
    """
    return saturation_lines(traces)
