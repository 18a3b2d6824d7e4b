"""Quantization of a float graph into an AkidaNet (:mod:`converters.chips.akida`).

A float layer ``y = relu(W x + b)`` whose input is ``x = a_in * q`` (q integer) maps to
integer weights ``w = round(W / s_w)``, threshold ``th = round(-b / (s_w a_in) + E / 2)``
and effective step ``E = S / 16 = a_out / (s_w a_in)``, so that ``out = round(y / a_out)``:
the same rounding quantization-aware training applies (:mod:`converters.training.quantized_layers`).
Weights are stored in the engine's own layout (convolution kernels flipped, fully
connected rows in the order ``h + H (w + W c)``), so an export copies them unchanged.
"""

from __future__ import annotations

import numpy as np

from ..chips.akida import (
    INPUT_CONV_BITS,
    STEP_SCALE,
    STEP_SHIFT,
    AkidaBits,
    AkidaLayer,
    AkidaNet,
    effective_step,
    same_padding,
    weight_range,
)
from ..chips.akida_v2 import AkidaV2Net
from ..graph import AvgPool2d, Conv2d, Dense, Flatten, Graph, Input, MaxPool2d
from .akida_v2 import to_akida_v2

__all__ = ["AkidaMappingError", "to_akida", "quantize_weights"]


class AkidaMappingError(ValueError):
    """A graph node that Akida v1 cannot run: names the node, the problem and what is accepted."""

    def __init__(self, node: str, problem: str, accepted: str):
        super().__init__(f"Akida cannot map layer {node!r}: {problem}. Accepted: {accepted}")
        self.node = node


def quantize_weights(w: np.ndarray, bits: int) -> tuple[np.ndarray, float]:
    """Integer weights ``round(w / s)`` and the scale ``s = max|w| / top`` of one tensor.

    The largest magnitude maps onto the top of the range (127 for 8 bits), so weights
    already on such a grid (quantization-aware training) come back exactly.
    """
    low, high = weight_range(bits)
    peak = float(np.max(np.abs(w))) if w.size else 0.0
    scale = peak / min(high, 127) if peak > 0 else 1.0
    return np.clip(np.rint(w / scale), low, high).astype(np.int8), scale


# --- conversion of a float graph -------------------------------------------------------

_ACCEPTED = (
    "a chain Input -> Conv2d/Dense (ReLU, or no ReLU on the last) with MaxPool2d 2x2 stride 2 "
    "or a global AvgPool2d after a convolution, Flatten before Dense; convolutions with odd "
    "square kernels 1..7, stride 1 (or 2 with 3x3), 'same' padding (TF-style, or centred "
    "windows: 'same_upper'), or no padding"
)


