"""BrainChip Akida 2.0 (v2): layer records in the engine's integers, graphs, and their arithmetic.

As the akida 2.19.3 engine computes it (``IpVersion.v2``, software backend), found on
randomized layers and graphs (``scripts/akida_v2_engine_cases.py``). Per output position and
channel, ``sat_n`` the signed saturation to n bits, ``B`` = ``buffer_bits``, ``P`` =
``post_op_buffer_bits``, every other intermediate exact::

    x'  = x << input_shift[c]          per input channel (dense: per flattened input);
                                        none in the input convolution
    acc = sum x' * w                    input_conv: cross-correlation, pads = padding_value[c]
                                        conv, depthwise: true convolution (kernel rotated), pads 0
                                        dense: the (h, w, c) row-major flatten
    b   = sat_P(bias << bias_shift)
    v   = sat_P(sat_B(acc + b))         input_conv (the bias inside the buffer)
    v   = sat_P(sat_B(acc) + b)         conv, depthwise, dense
    max pool: windows placed as the convolution's padding places them, padded cells never win
    a   = min(max(v, 0), max_value << max_value_shift)       with activation (ReLU)
    global average pool: sum over positions of a (of v without activation), row-major,
          in a saturating P-bit register (order matters)
    q   = sat_P(a * output_scales)
    q   = q << s for s = output_shift >= 0;  (q + 2**(r-1)) >> r for r = -s  (round half up)
    out = clip(q) to [-2**(ob-1), 2**(ob-1) - 1] (output_bits ob >= 8), [0, 2**ob - 1] (ob < 8)

    add:    q = sat_P(sat_B((a << a_shift) + (b << b_shift))); output_shift as above;
            clip to the signed range of output_bits whatever the width
    concat: the channels of inbound 0, then those of inbound 1

Quirks, all measured: 4-bit weights are -8..7; an unsigned output below 8 bits even without
activation; ``Add`` clips to a signed range though the engine reports it unsigned; average
pooling with an explicit window returns the global sum (refused here: only global average);
shifts of 32..127 crash the engine (the records take shifts 0..31, output shifts -62..31, and
widths up to 32 bits, where int64 holds every intermediate).
Activations are (N, H, W, C) integer arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .akida import AkidaGraph, pad_before, pooled_shape, window_count
from .fields import (
    INDEX_MAX,
    check_ranges,
    declared_range,
    describe,
    ints,
    ints_by,
    offending,
)

__all__ = [
    "AkidaV2Layer",
    "AkidaV2Net",
    "LAYER_KINDS",
    "WEIGHTED",
    "WEIGHT_RANGES",
    "MAX_SHIFT",
    "ENGINE_TYPES",
    "ENGINE_VARIABLES",
    "POOLS",
    "PADDINGS",
    "saturate",
    "shift_round",
    "output_range",
    "accumulate",
    "shifted_inputs",
    "potentials",
    "layer_forward",
    "net_forward",
]

LAYER_KINDS = ("input_conv", "conv", "depthwise", "dense", "add", "concat")
WEIGHTED = ("input_conv", "conv", "depthwise", "dense")
POOLS = ("none", "max", "global_avg")
PADDINGS = ("same", "valid")
WEIGHT_RANGES = {1: (0, 1), 2: (-1, 1), 4: (-8, 7), 8: (-128, 127)}
# the engine's layer types and the integer variables its layers hold (akida.Layer.get_variable)
ENGINE_TYPES = {
    "input_conv": "InputConv2D",
    "conv": "Conv2D",
    "depthwise": "DepthwiseConv2D",
    "dense": "Dense1D",
    "add": "Add",
    "concat": "Concatenate",
}
ENGINE_VARIABLES = (
    "weights", "bias", "bias_shift", "input_shift", "max_value", "max_value_shift",
    "output_scales", "output_shift", "padding_value", "a_shift", "b_shift",
)  # fmt: skip
MAX_SHIFT = 31  # the engine crashes on shifts of 32..127; int64 holds every result below


def _none(dtype: type = np.int64):
    """A factory of empty parameter arrays (fields a layer kind does not use)."""
    return lambda: np.zeros(0, dtype)


def saturate(x: np.ndarray, bits: int) -> np.ndarray:
    """Signed saturation of int64 ``x`` to ``bits`` bits."""
    top = 2 ** (bits - 1)
    return np.clip(x, -top, top - 1)


def shift_round(q: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``q << s`` for s >= 0, ``(q + 2**(r-1)) >> r`` for r = -s > 0 (round half up)."""
    s = np.asarray(shift, np.int64)
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    half = np.where(right > 0, np.left_shift(1, np.maximum(right - 1, 0)), 0)
    return np.where(s >= 0, q << left, (q + half) >> right)


