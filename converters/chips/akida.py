"""BrainChip Akida (v1): network records in the engine's integers, its constants and its arithmetic.

Each layer integrates all input events of a frame, then fires once (docs/design.md, "Akida
(v1) integrate-then-fire layer arithmetic"); per layer and frame, all integers::

    p   = sum(w * x)                   convolution (kernel as the engine holds it) or dense
    p   = sum_c pw[c] * sum(dw_c * x_c)          separable: depthwise, then pointwise
    p   = clip20(max over pool window of p)      max pooling, padded cells never win
    p   = clip20(... clip20(clip20(p[0,0] + p[0,1]) + ...))   global average pooling (row-major)
    p   = clip20(p)                               fully connected
    out = p > th                                  act_bits == 1
    out = clip(ceil(16 (p - th) / S), 0, 2**b - 1),   S = floor(16 act_step) 2**(4 - b)

Weights are stored in the engine's own layout (convolution kernels flipped, fully connected
rows in the order ``h + H (w + W c)``). Activations are (N, H, W, C) integer arrays; a layer
without activation outputs ``p``. Padding "same" is TensorFlow's (the extra cell at the end),
"same_upper" centres the window (``(k - 1) // 2`` cells before); the input convolution pads
with ``padding_value``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .fields import INDEX_MAX, check_ranges, ints, ints_by, reals
from .tree import digest

__all__ = [
    "AkidaBits",
    "AkidaLayer",
    "AkidaGraph",
    "AkidaNet",
    "weight_range",
    "effective_step",
    "same_padding",
    "pad_before",
    "window_count",
    "pooled_shape",
    "input_levels",
    "same_upper_defect",
    "correlation_kernel",
    "potentials",
    "activate",
    "layer_forward",
    "LAYER_KINDS",
    "POOLS",
    "PADDINGS",
    "ACT_BITS",
    "WEIGHT_BITS",
    "WEIGHT_RANGES",
    "INPUT_CONV_BITS",
    "POTENTIAL_MIN",
    "POTENTIAL_MAX",
    "STEP_SHIFT",
    "STEP_SCALE",
]

LAYER_KINDS = ("input_conv", "conv", "separable", "dense")
POOLS = ("none", "max", "global_avg")
PADDINGS = ("same", "same_upper", "valid")
ACT_BITS = (1, 2, 4)
WEIGHT_BITS = (1, 2, 4, 8)
INPUT_CONV_BITS = 8
WEIGHT_RANGES = {1: (0, 1), 2: (-1, 1), 4: (-7, 7), 8: (-128, 127)}
POTENTIAL_MIN, POTENTIAL_MAX = -(2**19), 2**19 - 1  # the 20-bit saturation
STEP_SHIFT = 4  # act_step is held in sixteenths
STEP_SCALE = 2**STEP_SHIFT


def weight_range(bits: int) -> tuple[int, int]:
    """Integer range of Akida weights of ``bits`` bits: {0,1}, {-1,0,1}, [-7,7], [-128,127]."""
    if bits not in WEIGHT_RANGES:
        raise ValueError(f"weight bits must be one of {WEIGHT_BITS}, got {bits}")
    return WEIGHT_RANGES[bits]


def effective_step(act_step: np.ndarray, act_bits: int) -> np.ndarray:
    """Potential units per output level: ``floor(16 act_step) 2**(4 - act_bits) / 16``."""
    step = np.floor(STEP_SCALE * np.asarray(act_step, np.float64))
    return step * 2.0 ** (STEP_SHIFT - act_bits) / STEP_SCALE


@dataclass(frozen=True)
class AkidaBits:
    """Bit widths of an Akida deployment: weights and activations of every layer but the
    input convolution, which reads 8-bit pixels with ``input_weights``-bit weights."""

    weights: int = ints(min(WEIGHT_BITS), max(WEIGHT_BITS), default=4)
    activations: int = ints(min(ACT_BITS), max(ACT_BITS), default=4)
    input_weights: int = ints(min(WEIGHT_BITS), max(WEIGHT_BITS), default=8)

    def __post_init__(self) -> None:
        if self.weights not in WEIGHT_BITS:
            raise ValueError(f"weights must be 1, 2 or 4 bits, or 8, got {self.weights}")
        if self.activations not in ACT_BITS:
            raise ValueError(f"activations must be 1, 2 or 4 bits, got {self.activations}")
        if self.input_weights not in WEIGHT_BITS:
            raise ValueError(
                f"input_weights must be one of {WEIGHT_BITS}, got {self.input_weights}"
            )


@dataclass
class AkidaLayer:
    """One Akida v1 layer: integer weights in the engine's layout, thresholds, steps.

    A separable convolution holds its depthwise kernel in ``weights`` [kh, kw, C, 1] and its
    pointwise weights in ``pointwise`` [C, F], both of ``weight_bits`` bits; other kinds
    have an empty ``pointwise``.
    """

    name: str
    kind: str  # one of LAYER_KINDS
    input_shape: tuple[int, int, int] = ints(1, INDEX_MAX)  # (H, W, C) of one sample
    # int8; conv [kh, kw, C, F]; dense [H*W*C, F], row h + H*(w + W*c)
    weights: np.ndarray = ints_by("weight_bits", WEIGHT_RANGES)
    threshold: np.ndarray = ints(-(2**31), 2**31 - 1)  # int32 [F]
    act_step: np.ndarray = reals(0.0, float(2**20))  # float32 [F]
    weight_bits: int = ints(min(WEIGHT_BITS), max(WEIGHT_BITS))
    # 1, 2, 4; None: no activation, the layer outputs its potentials
    act_bits: int | None = ints(min(ACT_BITS), max(ACT_BITS))
    padding: str = "same"  # one of PADDINGS
    stride: tuple[int, int] = ints(1, INDEX_MAX, default=(1, 1))
    pool: str = "none"  # one of POOLS
    # canonical: (1, 1) unpooled, the map for global_avg
    pool_size: tuple[int, int] = ints(1, INDEX_MAX, default=(1, 1))
    pool_stride: tuple[int, int] = ints(1, INDEX_MAX, default=(1, 1))
    padding_value: int = ints(0, 255, default=0)  # the input convolution's padded cells
    pointwise: np.ndarray = ints_by(  # [C, F]
        "weight_bits", WEIGHT_RANGES, default_factory=lambda: np.zeros((0, 0), np.int8)
    )

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
        check_ranges(self, where)
        self.weights = np.asarray(self.weights).astype(np.int8)
        self.pointwise = np.asarray(self.pointwise).astype(np.int8)
        if (self.pointwise.size > 0) != (self.kind == "separable"):
            raise ValueError(f"{where}: pointwise weights belong to a separable layer only")
        self.padding_value = int(self.padding_value)
        if self.padding_value and self.kind != "input_conv":
            raise ValueError(f"{where}: padding_value (0..255) is the input convolution's only")
        if self.kind == "dense":
            self._check_dense(where)
        else:
            self._check_conv(where)
        if min(self.output_shape) < 1:
            raise ValueError(
                f"{where}: input {self.input_shape} is too small for its kernel or pool"
            )
        if self.pool != "max":  # canonical pool geometry, so records compare equal
            self.pool_size = self.pool_stride = (
                self.conv_shape[:2] if self.pool != "none" else (1, 1)
            )
        defect = same_upper_defect(self)
        if defect:
            raise ValueError(f"{where}: {defect}")
        self._check_neurons(where)

    def _check_dense(self, where: str) -> None:
        h, w, c = self.input_shape
        if self.weights.ndim != 2 or self.weights.shape[0] != h * w * c:
            raise ValueError(f"{where}: dense weights must be [{h * w * c}, F]")
        if self.pool != "none":
            raise ValueError(f"{where}: a fully connected layer has no pooling")

    def _check_conv(self, where: str) -> None:
        c = self.input_shape[2]
        kh, kw, cin = self.weights.shape[:3] if self.weights.ndim == 4 else (0, 0, -1)
        if cin != c or kh % 2 == 0 or kw % 2 == 0:
            raise ValueError(f"{where}: conv weights must be [odd kh, odd kw, {c}, F]")
        if self.kind == "separable" and (
            self.weights.shape[3] != 1 or self.pointwise.ndim != 2 or self.pointwise.shape[0] != c
        ):
            raise ValueError(f"{where}: separable weights must be [kh, kw, {c}, 1] and [{c}, F]")
        top = (10**9, 10**9) if self.kind == "input_conv" else (kh, kw)
        if not all(1 <= s <= t for s, t in zip(self.stride, top, strict=True)):
            raise ValueError(f"{where}: stride {self.stride} must be in 1..kernel")
        if self.pool == "max" and not all(
            1 <= s <= p for s, p in zip(self.pool_stride, self.pool_size, strict=True)
        ):
            raise ValueError(f"{where}: pool stride {self.pool_stride} must be in 1..pool size")

    def _check_neurons(self, where: str) -> None:
        f = self.filters
        self.threshold = np.asarray(self.threshold).astype(np.int32)
        self.act_step = np.asarray(self.act_step, np.float32)
        if self.threshold.shape != (f,) or self.act_step.shape != (f,):
            raise ValueError(f"{where}: threshold and act_step need shape ({f},)")
        if self.act_bits is not None and np.any(self.act_step < 1 / STEP_SCALE):
            raise ValueError(f"{where}: act_step must be >= 1/16")

    @property
    def filters(self) -> int:
        weights = self.pointwise if self.kind == "separable" else self.weights
        return int(weights.shape[-1])

    @property
    def conv_shape(self) -> tuple[int, int, int]:
        """(H, W, F) of the potentials before pooling."""
        h, w, _ = self.input_shape
        if self.kind == "dense":
            return (1, 1, self.filters)
        kh, kw = self.weights.shape[:2]
        (sh, sw), pad = self.stride, self.padding
        return (window_count(pad, h, kh, sh), window_count(pad, w, kw, sw), self.filters)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return pooled_shape(
            self.conv_shape, self.pool, self.padding, self.pool_size, self.pool_stride
        )


def input_levels(
    x: np.ndarray, input_shape: tuple[int, int, int], bits: int, scale: float
) -> np.ndarray:
    """Integer inputs (N, H, W, C) of ``bits`` bits for float samples x (N, C, H, W):
    ``round(clip(x / scale, 0, 1) (2**bits - 1))``."""
    h, w, c = input_shape
    if x.shape[1:] != (c, h, w):
        raise ValueError(f"samples have shape {x.shape[1:]}, the network expects {(c, h, w)}")
    if not np.all(np.isfinite(x)):
        raise ValueError("input samples contain NaN or infinite values")
    top = 2**bits - 1
    q = np.rint(np.clip(x / scale, 0.0, 1.0) * top).astype(np.uint8)
    return q.transpose(0, 2, 3, 1)


@dataclass
class AkidaGraph:
    """What the networks of both Akida generations hold: integer inputs of ``input_bits``
    bits (H, W, C), then layers, the last one the output.

    A float sample x (C, H, W) enters as ``round(clip(x / input_scale, 0, 1) (2**bits - 1))``.
    """

    input_shape: tuple[int, int, int] = ints(1, INDEX_MAX)  # (H, W, C)
    input_bits: int = ints(1, INPUT_CONV_BITS)
    layers: list  # AkidaLayer or AkidaV2Layer records
    input_scale: float = reals(1e-30, 1e30, default=1.0)
    input_name: str = "input"

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(s) for s in self.input_shape)
        check_ranges(self)
        if not self.layers:
            raise ValueError(f"an {type(self).__name__} needs at least one layer")

    @property
    def layer_names(self) -> list[str]:
        return [self.input_name] + [layer.name for layer in self.layers]

    def levels(self, samples: np.ndarray) -> np.ndarray:
        """Integer inputs (N, H, W, C) for float samples (N, C, H, W) or (N, features)."""
        x = np.asarray(samples, dtype=np.float64)
        h, w, c = self.input_shape
        if x.ndim == 2 and x.shape[1] == h * w * c and h == w == 1:
            x = x[:, :, None, None]
        return input_levels(x, self.input_shape, self.input_bits, self.input_scale)

    def digest(self) -> str:
        """A hash of every field, stable across processes."""
        return digest(self)


@dataclass
class AkidaNet(AkidaGraph):
    """An Akida v1 network: a chain of :class:`AkidaLayer` records (see :class:`AkidaGraph`)."""

    target: str = field(default="akida", init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
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


# --- the arithmetic, as pure functions on integer inputs and a layer -------------------


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF-style 'same' padding (before, after): the extra cell goes at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_before(padding: str, size: int, kernel: int, stride: int) -> int:
    """Padded cells before the first input of a window sliding over ``size`` cells.

    "same": TensorFlow's split (:func:`same_padding`); "same_upper": ``(kernel - 1) // 2``,
    the window centred on the cell it starts from, as the engine computes it; "valid": 0.
    """
    if padding == "valid":
        return 0
    if padding == "same_upper":
        return (kernel - 1) // 2
    return same_padding(size, kernel, stride)[0]


def window_count(padding: str, size: int, window: int, stride: int) -> int:
    """Positions of a window sliding over ``size`` cells: ``ceil(size / stride)`` when
    padded ("same", "same_upper"), ``(size - window) // stride + 1`` when "valid"."""
    if padding == "valid":
        return (size - window) // stride + 1
    return -(-size // stride)


def pooled_shape(
    shape: tuple[int, int, int],
    pool: str,
    padding: str,
    size: tuple[int, int],
    stride: tuple[int, int],
) -> tuple[int, int, int]:
    """(H, W, F) of a (H, W, F) map after pooling ``pool`` (one of POOLS) with windows of
    ``size`` moved by ``stride``, placed as ``padding`` places them."""
    h, w, f = shape
    if pool == "global_avg":
        return (1, 1, f)
    if pool == "max":
        return (
            window_count(padding, h, size[0], stride[0]),
            window_count(padding, w, size[1], stride[1]),
            f,
        )
    return shape


def _upper_row_defect(size: int, stride: int) -> bool:
    out = -(-size // stride)
    return size % 2 == 0 and (out - 1) * stride == size - 1


def same_upper_defect(layer: AkidaLayer) -> str | None:
    """Why BrainChip's engine (akida 2.19) computes this 'same_upper' layer wrongly, or None.

    Found by randomized comparison with the engine: its InputConvolutional zeroes or
    shifts the last output row (column) when the input side is even and the last window
    starts on its last cell; its 'same_upper' max pooling (other than 1x1) scrambles the
    outputs along an even side of the map when the pool spans 1 or 2 cells along it.
    """
    if layer.padding != "same_upper":
        return None
    h, w, _ = layer.input_shape
    sides = zip("HW", (h, w), layer.stride, strict=True)
    bad = [a for a, n, s in sides if _upper_row_defect(n, s)]
    if layer.kind == "input_conv" and bad:
        return (
            f"the engine's InputConvolutional computes 'same_upper' wrongly when an input side "
            f"is even and (out - 1) * stride == side - 1 (side {'/'.join(bad)} of "
            f"{layer.input_shape[:2]}, stride {layer.stride}); use 'same' or 'valid'"
        )
    ch, cw, _ = layer.conv_shape
    pooled = zip("HW", (ch, cw), layer.pool_size, strict=True)
    pooling = layer.pool == "max" and layer.pool_size != (1, 1)
    bad = [a for a, n, k in pooled if pooling and k <= 2 and n % 2 == 0]
    if bad:
        return (
            f"the engine's 'same_upper' max pooling is wrong over an even side with a pool "
            f"of 1 or 2 cells along it (side {'/'.join(bad)} of the {(ch, cw)} map, pool "
            f"{layer.pool_size}); use 'same' or 'valid'"
        )
    return None


def correlation_kernel(layer: AkidaLayer) -> np.ndarray:
    """The (kh, kw, C, F) int64 kernel a layer cross-correlates its padded input with.

    Convolutional and separable kernels are flipped (the engine convolves); a separable
    layer's is depthwise times pointwise, exact in integers.
    """
    w = layer.weights.astype(np.int64)
    if layer.kind == "separable":
        w = w[:, :, :, :1] * layer.pointwise.astype(np.int64)[None, None]
    return w[::-1, ::-1] if layer.kind in ("conv", "separable") else w


def _windows(x: np.ndarray, layer: AkidaLayer, kernel: tuple[int, int], value: int) -> np.ndarray:
    """Sliding windows (N, Ho, Wo, C, kh, kw) of the padded input, ``value`` in the pads."""
    out = layer.conv_shape[:2]
    pads = []
    for a in range(2):
        before = pad_before(layer.padding, x.shape[1 + a], kernel[a], layer.stride[a])
        after = max((out[a] - 1) * layer.stride[a] + kernel[a] - x.shape[1 + a] - before, 0)
        pads.append((before, after))
    x = np.pad(x.astype(np.int64), ((0, 0), *pads, (0, 0)), constant_values=value)
    win = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=(1, 2))
    return win[:, :: layer.stride[0], :: layer.stride[1]][:, : out[0], : out[1]]


def _conv(x: np.ndarray, layer: AkidaLayer) -> np.ndarray:
    if layer.kind == "separable":  # depthwise (flipped), then pointwise, as the engine does
        dw = layer.weights[::-1, ::-1, :, 0].astype(np.int64)
        win = _windows(x, layer, dw.shape[:2], 0)
        depth = np.einsum("nhwcij,ijc->nhwc", win, dw, optimize=True)
        return depth @ layer.pointwise.astype(np.int64)
    w = correlation_kernel(layer)
    win = _windows(x, layer, w.shape[:2], layer.padding_value)
    return np.einsum("nhwcij,ijcf->nhwf", win, w, optimize=True)


def _max_pool(p: np.ndarray, layer: AkidaLayer) -> np.ndarray:
    (ph, pw), (sh, sw) = layer.pool_size, layer.pool_stride
    out = layer.output_shape[:2]
    pads = []
    for a, (k, s) in enumerate(((ph, sh), (pw, sw))):
        before = pad_before(layer.padding, p.shape[1 + a], k, s)
        pads.append((before, max((out[a] - 1) * s + k - p.shape[1 + a] - before, 0)))
    low = np.iinfo(np.int64).min
    p = np.pad(p, ((0, 0), *pads, (0, 0)), constant_values=low)
    win = np.lib.stride_tricks.sliding_window_view(p, (ph, pw), axis=(1, 2))
    return win[:, ::sh, ::sw][:, : out[0], : out[1]].max(axis=(4, 5))


def _global_sum(p: np.ndarray) -> np.ndarray:
    acc = np.zeros((len(p), 1, 1, p.shape[3]), np.int64)
    for row in range(p.shape[1]):
        for col in range(p.shape[2]):
            acc = np.clip(acc + p[:, row : row + 1, col : col + 1], POTENTIAL_MIN, POTENTIAL_MAX)
    return acc


def potentials(x: np.ndarray, layer: AkidaLayer) -> tuple[np.ndarray, int]:
    """Integer potentials (N, H', W', F) of ``layer`` for integer inputs ``x`` (N, H, W, C).

    Returns the potentials and how many of them the 20-bit saturation clipped.
    """
    if layer.kind == "dense":
        flat = x.astype(np.int64).transpose(0, 3, 2, 1).reshape(len(x), -1)  # row h + H(w + Wc)
        raw = (flat @ layer.weights.astype(np.int64))[:, None, None, :]
    elif layer.pool == "global_avg":
        p = _conv(x, layer)
        return _global_sum(p), 0
    else:
        raw = _conv(x, layer)
        if layer.pool == "none":
            return raw, 0
        raw = _max_pool(raw, layer)
    out = np.clip(raw, POTENTIAL_MIN, POTENTIAL_MAX)
    return out, int(np.count_nonzero(out != raw))


def activate(p: np.ndarray, layer: AkidaLayer) -> np.ndarray:
    """The layer's quantized activation of potentials ``p`` (last axis: neurons)."""
    if layer.act_bits is None:
        return p
    th = layer.threshold.astype(np.int64)
    if layer.act_bits == 1:
        return (p > th).astype(np.int64)
    s = np.floor(STEP_SCALE * layer.act_step.astype(np.float64)).astype(np.int64)
    s = s << (STEP_SHIFT - layer.act_bits)
    num = STEP_SCALE * (p - th)
    return np.clip(-((-num) // s), 0, 2**layer.act_bits - 1)


def layer_forward(x: np.ndarray, layer: AkidaLayer) -> tuple[np.ndarray, np.ndarray, int]:
    """Potentials, outputs and saturation count of one layer for integer inputs (N, H, W, C)."""
    p, clipped = potentials(x, layer)
    return p, activate(p, layer), clipped
