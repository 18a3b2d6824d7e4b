"""Akida (AKD1000) energy, power and latency per frame from activation traces.

Akida integrates all input events of a frame, then fires once. BrainChip's mapper places
each layer (``akida_mapping``): on neural processors (NPs) in hardware sequences, or on the
host CPU when the chip cannot hold it. Per frame::

    synaptic ops = sum over layers of sum over input events of the non-zero weights each touches
                 = sum over a layer's outputs of conv(x != 0, w != 0)     (dense: (x != 0) @ (w != 0))
    fires        = non-zero outputs of every hardware layer (events it emits)
    NP load      = a hardware layer's synaptic ops / the neural processors it takes
    frame time   = akida_call_time / frames per call + akida_frame_time * hardware sequences
                 + akida_synop_time * (busiest + (serial - busiest) / frames per call)
                 + sum over host layers of (akida_host_output_time * outputs
                                            + akida_host_synop_time * synaptic ops)
                   (busiest = the largest NP load, serial = the sum of them)
    E_dynamic    = akida_frame_energy + akida_synop_energy * synaptic ops on the chip
                 + akida_fire_energy * fires
    E_static     = akida_floor_power * period

The hardware layers sit on their own NPs and work on successive frames at once, so in a
long call the busiest NP sets the frame rate; the first frame of a call goes through every
layer in turn (the ``serial`` term, shared by the frames of the call). A host layer runs in
BrainChip's software engine, whose time grows with the events it receives (measured by
``scripts/calibrate_akida.py --host``); the board idles at its floor meanwhile. The reported
energy per frame, ``E_static + E_dynamic``, is average board power (floor included) over
frames per second, the way BrainChip's tools compute it. The constants are fitted by
``scripts/calibrate_akida.py`` from the MNIST template CNN of a university course's
measurement and BrainChip's AkidaNet 0.5 figures; the AKD1000 offers 78 NPs.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from converters.chips.akida import AkidaLayer, AkidaNet, potentials
from emu.neurobench_metrics import akida_synaptic_ops
from emu.traces.stats import accuracy, count_array

from .akida_constants import BOUNDED, USED
from .akida_mapping import Mapping, map_network
from .constants import Constants
from .estimate import Estimate, LayerEstimate, with_bounds
from .trace_input import check_traces, saturation_warnings

__all__ = [
    "AkidaMappingError",
    "FrameLoad",
    "estimate",
    "frame_load",
    "layer_counts",
    "frame_figures",
    "host_time",
    "synaptic_ops",
    "neural_processors",
    "MODEL",
    "ASSUMPTIONS",
    "AKD1000",
    "Chip",
    "FrameRun",
    "bounded_estimate",
]

MODEL = (
    "hwmodels.akida v4: fixed per call, frame and hardware sequence + events x non-zero "
    "weights on the busiest NP (layers pipelined) + host layers in BrainChip's software "
    "engine (BrainChip's mapper); floor over the period (energy = P_avg / fps)"
)

ASSUMPTIONS = [
    "a frame costs a fixed time and energy (per call, per frame and hardware sequence) plus "
    "a part that scales with events x non-zero weights touched",
    "layers run concurrently on their own NPs: in a long call the busiest NP sets the frame "
    "time; the first frame of a call passes every layer in turn",
    "layers the AKD1000 cannot hold (BrainChip's mapper decides) run in BrainChip's software "
    "engine on a host as fast as the one akida_host_*_time were measured on, the board at "
    "its floor meanwhile",
    "a firing neuron costs akida_fire_energy, about a synaptic op",
    "the board floor power is drawn for the whole period between frames",
]


class AkidaMappingError(ValueError):
    """A network that needs more neural processors than the AKD1000 has."""


@dataclasses.dataclass(frozen=True)
class Chip:
    """Which Akida an estimate describes: its platform name, model and assumptions."""

    platform: str
    model: str
    assumptions: tuple[str, ...]


AKD1000 = Chip("akida", MODEL, tuple(ASSUMPTIONS))


@dataclasses.dataclass(frozen=True, kw_only=True)
class FrameRun:
    """A frame's per-layer counts (:func:`layer_counts`) placed by ``mapping``, with the
    caller's options: what every corner of an estimate shares."""

    counted: list[LayerEstimate]
    mapping: Mapping
    rate: float | None = None
    frames_per_call: int | None = None
    label: str = "akida"
    chip: Chip = AKD1000