def output_range(bits: int, signed: bool) -> tuple[int, int]:
    """The integers an output of ``bits`` bits holds: signed from 8 bits on, or for an Add."""
    if signed or bits >= 8:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


@dataclass
class AkidaV2Layer:
    """One Akida 2.0 layer: integer parameters as the engine holds them, and its options.

    ``weights``: input_conv/conv [k, k, C, F], depthwise [k, k, C, 1], dense [X, F] (X the
    row-major flatten of the input); add/concat hold none. Per-output arrays have F entries
    (C for depthwise and add); ``input_shift`` one per input channel (per input for dense),
    ``padding_value`` one per input channel of the input convolution.
    """

    name: str
    kind: str  # one of LAYER_KINDS
    inbounds: tuple[str, ...]
    input_shapes: tuple[tuple[int, int, int], ...] = ints(1, INDEX_MAX)  # (H, W, C) of each
    weights: np.ndarray = ints_by("weight_bits", WEIGHT_RANGES, default_factory=_none(np.int8))
    weight_bits: int = ints(min(WEIGHT_RANGES), max(WEIGHT_RANGES), default=8)
    bias: np.ndarray = ints(-128, 127, default_factory=_none())  # int8 [F]
    bias_shift: np.ndarray = ints(0, MAX_SHIFT, default_factory=_none())
    input_shift: np.ndarray = ints(0, MAX_SHIFT, default_factory=_none())
    max_value: np.ndarray = ints(0, 255, default_factory=_none())
    max_value_shift: np.ndarray = ints(0, MAX_SHIFT, default_factory=_none())
    output_scales: np.ndarray = ints(0, 255, default_factory=_none())
    output_shift: np.ndarray = ints(-2 * MAX_SHIFT, MAX_SHIFT, default_factory=_none())  # int8
    padding_value: np.ndarray = ints(0, 255, default_factory=_none())
    a_shift: np.ndarray = ints(0, MAX_SHIFT, default_factory=_none())
    b_shift: np.ndarray = ints(0, MAX_SHIFT, default_factory=_none())
    activation: bool = False
    output_bits: int = ints(1, 32, default=8)
    buffer_bits: int = ints(1, 32, default=28)
    post_op_buffer_bits: int = ints(1, 32, default=32)
    kernel_size: int = ints(1, INDEX_MAX, default=1)
    stride: int = ints(1, INDEX_MAX, default=1)
    padding: str = "same"
    pool: str = "none"
    pool_size: int = ints(1, INDEX_MAX, default=1)
    pool_stride: int = ints(1, INDEX_MAX, default=1)

    def __post_init__(self) -> None:
        where = f"layer {self.name!r}"
        self._check_structure(where)
        check_ranges(self, where)

    def _check_structure(self, where: str) -> None:
        """Kind, inbounds, shapes and widths; each kind's parameter arrays, cast to int64."""
        self.inbounds = tuple(self.inbounds)
        self.input_shapes = tuple(tuple(int(s) for s in shape) for shape in self.input_shapes)
        if self.kind not in LAYER_KINDS:
            raise ValueError(f"{where}: kind must be one of {LAYER_KINDS}, got {self.kind!r}")
        joins = self.kind in ("add", "concat")
        if len(self.input_shapes) != (2 if joins else 1) or len(self.inbounds) not in (0, 1, 2):
            raise ValueError(f"{where}: {self.kind} takes {2 if joins else 1} inbound(s)")
        if self.padding not in PADDINGS or self.pool not in POOLS:
            raise ValueError(
                f"{where}: padding must be one of {PADDINGS} and pool one of {POOLS}, "
                f"got {self.padding!r}, {self.pool!r}"
            )
        widths = (self.output_bits, self.buffer_bits, self.post_op_buffer_bits)
        width = declared_range(AkidaV2Layer, "output_bits")
        if not all(width.low <= int(b) <= width.high for b in widths):
            raise ValueError(
                f"{where}: output, buffer and post-op widths must be "
                f"{width.low}..{width.high} bits, got {widths}"
            )
        if self.kind == "concat":
            (h, w, _), (h2, w2, _) = self.input_shapes
            if (h, w) != (h2, w2):
                raise ValueError(f"{where}: concatenated maps differ: {self.input_shapes}")
            return
        if self.kind == "add":
            if self.input_shapes[0] != self.input_shapes[1]:
                raise ValueError(f"{where}: added maps differ: {self.input_shapes}")
            c = self.input_shapes[0][2]
            for name in ("a_shift", "b_shift", "output_shift"):
                self._per_channel(where, name, c)
            return
        self._check_weighted(where)

    def _per_channel(self, where: str, name: str, size: int) -> None:
        """Field ``name`` as ``size`` int64 integers in its declared range, or ValueError."""
        arr = np.asarray(getattr(self, name))
        rng = declared_range(AkidaV2Layer, name)
        if arr.shape != (size,) or offending(arr, rng.kind, rng.low, rng.high) is not None:
            accepted = describe(rng.kind, rng.low, rng.high)
            span = f" in [{arr.min()}, {arr.max()}]" if arr.size else ""
            raise ValueError(
                f"{where}: {name} must be {size} {accepted}, got shape {arr.shape}{span}"
            )
        setattr(self, name, arr.astype(np.int64))

    def _check_weighted(self, where: str) -> None:
        h, w, c = self.input_shapes[0]
        rng = declared_range(AkidaV2Layer, "weights")
        if self.weight_bits not in rng.choices:
            raise ValueError(f"{where}: weight bits must be one of {rng.choices}")
        low, high = rng.bounds(self.weight_bits)
        weights = np.asarray(self.weights)
        if offending(weights, rng.kind, low, high) is not None:
            raise ValueError(f"{where}: {self.weight_bits}-bit weights must be in {low}..{high}")
        self.weights = weights.astype(np.int64)
        k = self.kernel_size
        expected = {
            "input_conv": (k, k, c, None),
            "conv": (k, k, c, None),
            "depthwise": (k, k, c, 1),
            "dense": (h * w * c, None),
        }[self.kind]
        if self.weights.ndim != len(expected) or any(
            e is not None and e != s for e, s in zip(expected, self.weights.shape, strict=True)
        ):
            raise ValueError(f"{where}: weights of shape {self.weights.shape}, expected {expected}")
        if self.kind != "dense" and k % 2 == 0:
            raise ValueError(f"{where}: kernel size must be odd, got {k}")
        if self.kind == "dense" and self.pool != "none":
            raise ValueError(f"{where}: a dense layer has no pooling")
        f = self.filters
        for name in ("bias", "output_shift", "bias_shift", "output_scales"):
            self._per_channel(where, name, f)
        if self.activation or np.size(self.max_value):
            for name in ("max_value", "max_value_shift"):
                self._per_channel(where, name, f)
        if self.kind == "input_conv":
            self._per_channel(where, "padding_value", c)
        else:
            size = h * w * c if self.kind == "dense" else c
            self._per_channel(where, "input_shift", size)
        if min(self.output_shape) < 1:
            raise ValueError(f"{where}: input {self.input_shapes[0]} too small for kernel or pool")

    @property
    def filters(self) -> int:
        """Output channels."""
        if self.kind == "depthwise":
            return self.input_shapes[0][2]
        if self.kind == "add":
            return self.input_shapes[0][2]
        if self.kind == "concat":
            return self.input_shapes[0][2] + self.input_shapes[1][2]
        return int(self.weights.shape[-1])

    @property
    def conv_shape(self) -> tuple[int, int, int]:
        """(H, W, F) before pooling."""
        h, w, _ = self.input_shapes[0]
        if self.kind == "dense":
            return (1, 1, self.filters)
        if self.kind in ("add", "concat"):
            return (h, w, self.filters)
        k, s, pad = self.kernel_size, self.stride, self.padding
        return (window_count(pad, h, k, s), window_count(pad, w, k, s), self.filters)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        size, stride = (self.pool_size,) * 2, (self.pool_stride,) * 2
        return pooled_shape(self.conv_shape, self.pool, self.padding, size, stride)

    @property
    def output_signed(self) -> bool:
        """Whether outputs may be negative: 8 bits and wider, or an Add."""
        return self.kind == "add" or self.output_bits >= 8


