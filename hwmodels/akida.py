"""Akida (AKD1000) energy, power and latency per frame from activation traces.

Akida integrates all input events of a frame, then fires once, so per frame::

    synaptic ops = sum over layers of sum over input events of the non-zero weights each touches
                 = sum over a layer's outputs of conv(x != 0, w != 0)     (dense: (x != 0) @ (w != 0))
    fires        = non-zero outputs of every layer (events it emits)
    E_dynamic    = akida_synop_energy * synaptic ops + akida_fire_energy * fires
    frame time   = akida_synop_time * synaptic ops
    E_static     = akida_floor_power * period

The per-op energy and time are calibrated (scripts/calibrate_akida.py) so that a small
MNIST CNN lands on BrainChip's published 1.22 mJ per frame at 770 fps. Each layer takes
``ceil(filters / akida_filters_per_np)`` neural processors; the AKD1000 offers 78.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from converters.chips.akida import AkidaLayer, AkidaNet, potentials
from emu.trace_stats import accuracy, count_array

from .constants import Constants
from .estimate import Estimate, LayerEstimate
from .trace_input import check_traces

__all__ = ["AkidaMappingError", "estimate", "synaptic_ops", "neural_processors", "MODEL"]

MODEL = "hwmodels.akida v1: events x non-zero weights + fires, calibrated to MNIST 1.22 mJ/frame"

_USED = [
    "akida_floor_power",
    "akida_synop_energy",
    "akida_fire_energy",
    "akida_synop_time",
    "akida_nps",
    "akida_filters_per_np",
]

ASSUMPTIONS = [
    "energy and frame time scale with events x non-zero weights touched (one calibration point)",
    "a firing neuron costs akida_fire_energy, set equal to a synaptic op",
    "the board floor power is drawn for the whole period between frames",
    "each layer takes ceil(filters / akida_filters_per_np) neural processors",
]


class AkidaMappingError(ValueError):
    """A network that needs more neural processors than the AKD1000 has."""


def neural_processors(net: AkidaNet, constants: Constants | None = None) -> dict[str, int]:
    """Neural processors each layer takes; raises AkidaMappingError beyond the chip's count."""
    c = constants or Constants()
    nps = {
        layer.name: int(np.ceil(layer.filters / c["akida_filters_per_np"])) for layer in net.layers
    }
    if sum(nps.values()) > c["akida_nps"]:
        raise AkidaMappingError(
            f"the network needs {sum(nps.values())} neural processors {nps}, "
            f"the AKD1000 has {int(c['akida_nps'])}"
        )
    return nps


def synaptic_ops(layer: AkidaLayer, inputs: np.ndarray) -> np.ndarray:
    """Per sample: input events of ``layer`` times the non-zero weights each touches.

    ``inputs`` are the layer's integer inputs (N, H, W, C).
    """
    events = (np.asarray(inputs) != 0).astype(np.int64)
    touched = (layer.weights != 0).astype(np.int8)
    if layer.kind == "dense":
        flat = events.transpose(0, 3, 2, 1).reshape(len(events), -1)  # row h + H (w + W c)
        return flat @ touched.sum(1).astype(np.int64)
    ones = dataclasses.replace(layer, weights=touched, pool="none", weight_bits=8)
    p, _ = potentials(events, ones)
    return p.reshape(len(events), -1).sum(1)


def estimate(
    net: AkidaNet,
    traces: xr.Dataset,
    constants: Constants | None = None,
    rate: float | None = None,
    label: str = "akida",
) -> Estimate:
    """Estimate Akida's energy, power and latency per frame from recorded activations.

    Parameters
    ----------
    net
        The network the traces were recorded from (checked by digest and layer sizes).
    traces
        A trace Dataset with ``target="akida"`` (``spike_count_<layer>`` = activation values).
    constants
        Registry values (defaults when None).
    rate
        Frames per second the input arrives at; None runs them back to back.
    label
        Name of this estimate in reports.
    """
    c = constants or Constants()
    check_traces(net, traces, "akida")
    nps = neural_processors(net, c)
    names = net.layer_names
    acts = {name: count_array(traces, name) for name in names}
    n = len(acts[names[0]])
    shape = net.input_shape
    layers, synops_total = [], np.zeros(n)
    layers.append(
        LayerEstimate(names[0], 0.0, {"events": float(np.count_nonzero(acts[names[0]]) / n)})
    )
    for layer, prev in zip(net.layers, names[:-1], strict=True):
        x = acts[prev].reshape(n, *shape)
        ops = synaptic_ops(layer, x)
        fires = np.count_nonzero(acts[layer.name], axis=1)
        synops_total += ops
        energy = c["akida_synop_energy"] * ops.mean() + c["akida_fire_energy"] * fires.mean()
        layers.append(
            LayerEstimate(
                layer.name,
                float(energy),
                {"synaptic_ops": float(ops.mean()), "events": float(fires.mean())},
                nps[layer.name],
            )
        )
        shape = layer.output_shape
    latency = float(c["akida_synop_time"] * synops_total.mean())
    if rate is not None and not 0 < rate <= 1 / latency:
        raise ValueError(
            f"rate {rate} frames/s must be positive and at most {1 / latency:.4g} (1 / latency)"
        )
    period = latency if rate is None else 1.0 / rate
    return Estimate(
        platform="akida",
        label=label,
        model=MODEL,
        latency=latency,
        period=period,
        energy_dynamic=float(sum(le.energy_dynamic for le in layers)),
        energy_static=c["akida_floor_power"] * period,
        accuracy=accuracy(traces),
        samples=n,
        layers=layers,
        constants=c.record(_USED),
        constants_origin=c.origin,
        assumptions=list(ASSUMPTIONS),
        details={
            "synaptic_ops_per_frame": float(synops_total.mean()),
            "events_per_frame": float(sum(le.counts["events"] for le in layers[1:])),
            "neural_processors": int(sum(nps.values())),
            "rate": rate,
            "net_digest": net.digest(),
        },
    )
