"""Loihi energy, power and latency from spike traces: core mapping, operation counts, timing.

Mapping: each layer takes whole cores, in network order; a neuron takes two compartments
when it resets by subtraction (the second compartment of the two-compartment soft reset),
one otherwise, plus K auxiliary compartments where conversion split its fan-in over K
(their updates, every step, cost the join). A core holds at most ``loihi_compartments_per_core`` compartments and
``loihi_synaptic_memory`` bytes of incoming synapses (``loihi_synapse_bits`` each); by
default a layer gets the fewest cores that respect both
(:func:`converters.chips.loihi_placement.place_layers`), split into equal contiguous
blocks. Core ``g`` sits in tile ``g // cores_per_tile`` of a mesh ``mesh_columns`` wide.

Per inference, from the traces::

    synaptic ops   = sum_i count_i * fan_out_i
    neuron updates = compartments * timesteps, active where the neuron fires at least once
    spike messages = one per (spike, destination core): within a tile, or |dx| E-W and
                     |dy| N-S hops between tiles
    neuro-core dynamic = counts x per-op energies (Davies et al. 2018, Table 2)
    x86 dynamic    = loihi_step_energy * timesteps * chips          (embedded x86 cores)
                     + loihi_input_spike_energy * injected spikes   (host -> chip)
                     + loihi_output_spike_energy * output spikes    (chip -> host)
    host I/O       = loihi_inference_energy                         (per inference)
    step time      = max over cores (neuron updates + synaptic ops + messages sent, each
                     message taking the within-tile spike time) + the longest route of
                     the step (hops x hop times) + barrier(tiles in use)
                     + loihi_step_time + loihi_input_spike_time * spikes injected that step
    latency        = sum of step times + loihi_output_spike_time * output spikes
                     + loihi_inference_time
    neuro-core static = loihi_static_power (idle from boot) * chips * period
    x86 static     = loihi_x86_active_power (embedded cores active, a model loaded) * period

The ``accounting`` convention (:mod:`hwmodels.accounting`) picks the parts an estimate's
energy counts; ``details["parts"]`` holds all five, J per inference, whatever it counts.

A layer's spikes within a step are spread over its neurons in proportion to their counts
over the sample; rate-coded inputs come from the host through the embedded cores,
entering at tile 0. The system constants are fitted by ``scripts/calibrate_loihi.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr

from converters.chips.loihi import LoihiLayer, LoihiNet
from emu.traces.stats import accuracy, count_array, step_array

from . import accounting as conventions
from .constants import Constants
from .estimate import Estimate, LayerEstimate, with_bounds
from .loihi_constants import BOUNDED, USED
from .loihi_mapping import (
    CoreMapping,
    LoihiMappingError,
    Routes,
    map_cores,
    routes,
    synaptic_events,
)
from .trace_input import check_traces, saturation_warnings

__all__ = ["LoihiMappingError", "CoreMapping", "map_cores", "estimate", "MODEL", "SYSTEM"]

MODEL = (
    "hwmodels.loihi v3: NxSDK's parts; per-op energies and times (Davies 2018) over trace "
    "counts, measured idle power, x86 active power and step time fitted to Blouw 2019's logs"
)
SYSTEM = "system (x86 cores, host I/O)"

ASSUMPTIONS = [
    "a neuron with reset by subtraction takes two compartments, with reset to zero one",
    "each layer occupies whole cores, in network order, split into equal contiguous blocks",
    "a compartment's update is 'active' in every step of a sample in which its neuron "
    "fires at least once, 'inactive' otherwise",
    "one spike message per (spike, destination core); routes go |dx| E-W then |dy| N-S",
    "sending a message occupies the source core for the within-tile spike time; hops add "
    "latency once per step (the step's longest route), not per message",
    "a layer's spikes within a step are spread over its neurons like its counts over the sample",
    "barrier time grows linearly from 1 to 32 tiles (Davies 2018 gives 113-465 ns) and beyond",
    "neuro-core static power is the measured idle from boot, per chip in use, all period",
    "the embedded x86 cores draw loihi_x86_active_power while a model is loaded, all period",
    "rate-coded input spikes are injected from the host by the embedded x86 cores, one "
    "after another within a step, and enter the mesh at tile 0",
    "the embedded cores' per-step management costs loihi_step_energy per chip in use and "
    "loihi_step_time per step; host I/O costs a fixed amount per inference",
]


def _barrier(tiles: int, c: Constants) -> float:
    b1, b32 = c["loihi_barrier_time_1"], c["loihi_barrier_time_32"]
    return b1 + (b32 - b1) * (tiles - 1) / 31


@dataclass
class _Activity:
    """What the traces make the cores do, per sample and step; independent of the constants."""

    work: dict[str, np.ndarray]  # kind -> [sample, step, core] operations on each core
    routed: dict[str, np.ndarray]  # source -> [sample, step] whether it sent spikes
    input_spikes: np.ndarray  # [sample, step] spikes injected from the host
    output_spikes: np.ndarray  # [sample] spikes read out
    per_layer: dict[str, dict[str, float]]  # mean counts per inference
    cores: int
    timesteps: int


def _neuron_work(act: _Activity, layer: LoihiLayer, m: CoreMapping, counts: np.ndarray) -> None:
    per_neuron = layer.compartments_per_neuron  # the fan-in split's join included
    firing = counts > 0
    active = np.stack(
        [np.bincount(m.core - m.first_core, weights=f, minlength=m.cores) for f in firing]
    )
    active = active * per_neuron
    inactive = m.compartments[None] - active
    cols = slice(m.first_core, m.first_core + m.cores)
    act.work["neuron_active"][:, :, cols] += active[:, None]
    act.work["neuron_inactive"][:, :, cols] += inactive[:, None]
    act.per_layer[m.layer]["neuron_updates_active"] = active.sum(1).mean() * act.timesteps
    act.per_layer[m.layer]["neuron_updates_inactive"] = inactive.sum(1).mean() * act.timesteps


def _spike_work(act, source, r: Routes, cnt, synops_per_core, layer_spikes, mappings) -> None:
    total = cnt.sum(1, keepdims=True)
    share = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)
    act.work["synop"] += layer_spikes[:, :, None] * (synops_per_core * share)[:, None]
    act.routed[source] = layer_spikes > 0
    messages = r.messages
    m = next((m for m in mappings if m.layer == source), None)
    if m is not None:
        sent = np.stack(
            [
                np.bincount(m.core - m.first_core, weights=row * messages, minlength=m.cores)
                for row in cnt
            ]
        )
        cols = slice(m.first_core, m.first_core + m.cores)
        act.work["message"][:, :, cols] += layer_spikes[:, :, None] * (sent * share)[:, None]
    stats = act.per_layer[source]
    stats["spikes"] = cnt.sum(1).mean()
    stats["tile_messages"] = (cnt @ r.tile_messages).mean()
    stats["hops_ew"] = (cnt @ r.hops_ew).mean()
    stats["hops_ns"] = (cnt @ r.hops_ns).mean()
    for target in mappings:
        landed = synops_per_core[:, target.first_core : target.first_core + target.cores]
        if landed.sum():
            tstats = act.per_layer[target.layer]
            tstats["synaptic_ops"] = tstats.get("synaptic_ops", 0.0) + landed.sum(1).mean()


def _activity(net, traces, mappings, routes) -> _Activity:
    layers = net.all_layers()
    names = [layer.name for layer in layers]
    counts = {name: count_array(traces, name) for name in names}
    steps = step_array(traces)  # sample, step, layer
    n_samples, timesteps = steps.shape[:2]
    if timesteps != net.timesteps:
        raise ValueError(f"the traces hold {timesteps} steps, the network runs {net.timesteps}")
    n_cores = sum(m.cores for m in mappings)
    shape = (n_samples, timesteps, n_cores)
    off_chip = net.input.encoding != "bias"
    act = _Activity(
        work={k: np.zeros(shape) for k in ("neuron_active", "neuron_inactive", "synop", "message")},
        routed={},
        input_spikes=steps[:, :, 0] if off_chip else np.zeros((n_samples, timesteps)),
        output_spikes=counts[names[-1]].sum(1),
        per_layer={name: {} for name in names},
        cores=n_cores,
        timesteps=timesteps,
    )
    for m in mappings:
        _neuron_work(act, layers[names.index(m.layer)], m, counts[m.layer])
    events = synaptic_events(net, mappings, counts)
    for source, r in routes.items():
        layer_spikes = steps[:, :, names.index(source)]
        _spike_work(act, source, r, counts[source], events[source], layer_spikes, mappings)
    if off_chip:
        act.per_layer[names[0]]["injected_spikes"] = float(act.input_spikes.sum(1).mean())
    act.per_layer[names[-1]]["read_out_spikes"] = float(act.output_spikes.mean())
    return act


_WORK_TIME = {
    "neuron_active": "loihi_neuron_active_time",
    "neuron_inactive": "loihi_neuron_inactive_time",
    "synop": "loihi_synop_time",
    "message": "loihi_spike_tile_time",
}
_ENERGY_OF = {
    "synaptic_ops": "loihi_synop_energy",
    "neuron_updates_active": "loihi_neuron_active_energy",
    "neuron_updates_inactive": "loihi_neuron_inactive_energy",
    "tile_messages": "loihi_spike_tile_energy",
    "hops_ew": "loihi_hop_ew_energy",
    "hops_ns": "loihi_hop_ns_energy",
    "injected_spikes": "loihi_input_spike_energy",
    "read_out_spikes": "loihi_output_spike_energy",
}


def _step_times(act: _Activity, routes: dict[str, Routes], tiles: int, c: Constants) -> np.ndarray:
    busy = sum(act.work[k] * c[name] for k, name in _WORK_TIME.items())
    route_delay = np.zeros(busy.shape[:2])
    for source, r in routes.items():
        longest = (r.moves @ [c["loihi_hop_ew_time"], c["loihi_hop_ns_time"]]).max(initial=0.0)
        route_delay = np.maximum(route_delay, act.routed[source] * longest)
    system = c["loihi_step_time"] + act.input_spikes * c["loihi_input_spike_time"]
    return busy.max(axis=2) + route_delay + _barrier(tiles, c) + system


@dataclass(frozen=True)
class _Run:
    """What every corner of an estimate shares: the traces' activity on the mapped cores,
    their routes, and the caller's options."""

    act: _Activity
    routes: dict[str, Routes]
    mappings: list[CoreMapping]
    rate: float | None
    label: str
    accounting: str