@dataclass
class AkidaV2Net(AkidaGraph):
    """An Akida 2.0 graph: layers in topological order, each naming its inbounds (see
    :class:`~converters.chips.akida.AkidaGraph`)."""

    target: str = field(default="akida_v2", init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        allowed = (8,) if self.layers[0].kind == "input_conv" else (1, 2, 3, 4)
        if self.input_bits not in allowed:  # the engine's InputData is signed from 5 bits on
            raise ValueError(
                f"input_bits must be one of {allowed} (8 for an input convolution, unsigned "
                f"1..4 otherwise), got {self.input_bits}"
            )
        shapes = {self.input_name: self.input_shape}
        for k, layer in enumerate(self.layers):
            where = f"layer {layer.name!r}"
            if layer.kind == "input_conv" and k > 0:
                raise ValueError(f"{where}: an input convolution must come first")
            if layer.name in shapes:
                raise ValueError(f"layer name {layer.name!r} is used twice")
            missing = [name for name in layer.inbounds if name not in shapes]
            if missing:
                raise ValueError(f"{where}: inbounds {missing} are not earlier layers")
            got = tuple(shapes[name] for name in layer.inbounds)
            if got != layer.input_shapes:
                raise ValueError(f"{where} expects inputs {layer.input_shapes}, gets {got}")
            shapes[layer.name] = layer.output_shape


# --- the arithmetic, as pure functions on integer inputs and a layer -------------------


def _windows(x: np.ndarray, layer: AkidaV2Layer, value: np.ndarray) -> np.ndarray:
    """Sliding windows (N, Ho, Wo, C, k, k) of the input, ``value[c]`` in the padded cells."""
    k, s = layer.kernel_size, layer.stride
    out = layer.conv_shape[:2]
    n, h, w, c = x.shape
    pads = []
    for a, size in enumerate((h, w)):
        before = pad_before(layer.padding, size, k, s)
        pads.append((before, max((out[a] - 1) * s + k - size - before, 0)))
    padded = np.empty((n, h + sum(pads[0]), w + sum(pads[1]), c), np.int64)
    padded[:] = value
    padded[:, pads[0][0] : pads[0][0] + h, pads[1][0] : pads[1][0] + w] = x
    win = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(1, 2))
    return win[:, ::s, ::s][:, : out[0], : out[1]]


