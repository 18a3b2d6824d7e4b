"""The ``tensor`` device of Akida 2.0 graphs: batched frames on BLAS float matmuls, integer-exact.

A layer's exact sums run as one float64 matrix product over the batch (convolutions through
their sliding windows, ``im2col``; depthwise per channel) where every partial sum stays
below 2**53, which its bound (max |shifted input| times the largest per-output sum of
|weight|) shows at plan time; a layer beyond it runs the int64 sums of
:mod:`converters.chips.akida_v2`. Saturation, pooling, activation, scaling and rounding are
that module's own functions, so the records equal :func:`emu.engines.akida_v2_reference.simulate`.
"""

from __future__ import annotations

import numpy as np

from converters.chips.akida import pad_before
from converters.chips.akida_v2 import AkidaV2Layer, AkidaV2Net, layer_forward, output_range

from ..traces.records import BatchRecord
from .akida_tensor import AkidaTensorBackend
from .akida_v2_reference import graph_record

__all__ = ["AkidaV2TensorBackend", "simulate", "exact_in_float", "EXACT_BELOW"]

EXACT_BELOW = 2**53  # integers a float64 holds exactly


def _input_max(net: AkidaV2Net) -> dict[str, int]:
    """The largest |output| of every layer and of the input."""
    top = {net.input_name: 2**net.input_bits - 1}
    for layer in net.layers:
        low, high = output_range(layer.output_bits, layer.output_signed)
        if layer.kind == "concat":
            top[layer.name] = max(top[name] for name in layer.inbounds)
        else:
            top[layer.name] = max(-low, high)
    return top


def exact_in_float(net: AkidaV2Net) -> dict[str, bool]:
    """Per weighted layer: whether its float64 sums are exact on any input."""
    top = _input_max(net)
    exact = {}
    for layer in net.layers:
        if layer.kind in ("add", "concat"):
            continue
        x = top[layer.inbounds[0]]
        if layer.kind == "input_conv":
            x = max(x, int(layer.padding_value.max(initial=0)))
        else:
            x = x << int(layer.input_shift.max(initial=0))
        w = np.abs(layer.weights).reshape(-1, layer.weights.shape[-1]).sum(axis=0).max()
        exact[layer.name] = x * int(w) < EXACT_BELOW
    return exact


def _float_accumulate(x: np.ndarray, layer: AkidaV2Layer) -> np.ndarray:
    """The exact sums ``acc`` (N, Ho, Wo, F) of inputs ``x`` (already shifted) as float64."""
    n = len(x)
    if layer.kind == "dense":
        flat = x.reshape(n, -1).astype(np.float64)
        return np.rint(flat @ layer.weights.astype(np.float64)).astype(np.int64)[:, None, None]
    k, s = layer.kernel_size, layer.stride
    ho, wo, f = layer.conv_shape
    _, h, w, c = x.shape
    before = [pad_before(layer.padding, size, k, s) for size in (h, w)]
    size = [max((o - 1) * s + k, d + b) for o, d, b in zip((ho, wo), (h, w), before, strict=True)]
    value = layer.padding_value if layer.kind == "input_conv" else np.zeros(c)
    xp = np.empty((n, size[0], size[1], c), np.float64)
    xp[:] = value
    xp[:, before[0] : before[0] + h, before[1] : before[1] + w] = x
    kernel = layer.weights if layer.kind == "input_conv" else layer.weights[::-1, ::-1]
    kernel = kernel.astype(np.float64)
    if layer.kind == "depthwise":
        acc = np.zeros((n, ho, wo, c))
        for i in range(k):
            for j in range(k):
                acc += (
                    xp[:, i : i + (ho - 1) * s + 1 : s, j : j + (wo - 1) * s + 1 : s]
                    * kernel[i, j, :, 0]
                )
        return np.rint(acc).astype(np.int64)
    cols = np.empty((n, ho, wo, k, k, c), np.float64)
    for i in range(k):
        for j in range(k):
            cols[:, :, :, i, j] = xp[:, i : i + (ho - 1) * s + 1 : s, j : j + (wo - 1) * s + 1 : s]
    acc = cols.reshape(n * ho * wo, -1) @ kernel.reshape(-1, f)
    return np.rint(acc).astype(np.int64).reshape(n, ho, wo, f)


def simulate(
    net: AkidaV2Net, levels: np.ndarray, probe: bool = False, record_events: bool = False
) -> BatchRecord:
    """:func:`emu.engines.akida_v2_reference.simulate` of ``net`` with float64 BLAS sums where exact."""
    exact = exact_in_float(net)
    x = np.asarray(levels).reshape(len(levels), *net.input_shape).astype(np.int64)
    results = {net.input_name: (x, x)}
    for layer in net.layers:
        inputs = [results[name][1] for name in layer.inbounds]
        fast = _float_accumulate if exact.get(layer.name) else None
        results[layer.name] = layer_forward(inputs, layer, fast)
    return graph_record(net, results, probe, record_events)


class AkidaV2TensorBackend(AkidaTensorBackend):
    """The ``tensor`` device of AkidaV2Net graphs: batches on :func:`simulate`, no build."""

    target = "akida_v2"

    def load(self, net: AkidaV2Net) -> None:
        """Take ``net`` (any topology) for the next runs."""
        self.net = net

    def _simulate(self, levels: np.ndarray) -> BatchRecord:
        return simulate(self.net, levels, bool(self.probe), self.settings.record_events)