def _one(run: _Run, c: Constants, *, strict: bool = False) -> Estimate:
    act, routes, mappings, rate = run.act, run.routes, run.mappings, run.rate
    tiles = int(np.ceil(act.cores / c["loihi_cores_per_tile"]))
    chips = int(np.ceil(act.cores / c["loihi_cores_per_chip"]))
    step_time = _step_times(act, routes, tiles, c)
    readout = act.output_spikes.mean() * c["loihi_output_spike_time"]
    latency = float(step_time.sum(1).mean() + readout + c["loihi_inference_time"])
    if strict and rate is not None and 1.0 / rate < latency:
        raise ValueError(
            f"at {rate} inferences/s the period {1e3 / rate:.4g} ms is shorter than the "
            f"estimated latency {latency * 1e3:.4g} ms: the chip cannot keep up"
        )
    period = latency if rate is None else max(1.0 / rate, latency)
    cores_of = {m.layer: m.cores for m in mappings}
    layers = [
        LayerEstimate(
            name,
            float(sum(v * c[_ENERGY_OF[k]] for k, v in stats.items() if k in _ENERGY_OF)),
            {k: float(v) for k, v in stats.items()},
            cores_of.get(name, 0),
        )
        for name, stats in act.per_layer.items()
    ]
    system = {"steps": float(act.timesteps * chips), "inferences": 1.0}
    system_energy = system["steps"] * c["loihi_step_energy"] + c["loihi_inference_energy"]
    layers.append(LayerEstimate(SYSTEM, float(system_energy), system, 0))
    totals = {k: sum(le.counts.get(k, 0.0) for le in layers) for k in _ENERGY_OF}
    io_spikes = sum(totals[k] * c[_ENERGY_OF[k]] for k in ("injected_spikes", "read_out_spikes"))
    on_chip = sum(le.energy_dynamic for le in layers if le.name != SYSTEM) - io_spikes
    parts = conventions.loihi_parts(on_chip, io_spikes, system["steps"], chips, period, c)
    static, dynamic = conventions.split("loihi", parts, run.accounting)
    return Estimate(
        platform="loihi",
        label=run.label,
        model=MODEL,
        latency=latency,
        period=period,
        energy_dynamic=dynamic,
        energy_static=static,
        accuracy=None,
        samples=len(act.output_spikes),
        layers=layers,
        constants=c.record(USED),
        constants_origin=c.origin,
        assumptions=list(ASSUMPTIONS),
        details={
            "timesteps": act.timesteps,
            "step_time_mean": float(step_time.mean()),
            "cores": act.cores,
            "tiles": tiles,
            "chips": chips,
            "rate": rate,
            "accounting": run.accounting,
            "parts": parts,
            **{f"{k}_per_inference": float(v) for k, v in totals.items()},
        },
    )