def accumulate(x: np.ndarray, layer: AkidaV2Layer) -> np.ndarray:
    """The exact sums ``acc`` (N, Ho, Wo, F) of a weighted layer, inputs already shifted."""
    if layer.kind == "dense":
        return (x.reshape(len(x), -1) @ layer.weights)[:, None, None, :]
    pad = layer.padding_value if layer.kind == "input_conv" else np.zeros(x.shape[3], np.int64)
    win = _windows(x, layer, pad)
    w = layer.weights if layer.kind == "input_conv" else layer.weights[::-1, ::-1]
    if layer.kind == "depthwise":
        return np.einsum("nhwcij,ijc->nhwc", win, w[:, :, :, 0], optimize=True)
    return np.einsum("nhwcij,ijcf->nhwf", win, w, optimize=True)


def _max_pool(v: np.ndarray, layer: AkidaV2Layer) -> np.ndarray:
    p, s = layer.pool_size, layer.pool_stride
    out = layer.output_shape[:2]
    pads = []
    for a in range(2):
        before = pad_before(layer.padding, v.shape[1 + a], p, s)
        pads.append((before, max((out[a] - 1) * s + p - v.shape[1 + a] - before, 0)))
    low = np.iinfo(np.int64).min
    v = np.pad(v, ((0, 0), *pads, (0, 0)), constant_values=low)
    win = np.lib.stride_tricks.sliding_window_view(v, (p, p), axis=(1, 2))
    return win[:, ::s, ::s][:, : out[0], : out[1]].max(axis=(4, 5))


