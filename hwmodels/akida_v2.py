"""Akida 2.0 energy, power and latency per frame from activation traces: not validated on silicon.

The AKD1000 model of :mod:`hwmodels.akida` (fixed costs per call, frame and hardware
sequence; synaptic ops, events x non-zero weights touched, on the busiest neural processor;
host layers in BrainChip's software engine) applied to an Akida 2.0 graph placed by
BrainChip's mapper on a virtual v2 mesh (:mod:`hwmodels.akida_v2_mapping`). Per layer::

    synaptic ops = sum over outputs of conv(x != 0, w != 0)   (depthwise per channel,
                   dense (x != 0) @ (w != 0)); Add: its inputs' events; Concatenate: none

No Akida 2.0 device has a published energy or timing measurement: the ``akida_v2_*``
constants of the registry are assumptions, the AKD1000's values with wider ranges, and the
estimate reads them in place of the AKD1000's (:class:`V2Constants`) and says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

import numpy as np
import xarray as xr

from converters.chips.akida_v2 import AkidaV2Layer, AkidaV2Net, accumulate
from emu.traces.stats import count_array

from .akida import ASSUMPTIONS, MODEL, Chip, FrameRun, bounded_estimate
from .akida_v2_constants import CONSTANTS as V2_CONSTANTS
from .akida_v2_constants import v2_name
from .akida_v2_mapping import map_v2_network
from .constants import Constants
from .estimate import Estimate, LayerEstimate
from .trace_input import check_traces

__all__ = [
    "estimate_v2",
    "v2_layer_counts",
    "v2_synaptic_ops",
    "V2_MODEL",
    "V2_ASSUMPTIONS",
    "V2Constants",
]

V2_MODEL = (
    "hwmodels.akida_v2 v1: " + MODEL + ", with BrainChip's mapping on a virtual Akida 2.0 "
    "mesh; NOT validated against Akida 2.0 silicon"
)
V2_ASSUMPTIONS = [
    "no Akida 2.0 device has a published energy or timing measurement: the akida_v2_* "
    "assumptions (the AKD1000's values with wider ranges) give every per-call, per-frame "
    "and per-event cost; the estimate is not validated against silicon",
    "an 8-bit Akida 2.0 event costs what a 4-bit AKD1000 event costs",
    "layers BrainChip's mapper leaves in software run on the host as AKD1000 host layers do",
    *ASSUMPTIONS,
]


_ASSUMED = {c.name for c in V2_CONSTANTS}
AKIDA_V2 = Chip("akida_v2", V2_MODEL, tuple(V2_ASSUMPTIONS))


def _v2_name(name: str) -> str:
    v2 = v2_name(name)
    return v2 if v2 in _ASSUMED else name


class V2Constants(Mapping[str, float]):
    """``constants`` read by the AKD1000 model's names, answering with the registered Akida
    2.0 assumption (``akida_v2_*``) where there is one."""

    def __init__(self, constants: Constants):
        self.base = constants
        self.origin = constants.origin

    def __getitem__(self, name: str) -> float:
        return self.base[_v2_name(name)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.base)

    def __len__(self) -> int:
        return len(self.base)

    def corner(self, end: str, names: list[str]) -> V2Constants:
        """The constants at one end of the named (v2 where registered) constants' ranges."""
        return V2Constants(self.base.corner(end, [_v2_name(n) for n in names]))

    def record(self, names: list[str]) -> dict[str, dict]:
        """Value, range, unit and source of the constants used, under their v2 names."""
        return self.base.record([_v2_name(n) for n in names])


def _structure(layer: AkidaV2Layer) -> AkidaV2Layer:
    """The layer with a weight of 1 where it has a non-zero weight and no input shift."""
    zeros = np.zeros_like(layer.padding_value if layer.kind == "input_conv" else layer.input_shift)
    field = "padding_value" if layer.kind == "input_conv" else "input_shift"
    return dataclasses.replace(
        layer, weights=(layer.weights != 0).astype(np.int64), weight_bits=8, **{field: zeros}
    )


def v2_synaptic_ops(layer: AkidaV2Layer, inputs: list[np.ndarray]) -> np.ndarray:
    """Synaptic ops per sample of ``layer`` on its inbounds' integer outputs (N, H, W, C)."""
    events = [np.asarray(x) != 0 for x in inputs]
    if layer.kind == "concat":
        return np.zeros(len(events[0]))
    if layer.kind == "add":
        return sum(e.reshape(len(e), -1).sum(axis=1) for e in events).astype(np.float64)
    ops = accumulate(events[0].astype(np.int64), _structure(layer))
    return ops.reshape(len(ops), -1).sum(axis=1).astype(np.float64)


def v2_layer_counts(net: AkidaV2Net, traces: xr.Dataset) -> tuple[list[LayerEstimate], int]:
    """Per layer, per frame: synaptic ops, events, outputs before pooling; and the frames."""
    names = net.layer_names
    acts = {name: count_array(traces, name) for name in names}
    n = len(acts[names[0]])
    shapes = {net.input_name: net.input_shape} | {ly.name: ly.output_shape for ly in net.layers}
    layers = [LayerEstimate(names[0], 0.0, {"events": float(np.count_nonzero(acts[names[0]]) / n)})]
    for layer in net.layers:
        inputs = [acts[name].reshape(n, *shapes[name]) for name in layer.inbounds]
        ops = v2_synaptic_ops(layer, inputs)
        fires = np.count_nonzero(acts[layer.name], axis=1)
        counts = {"synaptic_ops": float(ops.mean()), "events": float(fires.mean()),
                  "outputs": float(np.prod(layer.conv_shape))}  # fmt: skip
        layers.append(LayerEstimate(layer.name, 0.0, counts))
    return layers, n


def estimate_v2(
    net: AkidaV2Net,
    traces: xr.Dataset,
    *,
    device: str = "SixNodesIPv2",
    constants: Constants | None = None,
    rate: float | None = None,
    label: str = "akida_v2",
    frames_per_call: int | None = None,
) -> Estimate:
    """Estimate an Akida 2.0 graph's energy, power and latency per frame (not validated).

    Parameters
    ----------
    net
        The graph the traces were recorded from (checked by digest and layer sizes).
    traces
        A trace Dataset with ``target="akida_v2"``.
    device
        The virtual Akida 2.0 mesh BrainChip's mapper places the graph on.
    constants, rate, label, frames_per_call
        As in :func:`hwmodels.akida.estimate`.
    """
    c = V2Constants(constants or Constants())
    check_traces(net, traces, "akida_v2")
    mapping = map_v2_network(net, device)
    counted, _ = v2_layer_counts(net, traces)
    run = FrameRun(counted=counted, mapping=mapping, rate=rate, frames_per_call=frames_per_call,
                   label=label, chip=AKIDA_V2)  # fmt: skip
    return bounded_estimate(net, traces, run, c)