def estimate(
    net: LoihiNet,
    traces: xr.Dataset,
    *,
    cores_per_layer: Mapping[str, int] | None = None,
    constants: Constants | None = None,
    rate: float | None = None,
    label: str = "loihi",
    accounting: str = conventions.DEFAULT,
) -> Estimate:
    """Estimate Loihi's energy, power and latency per inference from recorded traces.

    Parameters
    ----------
    net
        The network the traces were recorded from (checked by digest and layer sizes).
    traces
        A trace Dataset (see :mod:`emu.traces`) with ``target="loihi"``.
    cores_per_layer
        Cores for some on-chip layers by name; the others get the fewest that fit.
    constants
        Registry values (defaults when None), e.g. from :func:`hwmodels.load_constants`.
    rate
        Inferences per second the input arrives at; None runs them back to back.
    label
        Name of this estimate in reports.
    accounting
        Which parts the energy counts: "all" (default), "dynamic" or "blouw" (see
        :mod:`hwmodels.accounting`); ``details["parts"]`` holds every part regardless.

    Returns
    -------
    Estimate
        Per inference, averaged over the traced samples; per layer in ``layers`` (the
        last entry holds the per-step and per-inference system terms); ``bounds`` from the
        constants' ranges; ``warnings`` when the traces counted u wraps or v clips.
    """
    c = constants or Constants()
    conventions.check(accounting)
    check_traces(net, traces, "loihi")
    if rate is not None and not rate > 0:
        raise ValueError(f"rate must be a positive number of inferences per second, got {rate}")
    mappings = map_cores(net, cores_per_layer, c)
    routes_of = routes(net, mappings, c)
    act = _activity(net, traces, mappings, routes_of)
    run = _Run(act, routes_of, mappings, rate, label, accounting)
    _one(run, c, strict=True)
    result = with_bounds(lambda k: _one(run, k), c, BOUNDED)
    result.accuracy = accuracy(traces)
    result.warnings = saturation_warnings(traces)
    result.details |= {
        "net_digest": net.digest(),
        "reset": net.layers[0].reset if net.layers else "",
        "input_encoding": net.input.encoding,
    }
    return result