@dataclasses.dataclass(frozen=True)
class FrameLoad:
    """The counts per frame that set an Akida frame's time and energy."""

    synops: float  # synaptic ops on the chip
    fires: float  # fires of hardware layers
    busiest: float  # the largest NP load (synaptic ops per NP)
    serial: float  # the summed NP loads
    sequences: int = 1  # hardware sequences a frame passes
    host_outputs: float = 0.0  # outputs (positions x filters) of host layers
    host_synops: float = 0.0  # synaptic ops of host layers

    def sparser(self, events_kept: float, weights_kept: float = 1.0) -> FrameLoad:
        """The same frame with ``events_kept`` of the events and ``weights_kept`` of the
        non-zero weights (synaptic ops scale with both, fires with the events)."""
        ops = events_kept * weights_kept
        return dataclasses.replace(
            self,
            synops=self.synops * ops,
            fires=self.fires * events_kept,
            busiest=self.busiest * ops,
            serial=self.serial * ops,
            host_synops=self.host_synops * ops,
        )


def neural_processors(net: AkidaNet, constants: Constants | None = None) -> dict[str, int]:
    """Neural processors each layer takes (0 on the host); raises AkidaMappingError beyond
    the chip's count."""
    c = constants or Constants()
    return _checked(map_network(net, c), c).nps


def _checked(mapping: Mapping, c: Constants) -> Mapping:
    nps = mapping.nps
    if sum(nps.values()) > c["akida_nps"]:
        raise AkidaMappingError(
            f"the network needs {sum(nps.values())} neural processors {nps}, "
            f"the AKD1000 has {int(c['akida_nps'])}"
        )
    return mapping


def _ones(layer: AkidaLayer) -> AkidaLayer:
    touched = (layer.weights != 0).astype(np.int8)
    return dataclasses.replace(layer, weights=touched, pool="none", weight_bits=8, padding_value=0,
                               pointwise=(layer.pointwise != 0).astype(np.int8))  # fmt: skip


def synaptic_ops(layer: AkidaLayer, inputs: np.ndarray) -> np.ndarray:
    """Per sample: input events of ``layer`` times the non-zero weights each touches.

    ``inputs`` are the layer's integer inputs (N, H, W, C).
    """
    return akida_synaptic_ops(layer, inputs)


def _outputs_before_pooling(layer: AkidaLayer) -> int:
    if layer.kind == "dense":
        return layer.filters
    p, _ = potentials(np.zeros((1, *layer.input_shape), np.int64), _ones(layer))
    return int(np.prod(p.shape[1:]))


def host_time(load: FrameLoad, c: Constants) -> float:
    """Seconds per frame the host layers take in BrainChip's software engine."""
    return (
        c["akida_host_output_time"] * load.host_outputs
        + c["akida_host_synop_time"] * load.host_synops
    )


def frame_figures(
    load: FrameLoad, c: Constants, frames_per_call: float | None = None
) -> tuple[float, float]:
    """Frame time (s) and dynamic energy per frame (J) of a frame's counts ``load``."""
    frames = c["akida_frames_per_call"] if frames_per_call is None else frames_per_call
    events = load.busiest + (load.serial - load.busiest) / frames
    time = (
        c["akida_call_time"] / frames
        + c["akida_frame_time"] * load.sequences
        + c["akida_synop_time"] * events
        + host_time(load, c)
    )
    energy = c["akida_frame_energy"] + c["akida_synop_energy"] * load.synops
    return time, energy + c["akida_fire_energy"] * load.fires


def layer_counts(net: AkidaNet, traces: xr.Dataset) -> tuple[list[LayerEstimate], int]:
    """Per layer, per frame: synaptic ops, events, outputs before pooling; and the frames."""
    names = net.layer_names
    acts = {name: count_array(traces, name) for name in names}
    n = len(acts[names[0]])
    shape = net.input_shape
    layers = [LayerEstimate(names[0], 0.0, {"events": float(np.count_nonzero(acts[names[0]]) / n)})]
    for layer, prev in zip(net.layers, names[:-1], strict=True):
        ops = synaptic_ops(layer, acts[prev].reshape(n, *shape))
        fires = np.count_nonzero(acts[layer.name], axis=1)
        counts = {"synaptic_ops": float(ops.mean()), "events": float(fires.mean()),
                  "outputs": float(_outputs_before_pooling(layer))}  # fmt: skip
        layers.append(LayerEstimate(layer.name, 0.0, counts))
        shape = layer.output_shape
    return layers, n


