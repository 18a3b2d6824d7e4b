"""Akida (AKD1000) energy, power and latency per frame from activation traces.

Akida integrates all input events of a frame, then fires once. Per frame::

    synaptic ops = sum over layers of sum over input events of the non-zero weights each touches
                 = sum over a layer's outputs of conv(x != 0, w != 0)     (dense: (x != 0) @ (w != 0))
    fires        = non-zero outputs of every layer (events it emits)
    NP load      = a layer's synaptic ops / the neural processors it takes
    frame time   = akida_call_time / frames per call + akida_frame_time      (activity-independent)
                 + akida_synop_time * (busiest + (serial - busiest) / frames per call)
                   (event-driven: busiest = the largest NP load, serial = the sum of them)
    E_dynamic    = akida_frame_energy + akida_synop_energy * synaptic ops + akida_fire_energy * fires
    E_static     = akida_floor_power * period

The layers sit on their own neural processors and work on successive frames at once, so
in a long call the busiest NP sets the frame rate; the first frame of a call goes through
every layer in turn (the ``serial`` term, shared by the frames of the call). The reported
energy per frame, ``E_static + E_dynamic``, is average board power (floor
included) over frames per second, the way BrainChip's tools compute it. The constants are
fitted by ``scripts/calibrate_akida.py`` from the MNIST template CNN of a university
course's measurement and BrainChip's AkidaNet 0.5 figures. Each layer takes
``ceil(filters / akida_filters_per_np)`` neural processors; the AKD1000 offers 78.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from converters.chips.akida import AkidaLayer, AkidaNet, potentials
from emu.trace_stats import accuracy, count_array

from .constants import Constants
from .estimate import Estimate, LayerEstimate, with_bounds
from .trace_input import check_traces, saturation_warnings

__all__ = [
    "AkidaMappingError",
    "estimate",
    "frame_figures",
    "synaptic_ops",
    "neural_processors",
    "MODEL",
]

MODEL = (
    "hwmodels.akida v3: fixed per call and frame + events x non-zero weights on the busiest "
    "NP (layers pipelined); floor over "
    "the period (energy = P_avg / fps)"
)

_USED = [
    "akida_floor_power",
    "akida_call_time",
    "akida_frame_time",
    "akida_synop_time",
    "akida_frame_energy",
    "akida_synop_energy",
    "akida_fire_energy",
    "akida_nps",
    "akida_filters_per_np",
    "akida_frames_per_call",
]
_RANGED = _USED[:7]

ASSUMPTIONS = [
    "a frame costs a fixed time and energy (per call, per frame) plus a part that scales "
    "with events x non-zero weights touched",
    "layers run concurrently on their own NPs: in a long call the busiest NP sets the frame "
    "time; the first frame of a call passes every layer in turn",
    "a firing neuron costs akida_fire_energy, about a synaptic op",
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
    ones = dataclasses.replace(layer, weights=touched, pool="none", weight_bits=8, padding_value=0,
                               pointwise=(layer.pointwise != 0).astype(np.int8))  # fmt: skip
    p, _ = potentials(events, ones)
    return p.reshape(len(events), -1).sum(1)


def frame_figures(
    synops: float,
    fires: float,
    c: Constants,
    frames_per_call: float | None = None,
    busiest: float | None = None,
    serial: float | None = None,
) -> tuple[float, float]:
    """Frame time (s) and dynamic energy per frame (J) for given counts per frame.

    ``busiest`` and ``serial`` are the largest and the summed NP loads (synaptic ops per
    neural processor); both default to ``synops`` (a network on one NP).
    """
    frames = c["akida_frames_per_call"] if frames_per_call is None else frames_per_call
    busiest = synops if busiest is None else busiest
    serial = synops if serial is None else serial
    events = busiest + (serial - busiest) / frames
    time = c["akida_call_time"] / frames + c["akida_frame_time"] + c["akida_synop_time"] * events
    energy = c["akida_frame_energy"] + c["akida_synop_energy"] * synops
    return time, energy + c["akida_fire_energy"] * fires


def _counts(net: AkidaNet, traces: xr.Dataset) -> tuple[list[LayerEstimate], int]:
    names = net.layer_names
    acts = {name: count_array(traces, name) for name in names}
    n = len(acts[names[0]])
    shape = net.input_shape
    layers = [LayerEstimate(names[0], 0.0, {"events": float(np.count_nonzero(acts[names[0]]) / n)})]
    for layer, prev in zip(net.layers, names[:-1], strict=True):
        ops = synaptic_ops(layer, acts[prev].reshape(n, *shape))
        fires = np.count_nonzero(acts[layer.name], axis=1)
        counts = {"synaptic_ops": float(ops.mean()), "events": float(fires.mean())}
        layers.append(LayerEstimate(layer.name, 0.0, counts))
        shape = layer.output_shape
    return layers, n


def _one(counted, n, nps, c: Constants, rate, frames_per_call, label, strict) -> Estimate:
    synops = sum(le.counts.get("synaptic_ops", 0.0) for le in counted)
    fires = sum(le.counts["events"] for le in counted[1:])
    loads = [le.counts.get("synaptic_ops", 0.0) / nps[le.name] for le in counted[1:]]
    busiest, serial = max(loads, default=0.0), sum(loads)
    latency, dynamic = frame_figures(synops, fires, c, frames_per_call, busiest, serial)
    if strict and rate is not None and not 0 < rate <= 1 / latency:
        raise ValueError(
            f"rate {rate} frames/s must be positive and at most {1 / latency:.4g} (1 / latency)"
        )
    period = latency if rate is None else max(1.0 / rate, latency)
    layers = [
        LayerEstimate(
            le.name,
            c["akida_synop_energy"] * le.counts.get("synaptic_ops", 0.0)
            + (c["akida_fire_energy"] * le.counts["events"] if i else 0.0),
            dict(le.counts),
            nps.get(le.name, 0),
        )
        for i, le in enumerate(counted)
    ]
    layers.append(LayerEstimate("frame (fixed)", c["akida_frame_energy"], {"frames": 1.0}, 0))
    return Estimate(
        platform="akida",
        label=label,
        model=MODEL,
        latency=latency,
        period=period,
        energy_dynamic=float(dynamic),
        energy_static=c["akida_floor_power"] * period,
        accuracy=None,
        samples=n,
        layers=layers,
        constants=c.record(_USED),
        constants_origin=c.origin,
        assumptions=list(ASSUMPTIONS),
        details={
            "synaptic_ops_per_frame": float(synops),
            "events_per_frame": float(fires),
            "busiest_np_ops_per_frame": float(busiest),
            "serial_np_ops_per_frame": float(serial),
            "neural_processors": int(sum(nps.values())),
            "rate": rate,
        },
    )


def estimate(
    net: AkidaNet,
    traces: xr.Dataset,
    constants: Constants | None = None,
    rate: float | None = None,
    label: str = "akida",
    frames_per_call: int | None = None,
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
    frames_per_call
        Frames sent in one call (default ``akida_frames_per_call``): the per-call time is
        shared among them.
    """
    c = constants or Constants()
    check_traces(net, traces, "akida")
    nps = neural_processors(net, c)
    counted, n = _counts(net, traces)
    _one(counted, n, nps, c, rate, frames_per_call, label, strict=True)
    result = with_bounds(
        lambda k: _one(counted, n, nps, k, rate, frames_per_call, label, strict=False), c, _RANGED
    )
    result.accuracy = accuracy(traces)
    result.warnings = saturation_warnings(traces)
    result.details["net_digest"] = net.digest()
    return result
