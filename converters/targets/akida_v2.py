"""Quantization of a float graph into an Akida 2.0 graph (:mod:`converters.chips.akida_v2`).

Every tensor t holds integers q_t standing for ``2**e_t q_t`` (power-of-two scales, so an
Add aligns its inputs with shifts). A convolution or dense layer ``y = W x + b`` takes
per-output-channel 8-bit weights ``w = round(W / s_w)``, so ``acc = sum w q_in`` stands for
``s_w 2**e_in acc``; its bias is ``bias << bias_shift = round(b / (s_w 2**e_in))``; its
output ``out = round(a r)``, ``r = s_w 2**e_in / 2**e_out`` (divided by the map size under
global average pooling), as ``(a * output_scales) >> n`` with ``output_scales = round(r
2**n)`` in 1..255. A ReLU caps ``a`` just above the top output level. An Add of inputs of
scales 2**ea and 2**eb shifts the finer one left and rounds to its own scale. Outputs are
8-bit (0..127 after a ReLU). ``e_out`` is set from the ``percentile`` of the layer's
calibration activations; torch's Flatten order (c, h, w) becomes the engine's (h, w, c).
"""

from __future__ import annotations

import numpy as np

from ..chips.akida import same_padding
from ..chips.akida_v2 import MAX_SHIFT, AkidaV2Layer, AkidaV2Net
from ..graph import Add, AvgPool2d, Conv2d, Dense, Flatten, Graph, Input, MaxPool2d

__all__ = ["AkidaV2MappingError", "to_akida_v2", "ACCEPTED"]

ACCEPTED = (
    "Input -> Conv2d (odd square kernels, depthwise with groups = channels, stride 1, or 2 with "
    "kernel 1 or 3, TF-style 'same' or no padding) / Dense, ReLU, MaxPool2d or a global "
    "AvgPool2d after a convolution, Flatten, and Add of two branches without ReLU"
)
OUTPUT_BITS = 8
TOP = 2 ** (OUTPUT_BITS - 1) - 1
SCALE_SHIFT_MAX = 23  # (TOP + 1) * 2**23 = 2**30 < 2**31


class AkidaV2MappingError(ValueError):
    """A graph node that Akida 2.0 cannot run: names the node, the problem and what is accepted."""

    def __init__(self, node: str, problem: str):
        super().__init__(f"Akida 2.0 cannot map layer {node!r}: {problem}. Accepted: {ACCEPTED}")
        self.node = node


def _exponent(values: np.ndarray, percentile: float) -> int:
    """The power-of-two scale e putting the ``percentile`` of |values| at the top level."""
    mag = np.abs(values[values != 0])
    top = float(np.percentile(mag, percentile)) if mag.size else 1.0
    return int(np.ceil(np.log2(top / TOP)))


