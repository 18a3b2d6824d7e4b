"""Akida (v1) networks in the engine's integers, and quantization of a float graph into one.

Each layer integrates all input events of a frame, then fires once (DESIGN.md, "Akida (v1)
integrate-then-fire layer arithmetic")::

    p   = sum(w * x)                                   integer potential, no bias term
    out = p > th                                       act_bits == 1
    out = clip(ceil(16 (p - th) / S), 0, 2**b - 1)    S = floor(16 act_step) 2**(4 - b)

A float layer ``y = relu(W x + b)`` whose input is ``x = a_in * q`` (q integer) maps to
integer weights ``w = round(W / s_w)``, threshold ``th = round(-b / (s_w a_in) + E / 2)``
and effective step ``E = S / 16 = a_out / (s_w a_in)``, so that ``out = round(y / a_out)``:
the same rounding quantization-aware training applies (:mod:`converters.quantized_layers`).
Weights are stored in the engine's own layout (convolution kernels flipped, fully
connected rows in the order ``h + H (w + W c)``), so an export copies them unchanged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .graph import AvgPool2d, Conv2d, Dense, Flatten, Graph, Input, MaxPool2d

__all__ = [
    "AkidaBits",
    "AkidaLayer",
    "AkidaNet",
    "AkidaMappingError",
    "to_akida",
    "weight_range",
    "quantize_weights",
    "effective_step",
    "LAYER_KINDS",
    "POOLS",
]

LAYER_KINDS = ("input_conv", "conv", "dense")
POOLS = ("none", "max", "global_avg")
PADDINGS = ("same", "valid")
ACT_BITS = (1, 2, 4)
WEIGHT_BITS = (1, 2, 4, 8)
INPUT_CONV_BITS = 8


class AkidaMappingError(ValueError):
    """A graph node that Akida v1 cannot run: names the node, the problem and what is accepted."""

    def __init__(self, node: str, problem: str, accepted: str):
        super().__init__(f"Akida cannot map layer {node!r}: {problem}. Accepted: {accepted}")
        self.node = node


def weight_range(bits: int) -> tuple[int, int]:
    """Integer range of Akida weights of ``bits`` bits: {0,1}, {-1,0,1}, [-7,7], [-128,127]."""
    ranges = {1: (0, 1), 2: (-1, 1), 4: (-7, 7), 8: (-128, 127)}
    if bits not in ranges:
        raise ValueError(f"weight bits must be one of {WEIGHT_BITS}, got {bits}")
    return ranges[bits]


def quantize_weights(w: np.ndarray, bits: int) -> tuple[np.ndarray, float]:
    """Integer weights ``round(w / s)`` and the scale ``s = max|w| / top`` of one tensor.

    The largest magnitude maps onto the top of the range (127 for 8 bits), so weights
    already on such a grid (quantization-aware training) come back exactly.
    """
    low, high = weight_range(bits)
    peak = float(np.max(np.abs(w))) if w.size else 0.0
    scale = peak / min(high, 127) if peak > 0 else 1.0
    return np.clip(np.rint(w / scale), low, high).astype(np.int8), scale


def effective_step(act_step: np.ndarray, act_bits: int) -> np.ndarray:
    """Potential units per output level: ``floor(16 act_step) 2**(4 - act_bits) / 16``."""
    return np.floor(16 * np.asarray(act_step, np.float64)) * 2.0 ** (4 - act_bits) / 16


def _check_int(name: str, arr: np.ndarray, low: int, high: int) -> None:
    if arr.size and (
        not np.issubdtype(arr.dtype, np.integer) or arr.min() < low or arr.max() > high
    ):
        raise ValueError(
            f"{name} must be integers in [{low}, {high}], got {arr.dtype} in [{arr.min()}, {arr.max()}]"
        )


@dataclass(frozen=True)
class AkidaBits:
    """Bit widths of an Akida deployment: weights and activations of every layer but the
    input convolution, which reads 8-bit pixels with ``input_weights``-bit weights."""

    weights: int = 4
    activations: int = 4
    input_weights: int = 8

    def __post_init__(self) -> None:
        if self.weights not in (1, 2, 4):
            raise ValueError(f"weights must be 1, 2 or 4 bits, got {self.weights}")
        if self.activations not in ACT_BITS:
            raise ValueError(f"activations must be 1, 2 or 4 bits, got {self.activations}")
        if self.input_weights not in WEIGHT_BITS:
            raise ValueError(
                f"input_weights must be one of {WEIGHT_BITS}, got {self.input_weights}"
            )


@dataclass
class AkidaLayer:
    """One Akida v1 layer: integer weights in the engine's layout, thresholds, steps."""

    name: str
    kind: str  # one of LAYER_KINDS
    input_shape: tuple[int, int, int]  # (H, W, C) of one sample
    weights: np.ndarray  # int8; conv [kh, kw, C, F]; dense [H*W*C, F], row h + H*(w + W*c)
    threshold: np.ndarray  # int32 [F]
    act_step: np.ndarray  # float32 [F]
    weight_bits: int
    act_bits: int | None  # 1, 2, 4; None: no activation, the layer outputs its potentials
    padding: str = "same"
    stride: tuple[int, int] = (1, 1)
    pool: str = "none"  # one of POOLS
    pool_size: tuple[int, int] = (1, 1)
    pool_stride: tuple[int, int] = (1, 1)

    def __post_init__(self) -> None:
        where = f"layer {self.name!r}"
        self.input_shape = tuple(int(s) for s in self.input_shape)
        self.stride, self.pool_size = tuple(self.stride), tuple(self.pool_size)
        self.pool_stride = tuple(self.pool_stride)
        if self.kind not in LAYER_KINDS:
            raise ValueError(f"{where}: kind must be one of {LAYER_KINDS}, got {self.kind!r}")
        if self.padding not in PADDINGS or self.pool not in POOLS:
            raise ValueError(f"{where}: padding {self.padding!r} or pool {self.pool!r} unknown")
        if self.act_bits is not None and self.act_bits not in ACT_BITS:
            raise ValueError(f"{where}: act_bits must be one of {ACT_BITS} or None")
        self.weights = np.asarray(self.weights)
        _check_int(f"{where}: weights", self.weights, *weight_range(self.weight_bits))
        self.weights = self.weights.astype(np.int8)
        h, w, c = self.input_shape
        if self.kind == "dense":
            if self.weights.ndim != 2 or self.weights.shape[0] != h * w * c:
                raise ValueError(f"{where}: dense weights must be [{h * w * c}, F]")
            if self.pool != "none":
                raise ValueError(f"{where}: a fully connected layer has no pooling")
        else:
            kh, kw, cin = self.weights.shape[:3] if self.weights.ndim == 4 else (0, 0, -1)
            if cin != c or kh % 2 == 0 or kw % 2 == 0:
                raise ValueError(f"{where}: conv weights must be [odd kh, odd kw, {c}, F]")
            if not (1 <= self.stride[0] <= kh and 1 <= self.stride[1] <= kw):
                raise ValueError(f"{where}: stride {self.stride} must be in 1..kernel")
            if self.pool == "max" and not all(
                1 <= s <= p for s, p in zip(self.pool_stride, self.pool_size, strict=True)
            ):
                raise ValueError(f"{where}: pool stride {self.pool_stride} must be in 1..pool size")
        if min(self.output_shape) < 1:
            raise ValueError(
                f"{where}: input {self.input_shape} is too small for its kernel or pool"
            )
        f = self.weights.shape[-1]
        self.threshold = np.asarray(self.threshold)
        _check_int(f"{where}: threshold", self.threshold, -(2**31), 2**31 - 1)
        self.threshold = self.threshold.astype(np.int32)
        self.act_step = np.asarray(self.act_step, np.float32)
        if self.threshold.shape != (f,) or self.act_step.shape != (f,):
            raise ValueError(f"{where}: threshold and act_step need shape ({f},)")
        if self.act_bits is not None and np.any(self.act_step < 1 / 16):
            raise ValueError(f"{where}: act_step must be >= 1/16")

    @property
    def filters(self) -> int:
        return int(self.weights.shape[-1])

    @property
    def conv_shape(self) -> tuple[int, int, int]:
        """(H, W, F) of the potentials before pooling."""
        h, w, _ = self.input_shape
        if self.kind == "dense":
            return (1, 1, self.filters)
        kh, kw = self.weights.shape[:2]
        if self.padding == "same":
            return (-(-h // self.stride[0]), -(-w // self.stride[1]), self.filters)
        return ((h - kh) // self.stride[0] + 1, (w - kw) // self.stride[1] + 1, self.filters)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        h, w, f = self.conv_shape
        if self.pool == "global_avg":
            return (1, 1, f)
        if self.pool == "max":
            (ph, pw), (sh, sw) = self.pool_size, self.pool_stride
            if self.padding == "same":
                return (-(-h // sh), -(-w // sw), f)
            return ((h - ph) // sh + 1, (w - pw) // sw + 1, f)
        return (h, w, f)


@dataclass
class AkidaNet:
    """An Akida v1 network: integer inputs of ``input_bits`` bits (H, W, C), then layers.

    A float sample x (C, H, W) enters as ``round(clip(x / input_scale, 0, 1) (2**bits - 1))``.
    """

    input_shape: tuple[int, int, int]  # (H, W, C)
    input_bits: int
    layers: list[AkidaLayer]
    input_scale: float = 1.0
    input_name: str = "input"
    target: str = field(default="akida", init=False)

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(s) for s in self.input_shape)
        if not self.layers:
            raise ValueError("an AkidaNet needs at least one layer")
        first = self.layers[0].kind == "input_conv"
        allowed = (INPUT_CONV_BITS,) if first else ACT_BITS
        if self.input_bits not in allowed:
            raise ValueError(f"input_bits must be one of {allowed}, got {self.input_bits}")
        shape = self.input_shape
        names = {self.input_name}
        for k, layer in enumerate(self.layers):
            if layer.kind == "input_conv" and k > 0:
                raise ValueError(f"layer {layer.name!r}: an input convolution must come first")
            if layer.input_shape != shape:
                raise ValueError(
                    f"layer {layer.name!r} expects input {layer.input_shape}, gets {shape}"
                )
            if layer.act_bits is None and k < len(self.layers) - 1:
                raise ValueError(f"layer {layer.name!r}: only the last layer may lack activation")
            if layer.name in names:
                raise ValueError(f"layer name {layer.name!r} is used twice")
            names.add(layer.name)
            shape = layer.output_shape

    @property
    def layer_names(self) -> list[str]:
        return [self.input_name] + [layer.name for layer in self.layers]

    def levels(self, samples: np.ndarray) -> np.ndarray:
        """Integer inputs (N, H, W, C) for float samples (N, C, H, W) or (N, features)."""
        x = np.asarray(samples, dtype=np.float64)
        h, w, c = self.input_shape
        if x.ndim == 2 and x.shape[1] == h * w * c and h == w == 1:
            x = x[:, :, None, None]
        if x.shape[1:] != (c, h, w):
            raise ValueError(f"samples have shape {x.shape[1:]}, the network expects {(c, h, w)}")
        if not np.all(np.isfinite(x)):
            raise ValueError("input samples contain NaN or infinite values")
        top = 2**self.input_bits - 1
        q = np.rint(np.clip(x / self.input_scale, 0.0, 1.0) * top).astype(np.uint8)
        return q.transpose(0, 2, 3, 1)

    def digest(self) -> str:
        """A hash of every parameter, stable across processes."""
        h = hashlib.sha256()
        h.update(repr((self.input_shape, self.input_bits, self.input_scale)).encode())
        for layer in self.layers:
            h.update(
                repr(
                    (layer.name, layer.kind, layer.input_shape, layer.weight_bits, layer.act_bits)
                    + (layer.padding, layer.stride, layer.pool, layer.pool_size, layer.pool_stride)
                ).encode()
            )
            for a in (layer.weights, layer.threshold, layer.act_step):
                h.update(a.tobytes())
        return h.hexdigest()[:16]


# --- conversion of a float graph -------------------------------------------------------

_ACCEPTED = (
    "a chain Input -> Conv2d/Dense (ReLU, or no ReLU on the last) with MaxPool2d 2x2 stride 2 "
    "or a global AvgPool2d after a convolution, Flatten before Dense; convolutions with odd "
    "square kernels 1..7, stride 1 (or 2 with 3x3), 'same' (TF-style) or no padding"
)


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _conv_padding(node: Conv2d, h: int, w: int) -> str:
    kh, kw = node.weight.shape[2:]
    if not any(node.padding):
        return "valid"
    top, bottom = _same_padding(h, kh, node.stride[0])
    left, right = _same_padding(w, kw, node.stride[1])
    if tuple(node.padding) == (top, left, bottom, right):
        return "same"
    raise AkidaMappingError(
        node.name,
        f"padding {tuple(node.padding)} (top, left, bottom, right) is neither none nor "
        f"TF-style 'same' {(top, left, bottom, right)}",
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


def _steps(a_out: np.ndarray, unit: float, act_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """act_step and the resulting effective step for wanted output steps ``a_out``."""
    per = 2.0 ** (4 - act_bits) / 16
    k = np.maximum(np.rint(a_out / unit / per), 1.0)
    act_step = (k / 16).astype(np.float32)
    return act_step, effective_step(act_step, act_bits)


def to_akida(
    graph: Graph,
    calibration_images: np.ndarray,
    bits: AkidaBits | None = None,
    percentile: float = 99.9,
    drop_output_bias: bool = False,
) -> AkidaNet:
    """Quantize a float graph into an Akida v1 network.

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

    Returns
    -------
    AkidaNet

    Raises
    ------
    AkidaMappingError
        For a node Akida v1 cannot run, naming the node, the problem and what is accepted.
    """
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
        if isinstance(node, Conv2d):
            _check_conv(node)
            kind = "input_conv" if k == 0 and input_bits == INPUT_CONV_BITS else "conv"
            padding = _conv_padding(node, shape[0], shape[1])
            kernel = node.weight.transpose(2, 3, 1, 0)  # kh, kw, C, F (cross-correlation)
            if kind == "conv":
                kernel = kernel[::-1, ::-1]  # the engine convolves
        else:
            kind, padding = "dense", "same"
            if node.weight.shape[1] != int(np.prod(shape)):
                raise AkidaMappingError(node.name, f"input size {node.weight.shape[1]}", _ACCEPTED)
            kernel = _dense_rows(node.weight, shape)
        wq, s_w = quantize_weights(np.ascontiguousarray(kernel), w_bits)
        if w_bits == 1 and np.any(kernel < 0):
            raise AkidaMappingError(
                node.name, "negative weights at 1 bit", "1-bit weights in {0, 1}; use 2 or 4 bits"
            )
        unit = s_w * a_in
        bias = node.bias.astype(np.float64)
        if act_bits is None:
            if np.any(bias != 0) and not drop_output_bias:
                raise AkidaMappingError(
                    node.name,
                    "a non-zero bias on a layer without activation (Akida has no bias there)",
                    "a zero output bias (quantization-aware training keeps it zero), a ReLU, "
                    "or to_akida(..., drop_output_bias=True)",
                )
            act_step = np.ones(node.bias.shape, np.float32)  # unused without activation
            threshold = np.zeros(node.bias.shape, np.int64)
        else:
            y = values[node.name]
            y = y.transpose(1, 0, *range(2, y.ndim)).reshape(len(node.bias), -1)
            top = float(np.percentile(y[y > 0], percentile)) if np.any(y > 0) else 1.0
            a_out = np.full(node.bias.shape, top / (2**act_bits - 1))
            act_step, step = _steps(a_out, unit, act_bits)
            threshold = np.rint(-bias / unit + step / 2)
            if not last:
                a_in = float(step[0] * unit)
        pool_kind, pool_size, pool_stride = "none", (1, 1), (1, 1)
        if pool is not None:
            h, w = values[node.name].shape[2:]
            pool_kind, pool_size, pool_stride = _pooling(pool, h, w, node)
        layer = AkidaLayer(
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
