"""BrainChip Akida (v1): network records in the engine's integers, its constants and its arithmetic.

Each layer integrates all input events of a frame, then fires once (docs/design.md, "Akida
(v1) integrate-then-fire layer arithmetic"); per layer and frame, all integers::

    p   = sum(w * x)                   convolution (kernel as the engine holds it) or dense
    p   = clip20(max over pool window of p)      max pooling, padded cells never win
    p   = clip20(... clip20(clip20(p[0,0] + p[0,1]) + ...))   global average pooling (row-major)
    p   = clip20(p)                               fully connected
    out = p > th                                  act_bits == 1
    out = clip(ceil(16 (p - th) / S), 0, 2**b - 1),   S = floor(16 act_step) 2**(4 - b)

Weights are stored in the engine's own layout (convolution kernels flipped, fully connected
rows in the order ``h + H (w + W c)``). Activations are (N, H, W, C) integer arrays; a layer
without activation outputs ``p``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..net_io import digest

__all__ = [
    "AkidaBits",
    "AkidaLayer",
    "AkidaNet",
    "weight_range",
    "effective_step",
    "same_padding",
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

LAYER_KINDS = ("input_conv", "conv", "dense")
POOLS = ("none", "max", "global_avg")
PADDINGS = ("same", "valid")
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
        if self.act_bits is not None and np.any(self.act_step < 1 / STEP_SCALE):
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
        """A hash of every field, stable across processes."""
        return digest(self)


# --- the arithmetic, as pure functions on integer inputs and a layer -------------------


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF-style 'same' padding (before, after): the extra cell goes at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pads(layer: AkidaLayer, kernel: tuple[int, int], shape: tuple[int, int]) -> list:
    if layer.padding == "valid":
        return [(0, 0), (0, 0)]
    return [same_padding(shape[a], kernel[a], layer.stride[a]) for a in range(2)]


def _conv(x: np.ndarray, layer: AkidaLayer) -> np.ndarray:
    w = layer.weights.astype(np.int64)
    if layer.kind == "conv":
        w = w[::-1, ::-1]  # a true convolution: correlate with the flipped kernel
    kh, kw = w.shape[:2]
    (pt, pb), (pl, pr) = _pads(layer, (kh, kw), x.shape[1:3])
    x = np.pad(x.astype(np.int64), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    win = win[:, :: layer.stride[0], :: layer.stride[1]]  # N, Ho, Wo, C, kh, kw
    return np.einsum("nhwcij,ijcf->nhwf", win, w, optimize=True)


def _max_pool(p: np.ndarray, layer: AkidaLayer) -> np.ndarray:
    (ph, pw), (sh, sw) = layer.pool_size, layer.pool_stride
    if layer.padding == "same":
        pads = [same_padding(p.shape[1], ph, sh), same_padding(p.shape[2], pw, sw)]
    else:
        pads = [(0, 0), (0, 0)]
    low = np.iinfo(np.int64).min
    p = np.pad(p, ((0, 0), *pads, (0, 0)), constant_values=low)
    win = np.lib.stride_tricks.sliding_window_view(p, (ph, pw), axis=(1, 2))
    return win[:, ::sh, ::sw].max(axis=(4, 5))


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
