"""Quantization of a normalized float graph into a LoihiNet (:mod:`converters.chips.loihi`).

Every population's threshold ``threshold_mant * 2**6`` stands for activation 1.0; each
projection gets the smallest weight exponent whose mantissas hold its largest weight, each
layer's bias the smallest exponent whose mantissas hold its largest bias.
"""

from __future__ import annotations

import warnings

import numpy as np

from .chips.loihi import (
    BIAS_EXP_RANGE,
    BIAS_MANT_RANGE,
    MANT_SCALE,
    MANT_SHIFT,
    RESETS,
    VTH_MANT_MAX,
    WEIGHT_EXP_RANGE,
    WEIGHT_MANT_RANGE,
    LoihiInput,
    LoihiLayer,
    LoihiNet,
    LoihiProjection,
    QuantizationReport,
)
from .graph import Graph
from .populations import populations

__all__ = ["to_loihi"]


def _quantize_weights(w: np.ndarray, weight_bits: int) -> tuple[np.ndarray, int, int]:
    """Mantissas on the chip's grid and an exponent for float effective weights ``w``.

    Returns (mantissa, exponent, number of clipped weights).
    """
    low, _ = WEIGHT_MANT_RANGE
    exp_low, exp_high = WEIGHT_EXP_RANGE
    grid = 2 ** (9 - weight_bits)  # mixed sign mode drops the low 9 - weight_bits bits
    top = -low - grid
    peak = float(np.max(np.abs(w))) if w.size else 0.0
    exp = (
        exp_low
        if peak == 0
        else int(np.clip(np.ceil(np.log2(peak / top)) - MANT_SHIFT, exp_low, exp_high))
    )
    step = max(grid, 2**-exp if exp < 0 else 1)
    mant = np.rint(w / 2 ** (MANT_SHIFT + exp) / step) * step
    clipped = int(np.count_nonzero((mant > top) | (mant < low)))
    return np.clip(mant, low, top).astype(np.int16), exp, clipped


def _quantize_bias(b: np.ndarray) -> tuple[np.ndarray, int, int]:
    low, high = BIAS_MANT_RANGE
    peak = float(np.max(np.abs(b))) if b.size else 0.0
    exp = 0 if peak == 0 else int(np.clip(np.ceil(np.log2(peak / high)), *BIAS_EXP_RANGE))
    mant = np.rint(b / 2**exp)
    clipped = int(np.count_nonzero((mant > high) | (mant < low)))
    return np.clip(mant, low, high).astype(np.int32), exp, clipped


def to_loihi(
    graph: Graph,
    timesteps: int = 128,
    reset: str = "subtract",
    input_encoding: str = "bias",
    threshold_mant: int = 1024,
    weight_bits: int = 8,
    refractory: int = 1,
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
    """
    if reset not in RESETS:
        raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
    if not 1 <= weight_bits <= 8:
        raise ValueError(f"weight_bits must be in 1..8, got {weight_bits}")
    if not 1 <= threshold_mant <= VTH_MANT_MAX:
        raise ValueError(f"threshold_mant must be in 1..{VTH_MANT_MAX}, got {threshold_mant}")
    pops = populations(graph)
    report = QuantizationReport()
    vth = threshold_mant * MANT_SCALE
    layers = []
    for pop in pops[1:]:
        projections = []
        clipped = zeroed = 0
        for source, m in pop.inputs.items():
            if input_encoding == "spikes" and source == graph.input.name:
                m = m / graph.input.scale  # spike trains arrive at their own rate, unscaled
            coo = m.tocoo()
            mant, exp, n_clip = _quantize_weights(coo.data * vth, weight_bits)
            keep = mant != 0
            zeroed += int(np.count_nonzero(~keep & (coo.data != 0)))
            clipped += n_clip
            projections.append(
                LoihiProjection(source, coo.col[keep], coo.row[keep], mant[keep], exp)
            )
        bias_mant, bias_exp, n_bias = _quantize_bias(pop.bias * vth)
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
    scale = 1.0 if input_encoding == "spikes" else graph.input.scale
    net_input = LoihiInput(tuple(graph.input.shape), input_encoding, scale, graph.input.name)
    return LoihiNet(net_input, layers, timesteps, report)