def _global_sum(a: np.ndarray, bits: int) -> np.ndarray:
    acc = np.zeros((len(a), 1, 1, a.shape[3]), np.int64)
    for row in range(a.shape[1]):
        for col in range(a.shape[2]):
            acc = saturate(acc + a[:, row : row + 1, col : col + 1], bits)
    return acc


def shifted_inputs(x: np.ndarray, layer: AkidaV2Layer) -> np.ndarray:
    """``x << input_shift`` as int64 (the input convolution shifts nothing)."""
    x = np.asarray(x).astype(np.int64)
    if layer.kind == "input_conv":
        return x
    if layer.kind == "dense":
        return (x.reshape(len(x), -1) << layer.input_shift).reshape(x.shape)
    return x << layer.input_shift


def potentials(x: np.ndarray, layer: AkidaV2Layer, sums=None) -> np.ndarray:
    """The saturated potentials ``v`` (N, Ho, Wo, F) of a weighted layer, before pooling.

    ``sums(x', layer)`` computes the exact sums (default: :func:`accumulate`, int64 numpy).
    """
    acc = (sums or accumulate)(shifted_inputs(x, layer), layer)
    b = saturate(layer.bias << layer.bias_shift, layer.post_op_buffer_bits)
    if layer.kind == "input_conv":
        return saturate(saturate(acc + b, layer.buffer_bits), layer.post_op_buffer_bits)
    return saturate(saturate(acc, layer.buffer_bits) + b, layer.post_op_buffer_bits)


def _scale_and_clip(q: np.ndarray, scales, shift, layer: AkidaV2Layer) -> np.ndarray:
    q = saturate(q * scales, layer.post_op_buffer_bits)
    low, high = output_range(layer.output_bits, layer.output_signed)
    return np.clip(shift_round(q, shift), low, high)


def layer_forward(
    inputs: list[np.ndarray], layer: AkidaV2Layer, sums=None
) -> tuple[np.ndarray, np.ndarray]:
    """Potentials and integer outputs (N, H', W', F) of ``layer`` on its inbounds' outputs.

    The potentials are ``v`` (after pooling) for a weighted layer, the shifted sum of an Add,
    the output itself for a Concatenate; ``sums`` as in :func:`potentials`.
    """
    if layer.kind == "concat":
        out = np.concatenate([np.asarray(x, np.int64) for x in inputs], axis=3)
        return out, out
    if layer.kind == "add":
        a, b = (np.asarray(x, np.int64) for x in inputs)
        s = saturate((a << layer.a_shift) + (b << layer.b_shift), layer.buffer_bits)
        s = saturate(s, layer.post_op_buffer_bits)
        low, high = output_range(layer.output_bits, True)
        return s, np.clip(shift_round(s, layer.output_shift), low, high)
    v = potentials(inputs[0], layer, sums)
    if layer.pool == "max":
        v = _max_pool(v, layer)
    a = v
    if layer.activation:
        a = np.minimum(np.maximum(v, 0), layer.max_value << layer.max_value_shift)
    if layer.pool == "global_avg":
        a = _global_sum(a, layer.post_op_buffer_bits)
        v = a
    return v, _scale_and_clip(a, layer.output_scales, layer.output_shift, layer)


def net_forward(net: AkidaV2Net, levels: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every layer's (potentials, outputs) for integer inputs (N, H, W, C), the input first."""
    x = np.asarray(levels).reshape(len(levels), *net.input_shape).astype(np.int64)
    results = {net.input_name: (x, x)}
    for layer in net.layers:
        results[layer.name] = layer_forward([results[n][1] for n in layer.inbounds], layer)
    return results