def frame_load(counted: list[LayerEstimate], mapping: Mapping) -> FrameLoad:
    """A frame's counts from per-layer counts (``estimate``'s layers) and the mapping."""
    chip = [le for le in counted[1:] if mapping.hardware[le.name]]
    host = [le for le in counted[1:] if not mapping.hardware[le.name]]
    loads = [le.counts["synaptic_ops"] / max(mapping.nps[le.name], 1) for le in chip]
    return FrameLoad(
        synops=sum(le.counts["synaptic_ops"] for le in chip),
        fires=sum(le.counts["events"] for le in chip),
        busiest=max(loads, default=0.0),
        serial=sum(loads),
        sequences=mapping.sequences,
        host_outputs=sum(le.counts["outputs"] for le in host),
        host_synops=sum(le.counts["synaptic_ops"] for le in host),
    )


def _one(run: FrameRun, samples: int, c: Constants, *, strict: bool = False) -> Estimate:
    mapping, rate = run.mapping, run.rate
    load = frame_load(run.counted, mapping)
    latency, dynamic = frame_figures(load, c, run.frames_per_call)
    if strict and rate is not None and not 0 < rate <= 1 / latency:
        raise ValueError(
            f"rate {rate} frames/s must be positive and at most {1 / latency:.4g} (1 / latency)"
        )
    period = latency if rate is None else max(1.0 / rate, latency)
    on_chip = mapping.hardware
    layers = [
        LayerEstimate(
            le.name,
            (
                c["akida_synop_energy"] * le.counts.get("synaptic_ops", 0.0)
                + (c["akida_fire_energy"] * le.counts["events"] if i else 0.0)
            )
            if on_chip.get(le.name, True)
            else 0.0,
            dict(le.counts, host=float(not on_chip.get(le.name, True))),
            mapping.nps.get(le.name, 0),
        )  # fmt: skip
        for i, le in enumerate(run.counted)
    ]
    layers.append(LayerEstimate("frame (fixed)", c["akida_frame_energy"], {"frames": 1.0}, 0))
    return Estimate(
        platform=run.chip.platform,
        label=run.label,
        model=run.chip.model,
        latency=latency,
        period=period,
        energy_dynamic=float(dynamic),
        energy_static=c["akida_floor_power"] * period,
        accuracy=None,
        samples=samples,
        layers=layers,
        constants=c.record(USED),
        constants_origin=c.origin,
        assumptions=list(run.chip.assumptions),
        details={
            "synaptic_ops_per_frame": float(load.synops + load.host_synops),
            "events_per_frame": float(sum(le.counts["events"] for le in run.counted[1:])),
            "busiest_np_ops_per_frame": float(load.busiest),
            "serial_np_ops_per_frame": float(load.serial),
            "host_synaptic_ops_per_frame": float(load.host_synops),
            "host_outputs_per_frame": float(load.host_outputs),
            "host_layers": mapping.host_layers,
            "hardware_sequences": int(mapping.sequences),
            "mapping": mapping.source,
            "neural_processors": int(sum(mapping.nps.values())),
            "rate": rate,
        },
    )


def estimate(
    net: AkidaNet,
    traces: xr.Dataset,
    *,
    constants: Constants | None = None,
    rate: float | None = None,
    label: str = "akida",
    frames_per_call: int | None = None,
) -> Estimate:
    """Estimate Akida's energy, power and latency per frame from recorded activations.

    Parameters
    ----------
    net
        The Akida network that produced the traces (checked by digest and layer sizes).
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
    mapping = _checked(map_network(net, c), c)
    counted, _ = layer_counts(net, traces)
    run = FrameRun(
        counted=counted, mapping=mapping, rate=rate, frames_per_call=frames_per_call, label=label
    )
    return bounded_estimate(net, traces, run, c)


def bounded_estimate(net, traces: xr.Dataset, run: FrameRun, constants) -> Estimate:
    """The estimate of ``run`` with bounds over the constants' ranges."""
    samples = len(traces["prediction"])
    _one(run, samples, constants, strict=True)
    result = with_bounds(lambda k: _one(run, samples, k), constants, BOUNDED)
    result.accuracy = accuracy(traces)
    result.warnings = saturation_warnings(traces)
    result.details["net_digest"] = net.digest()
    return result
