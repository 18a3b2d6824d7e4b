"""Quantization of a normalized float graph into a LoihiNet (:mod:`converters.chips.loihi`).

Every population's threshold ``threshold_mant * 2**6`` stands for activation 1.0; weights
and biases go through the chip's one quantizer (:mod:`converters.targets.loihi_quantizer`).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..chips.loihi import (
    DECAY_ONE,
    MANT_SCALE,
    MAX_FAN_OUT,
    RESETS,
    VTH_MANT_MAX,
    LoihiInput,
    LoihiLayer,
    LoihiNet,
    LoihiProjection,
    QuantizationReport,
)
from ..chips.loihi_conv import LoihiConv
from ..chips.loihi_limits import enforce_limits
from ..chips.loihi_split import split_fan_in
from ..graph import Graph
from .conv_maps import ConvMap, as_matrix
from .loihi_quantizer import quantize_bias, quantize_weights, sparse_projection
from .populations import populations

__all__ = ["to_loihi"]


def start_layers(targets: int, taken: set[str]) -> list[LoihiLayer]:
    """A clock, its one-step relay and a one-shot population that fires once, at step 1.

    The clock fires every step from step 0 on its bias; the relay repeats it one step
    later; each start neuron reads +clock and -relay, so its input is non-zero at step 1
    only. There is one start neuron per 4096 targets, the chip's fan-out limit.
    """
    names = []
    for base in ("clock", "clock_relay", "start"):
        name = base
        while name in taken:
            name = f"{name}_"
        names.append(name)
    clock = LoihiLayer(names[0], 1, [], 1, np.array([2]), 6, reset="zero")
    one = np.zeros(1, np.int32)
    relay = LoihiLayer(names[1], 1, [LoihiProjection(names[0], one, one, [2])], 1, reset="zero")
    n = -(-targets // MAX_FAN_OUT)
    every = np.arange(n)
    start = LoihiLayer(
        names[2],
        n,
        [
            LoihiProjection(names[0], np.zeros(n), every, np.full(n, 2)),
            LoihiProjection(names[1], np.zeros(n), every, np.full(n, -2)),
        ],
        1,
        decay_v=DECAY_ONE,
        reset="zero",
    )
    return [clock, relay, start]


def _kick(start: LoihiLayer):
    """A factory of projections from the start population adding a charge once per neuron."""
    used = [0]

    def projection(charge: np.ndarray) -> LoihiProjection:
        mant, exp, _ = quantize_weights(charge, 8)
        size = len(charge)
        pre = (used[0] + np.arange(size)) // MAX_FAN_OUT
        used[0] += size
        keep = mant != 0
        return LoihiProjection(start.name, pre[keep], np.arange(size)[keep], mant[keep], exp)

    return projection


def _projection(source: str, m, vth: int, weight_bits: int):
    """The quantized projection of map ``m`` (a convolution record where ``m`` is a
    :class:`~converters.targets.conv_maps.ConvMap`), its clipped and its zeroed weights."""
    if isinstance(m, ConvMap):
        w = m.pooled_weight
        mant, exp, clipped = quantize_weights(w * vth, weight_bits)
        record = LoihiConv(
            source, mant, exp, m.source_shape, m.out_shape, m.stride, m.padding[:2],
            groups=m.groups, pool=m.pool,
        )  # fmt: skip
        return record, clipped, int(np.count_nonzero((mant == 0) & (w != 0)))
    return sparse_projection(source, as_matrix(m).tocoo() * vth, weight_bits)


def _split_fan_in(layers: list[LoihiLayer]) -> None:
    """Split every layer whose fan-in exceeds Loihi's per-compartment limit over auxiliary
    compartments (:mod:`converters.chips.loihi_split`), or refuse it in one line."""
    for layer in layers:
        fan_in = sum(p.fan_in(layer.size) for p in layer.projections)
        split_fan_in(layer, int(np.max(fan_in, initial=0)))


def _depths(pops) -> dict[str, int]:
    """Spiking hops from the input to every population along its shortest path."""
    depth = {pops[0].name: 0}
    for pop in pops[1:]:
        depth[pop.name] = 1 + min(depth[s] for s in pop.inputs)
    return depth


def to_loihi(
    graph: Graph,
    timesteps: int = 128,
    reset: str = "subtract",
    input_encoding: str = "bias",
    threshold_mant: int = 1024,
    weight_bits: int = 8,
    refractory: int = 1,
    warm_start: float = 0.0,
) -> LoihiNet:
    """Quantize a normalized graph (see :func:`converters.normalize`) into a LoihiNet.

    Parameters
    ----------
    graph
        A float graph, normalized so that activations lie mostly in [0, 1].
    timesteps
        Steps per sample.
    reset
        ``"subtract"`` (reset by subtraction, two compartments on the chip) or ``"zero"``.
    input_encoding
        ``"bias"`` (bias-current input compartments), ``"rate"`` (Bernoulli spikes) or
        ``"spikes"`` (given spike trains, whose rates play the role of the graph's input).
    threshold_mant
        vth mantissa of every layer (0..2**17-1); larger means finer weights.
    weight_bits
        Weight mantissa precision, 1..8 bits (mixed sign mode).
    refractory
        Refractory delay of every compartment (1 means none).
    warm_start
        Charge, as a fraction of the threshold, delivered once to every compartment at
        step 2 by a one-shot start population (see :func:`start_layers`), less the bias
        the compartment integrates before spikes can reach it (its depth in steps); 0.5
        makes spike counts round the rate instead of flooring it, which shortens the
        latency of deep and residual networks. 0 adds nothing.
    """
    if reset not in RESETS:
        raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
    if not 1 <= weight_bits <= 8:
        raise ValueError(f"weight_bits must be in 1..8, got {weight_bits}")
    if not 1 <= threshold_mant <= VTH_MANT_MAX:
        raise ValueError(f"threshold_mant must be in 1..{VTH_MANT_MAX}, got {threshold_mant}")
    if not 0.0 <= warm_start < 1.0:
        raise ValueError(f"warm_start must lie in [0, 1), got {warm_start}")
    pops = populations(graph)
    report = QuantizationReport()
    vth = threshold_mant * MANT_SCALE
    taken = {p.name for p in pops}
    layers = start_layers(sum(p.size for p in pops[1:]), taken) if warm_start else []
    kick = _kick(layers[-1]) if warm_start else None
    depth = _depths(pops)
    for pop in pops[1:]:
        projections = []
        clipped = zeroed = 0
        for source, m in pop.inputs.items():
            if input_encoding == "spikes" and source == graph.input.name:
                # spike trains arrive at their own rate, unscaled
                m = (
                    m.scaled(1 / graph.input.scale)
                    if isinstance(m, ConvMap)
                    else as_matrix(m) / graph.input.scale
                )
            projection, n_clip, n_zero = _projection(source, m, vth, weight_bits)
            projections.append(projection)
            clipped += n_clip
            zeroed += n_zero
        bias_mant, bias_exp, n_bias = quantize_bias(pop.bias * vth)
        if kick:
            early_bias = depth[pop.name] * (bias_mant.astype(np.int64) << bias_exp)
            projections.append(kick(warm_start * vth - early_bias))
        report.clipped_weights[pop.name] = clipped
        report.zeroed_weights[pop.name] = zeroed
        report.clipped_biases[pop.name] = n_bias
        layers.append(
            LoihiLayer(
                pop.name,
                pop.size,
                projections,
                threshold_mant,
                bias_mant,
                bias_exp,
                refractory=refractory,
                reset=reset,
                shape=pop.shape,
            )
        )
    if report.saturated:
        warnings.warn(
            "Loihi quantization saturated: clipped weights "
            f"{ {k: v for k, v in report.clipped_weights.items() if v} }, clipped biases "
            f"{ {k: v for k, v in report.clipped_biases.items() if v} }",
            stacklevel=2,
        )
    _split_fan_in(layers)
    scale = 1.0 if input_encoding == "spikes" else graph.input.scale
    net_input = LoihiInput(tuple(graph.input.shape), input_encoding, scale, graph.input.name)
    net = LoihiNet(net_input, layers, timesteps, report)
    enforce_limits(net)
    return net