def _conv_padding(node: Conv2d, h: int, w: int) -> str:
    kh, kw = node.weight.shape[2:]
    if not any(node.padding):
        return "valid"
    top, bottom = same_padding(h, kh, node.stride[0])
    left, right = same_padding(w, kw, node.stride[1])
    if tuple(node.padding) == (top, left, bottom, right):
        return "same"
    pt, pl, pb, pr = node.padding
    sh, sw = node.stride
    centred = (pt, pl) == ((kh - 1) // 2, (kw - 1) // 2)
    if centred and ((h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1) == (
        -(-h // sh),
        -(-w // sw),
    ):
        return "same_upper"  # the cells padded at the end beyond the last window are unread
    raise AkidaMappingError(
        node.name,
        f"padding {tuple(node.padding)} (top, left, bottom, right) is neither none nor "
        f"TF-style 'same' {(top, left, bottom, right)} nor centred windows (same_upper)",
        _ACCEPTED,
    )


def _chain(graph: Graph) -> list:
    nodes = graph.nodes
    for prev, node in zip(nodes[:-1], nodes[1:], strict=True):
        if node.inputs != [prev.name] or len(graph.consumers(prev.name)) != 1:
            raise AkidaMappingError(
                node.name,
                f"{type(node).__name__} breaks the single chain (Add, branches)",
                _ACCEPTED,
            )
    if nodes[-1].name != graph.output:
        raise AkidaMappingError(graph.output, "the output is not the last node", _ACCEPTED)
    return nodes[1:]


def _check_conv(node: Conv2d) -> None:
    kh, kw = node.weight.shape[2:]
    if node.groups != 1:
        raise AkidaMappingError(node.name, f"grouped convolution (groups={node.groups})", _ACCEPTED)
    if kh != kw or kh not in (1, 3, 5, 7):
        raise AkidaMappingError(node.name, f"kernel {kh}x{kw}", _ACCEPTED)
    if node.stride[0] != node.stride[1] or node.stride[0] not in (1, 2):
        raise AkidaMappingError(node.name, f"stride {node.stride}", _ACCEPTED)
    if node.stride[0] == 2 and kh != 3:
        raise AkidaMappingError(node.name, f"stride 2 with a {kh}x{kw} kernel", _ACCEPTED)


def _pooling(node, h: int, w: int, conv: Conv2d) -> tuple[str, tuple, tuple]:
    if isinstance(node, MaxPool2d):
        if tuple(node.kernel) != (2, 2) or tuple(node.stride) != (2, 2) or any(node.padding):
            raise AkidaMappingError(
                node.name,
                f"max pooling {tuple(node.kernel)} stride {tuple(node.stride)} padding "
                f"{tuple(node.padding)}",
                _ACCEPTED,
            )
        if h % 2 or w % 2:
            raise AkidaMappingError(node.name, f"max pooling of an odd map {h}x{w}", _ACCEPTED)
        return "max", (2, 2), (2, 2)
    if tuple(node.kernel) != (h, w) or any(node.padding):
        raise AkidaMappingError(
            node.name, f"average pooling {tuple(node.kernel)} over a {h}x{w} map", _ACCEPTED
        )
    if conv.relu:
        raise AkidaMappingError(
            node.name,
            "global average pooling after a ReLU (Akida sums potentials, then applies the "
            "activation)",
            "global average pooling of a convolution without ReLU, as the network's output",
        )
    return "global_avg", (h, w), (h, w)


def _group(graph: Graph) -> list[tuple]:
    """Group the chain into (weighted node, pooling node or None) pairs."""
    groups: list[list] = []
    flat = False
    for node in _chain(graph):
        if isinstance(node, Conv2d | Dense):
            if isinstance(node, Conv2d) and flat:
                raise AkidaMappingError(node.name, "a convolution after Flatten", _ACCEPTED)
            groups.append([node, None])
        elif isinstance(node, Flatten):
            flat = True
        elif isinstance(node, MaxPool2d | AvgPool2d):
            if not groups or not isinstance(groups[-1][0], Conv2d) or groups[-1][1] is not None:
                raise AkidaMappingError(
                    node.name, "pooling that does not directly follow a convolution", _ACCEPTED
                )
            groups[-1][1] = node
        else:
            raise AkidaMappingError(node.name, f"layer type {type(node).__name__}", _ACCEPTED)
    if not groups:
        raise AkidaMappingError(graph.output, "no weighted layer", _ACCEPTED)
    for node, pool in groups[:-1]:
        if not node.relu:
            raise AkidaMappingError(
                node.name,
                "activations are not ReLU-like (a hidden layer without ReLU)",
                "a ReLU after every hidden Conv2d/Dense; only the output layer may lack it",
            )
        if isinstance(pool, AvgPool2d):
            raise AkidaMappingError(
                pool.name, "global average pooling before the output layer", _ACCEPTED
            )
    return [tuple(g) for g in groups]


def _dense_rows(weight: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Torch Dense weights [F, C*H*W] (input flattened C, H, W) as engine rows h + H (w + W c)."""
    h, w, c = shape
    f = weight.shape[0]
    return weight.reshape(f, c, h, w).transpose(0, 1, 3, 2).reshape(f, -1).T


def _kernel(node, input_conv: bool, shape: tuple[int, int, int]) -> tuple[str, str, np.ndarray]:
    """Layer kind, padding and float weights in the engine's layout of a Conv2d or Dense."""
    if isinstance(node, Conv2d):
        _check_conv(node)
        kind = "input_conv" if input_conv else "conv"
        padding = _conv_padding(node, shape[0], shape[1])
        kernel = node.weight.transpose(2, 3, 1, 0)  # kh, kw, C, F (cross-correlation)
        if kind == "conv":
            kernel = kernel[::-1, ::-1]  # the engine convolves
        return kind, padding, kernel
    if node.weight.shape[1] != int(np.prod(shape)):
        raise AkidaMappingError(node.name, f"input size {node.weight.shape[1]}", _ACCEPTED)
    return "dense", "same", _dense_rows(node.weight, shape)


def _record(name: str, *fields) -> AkidaLayer:
    """The AkidaLayer, its refusals (the engine's 'same_upper' defects) as mapping errors."""
    try:
        return AkidaLayer(name, *fields)
    except ValueError as err:
        raise AkidaMappingError(
            name, str(err), "TF-style padding, or centred windows the engine computes correctly"
        ) from err


def _steps(a_out: np.ndarray, unit: float, act_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """act_step and the resulting effective step for wanted output steps ``a_out``."""
    per = 2.0 ** (STEP_SHIFT - act_bits) / STEP_SCALE
    k = np.maximum(np.rint(a_out / unit / per), 1.0)
    act_step = (k / STEP_SCALE).astype(np.float32)
    return act_step, effective_step(act_step, act_bits)


def to_akida(
    graph: Graph,
    calibration_images: np.ndarray,
    bits: AkidaBits | None = None,
    percentile: float = 99.9,
    drop_output_bias: bool = False,
    version: str = "v1",
) -> AkidaNet | AkidaV2Net:
    """Quantize a float graph into an Akida v1 network (or, with ``version="v2"``, an Akida
    2.0 graph: :func:`converters.targets.akida_v2.to_akida_v2`).

    Parameters
    ----------
    graph
        A float graph (see :func:`converters.load`): a chain of ReLU convolutions and dense
        layers with 2x2 max pooling; the first convolution reads the image at 8 bits.
    calibration_images
        Samples (N, C, H, W) whose activations set each layer's output step.
    bits
        Bit widths (default ``AkidaBits()``: 4-bit weights and activations).
    percentile
        Percentile of a layer's positive activations taken as its top output level.
    drop_output_bias
        Akida's output layer (no activation) has no bias; by default a non-zero output
        bias is refused, with this flag it is dropped.
    version
        "v1" (AKD1000) or "v2" (Akida 2.0: residual Adds, depthwise convolutions, 8-bit
        weights and activations; ``bits`` and ``drop_output_bias`` do not apply).

    Returns
    -------
    AkidaNet

    Raises
    ------
    AkidaMappingError
        For a node Akida v1 cannot run, naming the node, the problem and what is accepted.
    """
    if version not in ("v1", "v2"):
        raise ValueError(f"version must be 'v1' or 'v2', got {version!r}")
    if version == "v2":
        return to_akida_v2(graph, calibration_images, percentile)
    bits = bits or AkidaBits()
    if not isinstance(graph.input, Input) or len(graph.input.shape) not in (1, 3):
        raise AkidaMappingError(graph.input.name, f"input shape {graph.input.shape}", _ACCEPTED)
    groups = _group(graph)
    calib = np.asarray(calibration_images, np.float64)
    values = graph.forward(calib, keep_all=True)
    in_shape = graph.input.shape
    shape = (in_shape[1], in_shape[2], in_shape[0]) if len(in_shape) == 3 else (1, 1, in_shape[0])
    first_conv = isinstance(groups[0][0], Conv2d)
    input_bits = INPUT_CONV_BITS if first_conv and shape[2] in (1, 3) else bits.activations
    a_in = graph.input.scale / (2**input_bits - 1)
    layers = []
    for k, (node, pool) in enumerate(groups):
        last = k == len(groups) - 1
        act_bits = bits.activations if node.relu else None
        w_bits = bits.input_weights if input_bits == INPUT_CONV_BITS and k == 0 else bits.weights
        kind, padding, kernel = _kernel(node, k == 0 and input_bits == INPUT_CONV_BITS, shape)
        wq, s_w = quantize_weights(np.ascontiguousarray(kernel), w_bits)
        if w_bits == 1 and np.any(kernel < 0):
            raise AkidaMappingError(
                node.name, "negative weights at 1 bit", "1-bit weights in {0, 1}; use 2 or 4 bits"
            )
        unit = s_w * a_in
        act_step, threshold, step = _output_levels(
            node, values[node.name], unit, act_bits, percentile, drop_output_bias
        )
        if step is not None and not last:
            a_in = float(step * unit)
        pool_kind, pool_size, pool_stride = "none", (1, 1), (1, 1)
        if pool is not None:
            h, w = values[node.name].shape[2:]
            pool_kind, pool_size, pool_stride = _pooling(pool, h, w, node)
        layer = _record(
            node.name,
            kind,
            shape,
            wq,
            threshold.astype(np.int32),
            act_step,
            w_bits,
            act_bits,
            padding,
            tuple(node.stride) if isinstance(node, Conv2d) else (1, 1),
            pool_kind,
            pool_size,
            pool_stride,
        )
        layers.append(layer)
        shape = layer.output_shape
    return AkidaNet(layers[0].input_shape, input_bits, layers, graph.input.scale, graph.input.name)


def _output_levels(
    node, y: np.ndarray, unit: float, act_bits: int | None, percentile: float, drop_bias: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Activation steps, integer thresholds and the output step of one layer.

    The top output level is the ``percentile`` of the layer's positive calibration
    activations ``y``; a layer without activation (the output) has no threshold and no step.
    """
    bias = node.bias.astype(np.float64)
    if act_bits is None:
        if np.any(bias != 0) and not drop_bias:
            raise AkidaMappingError(
                node.name,
                "a non-zero bias on a layer without activation (Akida has no bias there)",
                "a zero output bias (quantization-aware training keeps it zero), a ReLU, "
                "or to_akida(..., drop_output_bias=True)",
            )
        return np.ones(bias.shape, np.float32), np.zeros(bias.shape, np.int64), None
    y = y.transpose(1, 0, *range(2, y.ndim)).reshape(len(bias), -1)
    top = float(np.percentile(y[y > 0], percentile)) if np.any(y > 0) else 1.0
    a_out = np.full(bias.shape, top / (2**act_bits - 1))
    act_step, step = _steps(a_out, unit, act_bits)
    return act_step, np.rint(-bias / unit + step / 2), step[0]