def _scale_shift(ratio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``output_scales`` (1..255) and ``output_shift`` with ``scales * 2**shift ~ ratio``.

    The right shift stays below 24 bits, so ``a * scales`` of a capped potential stays
    inside the 32-bit post-op register (it saturates before the shift).
    """
    n = np.floor(np.log2(255.0 / ratio)).astype(np.int64)
    n = np.clip(n, -MAX_SHIFT, SCALE_SHIFT_MAX)
    scales = np.clip(np.rint(ratio * 2.0**n), 1, 255).astype(np.int64)
    return scales, -n


def _bias(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 ``bias`` and ``bias_shift`` with ``bias << shift ~ b``."""
    shift = np.clip(np.ceil(np.log2(np.maximum(np.abs(b), 1e-30) / 127.0)), 0, MAX_SHIFT)
    return np.clip(np.rint(b / 2.0**shift), -128, 127).astype(np.int64), shift.astype(np.int64)


def _cap(ratio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ReLU cap ``max_value << max_value_shift`` just above the potential of the top level."""
    cap = np.ceil((TOP + 1) / ratio)
    shift = np.clip(np.ceil(np.log2(np.maximum(cap, 1) / 255.0)), 0, MAX_SHIFT)
    return np.clip(np.ceil(cap / 2.0**shift), 1, 255).astype(np.int64), shift.astype(np.int64)


def _padding(node: Conv2d, h: int, w: int) -> str:
    k = node.weight.shape[2]
    if not any(node.padding):
        return "valid"
    same = (*same_padding(h, k, node.stride[0]), *same_padding(w, k, node.stride[1]))
    if tuple(node.padding) == (same[0], same[2], same[1], same[3]):
        return "same"
    raise AkidaV2MappingError(node.name, f"padding {tuple(node.padding)} is not TF-style 'same'")


def _pooling(graph: Graph, node: Conv2d, shape) -> tuple[str, object, dict]:
    """The pooling node fused into ``node`` (or None) and the layer's pool options."""
    users = graph.consumers(node.name)
    if len(users) != 1 or not isinstance(users[0], MaxPool2d | AvgPool2d):
        return "none", None, {}
    pool = users[0]
    if isinstance(pool, AvgPool2d):
        if tuple(pool.kernel) != tuple(shape[1:]):
            raise AkidaV2MappingError(pool.name, "average pooling over less than the whole map")
        return "global_avg", pool, dict(pool="global_avg")
    size, stride = pool.kernel[0], pool.stride[0]
    if pool.kernel[0] != pool.kernel[1] or pool.stride[0] != pool.stride[1] or any(pool.padding):
        raise AkidaV2MappingError(pool.name, "max pooling must be square and unpadded")
    return "max", pool, dict(pool="max", pool_size=size, pool_stride=stride)


def _weights(node, rotate: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel 8-bit weights in the engine's layout and their scales."""
    w = node.weight.astype(np.float64)
    peak = np.abs(w.reshape(len(w), -1)).max(axis=1)
    s_w = np.where(peak > 0, peak / 127.0, 1.0)
    q = np.rint(w / s_w.reshape(-1, *([1] * (w.ndim - 1)))).astype(np.int64)
    if isinstance(node, Dense):
        return q.T, s_w
    q = q.transpose(2, 3, 0, 1) if node.groups > 1 else q.transpose(2, 3, 1, 0)  # (k, k, I, O)
    return (q[::-1, ::-1] if rotate else q), s_w  # the engine's convolutions rotate the kernel


def to_akida_v2(
    graph: Graph, calibration_images: np.ndarray, percentile: float = 99.9
) -> AkidaV2Net:
    """Quantize a float graph (residual and depthwise-separable networks included) into an
    Akida 2.0 graph of 8-bit weights and activations.

    Parameters
    ----------
    graph
        A float graph (see :func:`converters.load`); the first convolution reads the image
        at 8 bits (1 or 3 channels).
    calibration_images
        Samples (N, C, H, W) whose activations set each tensor's power-of-two scale.
    percentile
        Percentile of a tensor's non-zero |activations| taken as its top output level.

    Raises
    ------
    AkidaV2MappingError
        For a node Akida 2.0 cannot run, naming the node, the problem and what is accepted.
    """
    values = graph.forward(np.asarray(calibration_images, np.float64), keep_all=True)
    inp = graph.input
    if not isinstance(inp, Input) or len(inp.shape) != 3 or inp.shape[0] not in (1, 3):
        raise AkidaV2MappingError(inp.name, f"input shape {inp.shape} (need C = 1 or 3, H, W)")
    c, h, w = inp.shape
    exps = {inp.name: float(np.log2(inp.scale / 255.0))}
    shapes = {inp.name: (h, w, c)}
    alias = {inp.name: inp.name}  # graph node -> the record holding its output
    layers: list[AkidaV2Layer] = []
    fused: set[str] = set()
    for node in graph.nodes[1:]:
        if node.name in fused:
            continue
        src = [alias[name] for name in node.inputs]
        if isinstance(node, Flatten):
            alias[node.name] = src[0]
            continue
        if isinstance(node, Add):
            layers.append(_add(node, src, exps, shapes, values[node.name], percentile))
        elif isinstance(node, Conv2d | Dense):
            pool, pool_node, options = "none", None, {}
            if isinstance(node, Conv2d):
                pool, pool_node, options = _pooling(graph, node, values[node.name].shape[1:])
            out_name = pool_node.name if pool_node is not None else node.name
            if pool_node is not None:
                fused.add(pool_node.name)
                alias[pool_node.name] = node.name
            size = int(np.prod(values[node.name].shape[2:])) if pool == "global_avg" else 1
            layers.append(_weighted(node, src[0], exps, shapes, values[out_name], options,
                                    not layers, percentile, size))  # fmt: skip
        else:
            raise AkidaV2MappingError(node.name, f"a {type(node).__name__} here")
        alias[node.name] = node.name
        shapes[node.name] = layers[-1].output_shape
    if layers[0].kind != "input_conv":
        raise AkidaV2MappingError(layers[0].name, "the first layer must be a convolution")
    return AkidaV2Net((h, w, c), 8, layers, inp.scale, inp.name)


def _weighted(node, src, exps, shapes, y, options, first, percentile, map_size) -> AkidaV2Layer:
    """The record of a convolution or dense node (with its fused pooling)."""
    h, w, c = shapes[src]
    groups = getattr(node, "groups", 1)
    if groups > 1 and not groups == c == node.weight.shape[0]:
        raise AkidaV2MappingError(node.name, f"groups {groups} (only depthwise: groups = channels)")
    q, s_w = _weights(node, rotate=not first)
    kw = dict(options)
    if isinstance(node, Dense):
        kind = "dense"
        if len(q) != h * w * c:
            raise AkidaV2MappingError(node.name, f"{len(q)} inputs, the map has {h * w * c}")
        q = q[np.arange(h * w * c).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)]
        kw["input_shift"] = np.zeros(h * w * c, np.int64)
    else:
        k = node.weight.shape[2]
        if node.weight.shape[3] != k or k % 2 == 0 or node.stride[0] != node.stride[1]:
            raise AkidaV2MappingError(node.name, "kernels must be odd and square, strides equal")
        kind = "input_conv" if first else ("depthwise" if groups > 1 else "conv")
        kw.update(kernel_size=k, stride=node.stride[0], padding=_padding(node, h, w))
        kw["padding_value" if first else "input_shift"] = np.zeros(c, np.int64)
    unit = s_w * 2.0 ** exps[src]
    e_out = _exponent(y, percentile)
    ratio = unit / 2.0**e_out / map_size
    scales, shift = _scale_shift(ratio)
    bias, bias_shift = _bias(node.bias.astype(np.float64) / unit)
    if node.relu:
        kw["max_value"], kw["max_value_shift"] = _cap(ratio)  # one position may saturate
    exps[node.name] = e_out
    return AkidaV2Layer(
        node.name, kind, (src,), ((h, w, c),), weights=q, weight_bits=8, bias=bias,
        bias_shift=bias_shift, output_scales=scales, output_shift=shift, activation=node.relu,
        output_bits=OUTPUT_BITS, buffer_bits=32, post_op_buffer_bits=32, **kw,
    )  # fmt: skip


def _add(node: Add, src, exps, shapes, y, percentile) -> AkidaV2Layer:
    """The record of a residual Add: the finer input scale, shifted to the output's."""
    if node.relu:
        raise AkidaV2MappingError(node.name, "a ReLU after the Add (Akida 2.0's Add has none)")
    if len(src) != 2 or node.scale not in (None, (1.0, 1.0)):
        raise AkidaV2MappingError(node.name, "an Add of other than two unscaled inputs")
    ea, eb = int(exps[src[0]]), int(exps[src[1]])
    e, e_out = min(ea, eb), _exponent(y, percentile)
    c = shapes[src[0]][2]
    exps[node.name] = e_out
    return AkidaV2Layer(
        node.name, "add", tuple(src), (shapes[src[0]], shapes[src[1]]),
        a_shift=np.full(c, ea - e), b_shift=np.full(c, eb - e), output_shift=np.full(c, e - e_out),
        output_bits=OUTPUT_BITS, buffer_bits=32, post_op_buffer_bits=32,
    )  # fmt: skip
