"""Vectorized numpy reference of Akida (v1) integrate-then-fire layers, batched over samples.

Per layer and frame, all integers (DESIGN.md)::

    p   = sum(w * x)                   convolution (kernel as the engine holds it) or dense
    p   = clip20(max over pool window of p)      max pooling, padded cells never win
    p   = clip20(... clip20(clip20(p[0,0] + p[0,1]) + ...))   global average pooling (row-major)
    p   = clip20(p)                               fully connected
    out = p > th                                  act_bits == 1
    out = clip(ceil(16 (p - th) / S), 0, 2**b - 1),   S = floor(16 act_step) 2**(4 - b)

Activations are (N, H, W, C) arrays; a layer without activation outputs ``p``.
"""

from __future__ import annotations

import numpy as np

from converters.akida import AkidaLayer, AkidaNet

from .records import BatchRecord

__all__ = [
    "POTENTIAL_MIN",
    "POTENTIAL_MAX",
    "same_padding",
    "potentials",
    "activate",
    "layer_forward",
    "simulate",
]

POTENTIAL_MIN, POTENTIAL_MAX = -(2**19), 2**19 - 1


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
    s = np.floor(16 * layer.act_step.astype(np.float64)).astype(np.int64) << (4 - layer.act_bits)
    num = 16 * (p - th)
    return np.clip(-((-num) // s), 0, 2**layer.act_bits - 1)


def layer_forward(x: np.ndarray, layer: AkidaLayer) -> tuple[np.ndarray, np.ndarray, int]:
    """Potentials, outputs and saturation count of one layer for integer inputs (N, H, W, C)."""
    p, clipped = potentials(x, layer)
    return p, activate(p, layer), clipped


def simulate(
    net: AkidaNet,
    levels: np.ndarray,
    probe: bool = False,
    record_events: bool = False,
) -> BatchRecord:
    """Run ``net`` on integer inputs (N, H, W, C) or (N, H*W*C); one frame per sample.

    ``counts`` holds each layer's outputs flattened row-major over (H, W, C) (the input's
    levels for the input layer); ``spikes_per_step`` the number of events (non-zero
    outputs); with ``probe`` the potentials as ``"<layer>.potential"``; the 20-bit
    saturations go to the ``v_clip`` column of ``saturation``.
    """
    x = np.asarray(levels).reshape(len(levels), *net.input_shape).astype(np.int64)
    n = len(x)
    counts = {net.input_name: x.reshape(n, -1)}
    probes = {}
    saturation = np.zeros((len(net.layers) + 1, 3), np.int64)
    for k, layer in enumerate(net.layers, start=1):
        p, x, saturation[k, 1] = layer_forward(x, layer)
        counts[layer.name] = x.reshape(n, -1)
        if probe:
            probes[f"{layer.name}.potential"] = p.reshape(n, 1, -1)
    names = net.layer_names
    spikes = np.stack([np.count_nonzero(counts[name], axis=1) for name in names], axis=1)
    events = None
    if record_events:
        parts = [np.nonzero(counts[name]) for name in names]
        events = (
            np.concatenate([s for s, _ in parts]),
            np.zeros(sum(len(s) for s, _ in parts), np.int64),
            np.concatenate([np.full(len(s), k) for k, (s, _) in enumerate(parts)]),
            np.concatenate([i for _, i in parts]),
        )
    out = np.clip(counts[names[-1]], 0, 255)[:, None, :]
    return BatchRecord(counts, spikes[:, None, :], out, saturation, probes, events)
