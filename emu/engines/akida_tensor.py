"""The ``tensor`` device of Akida networks: batched frames on BLAS float matmuls, integer-exact.

Each layer runs as one matrix product over a batch (convolutions through their sliding
windows, ``im2col``) on integer-valued float tensors. A float sum of integers is exact
while every partial sum stays below 2**24 (float32) or 2**53 (float64): at build time each
layer's bound (max |input| times the largest per-output sum of |weight|, with the
threshold and step range of its activation) picks the narrowest exact dtype, and a layer
beyond both runs the int64 arithmetic of :mod:`converters.chips.akida` itself. Pooling,
20-bit clipping and the activation follow that module integer for integer; the records
are those of :func:`emu.engines.akida_reference.simulate`. Nothing is compiled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from converters.chips.akida import (
    POTENTIAL_MAX,
    POTENTIAL_MIN,
    STEP_SCALE,
    STEP_SHIFT,
    AkidaLayer,
    AkidaNet,
    correlation_kernel,
    layer_forward,
    pad_before,
)

from ..traces.records import BatchRecord
from .akida_engine import AkidaEngine
from .akida_reference import frame_record
from .settings import RunSettings

__all__ = ["AkidaTensorBackend", "LayerPlan", "plan", "simulate", "EXACT_BELOW"]

EXACT_BELOW = {np.float32: 2**24, np.float64: 2**53}  # integers a float holds exactly
CHUNK_BYTES = 2**23  # window matrix of one chunk of samples: cache-sized


@dataclass(frozen=True)
class LayerPlan:
    """One layer ready to run: its dtype, kernel matrix and activation constants."""

    layer: AkidaLayer
    dtype: type  # np.float32, np.float64, or np.int64 (the chip module's own arithmetic)
    matrix: np.ndarray  # (kh kw C, F) windows -> potentials, or (H W C, F) for dense
    low: np.ndarray  # (F,) threshold
    high: np.ndarray  # (F,) threshold + potential span to the top output
    step: np.ndarray  # (F,) S = floor(16 act_step) 2**(4 - bits)


def _activation_constants(layer: AkidaLayer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Threshold, its top (above it every output is the top level) and step, as int64."""
    th = layer.threshold.astype(np.int64)
    bits = layer.act_bits or STEP_SHIFT
    step = np.floor(STEP_SCALE * layer.act_step.astype(np.float64)).astype(np.int64)
    step = step << (STEP_SHIFT - bits)
    span = -((-(2**bits - 1) * step) // STEP_SCALE)  # ceil(top S / 16)
    return th, th + span, step


def accumulator_bound(layer: AkidaLayer, input_max: int) -> int:
    """The largest integer any float operation of ``layer`` holds on inputs in [0, input_max]."""
    kernel = np.abs(_kernel(layer)).reshape(-1, layer.filters)
    bound = int(input_max) * int(kernel.sum(axis=0).max())
    if layer.kind == "separable":  # the engine's depthwise partial sums
        depth = np.abs(layer.weights.astype(np.int64)).reshape(-1, layer.weights.shape[2])
        bound = max(bound, int(input_max) * int(depth.sum(axis=0).max()))
    if layer.pool == "global_avg":
        bound += POTENTIAL_MAX + 1  # the saturating running sum adds one position at a time
    if layer.act_bits is not None:
        low, high, _ = _activation_constants(layer)
        span = int((high - low).max())
        bound = max(bound, int(np.abs(low).max()) + span, STEP_SCALE * span)
    return bound


def _kernel(layer: AkidaLayer) -> np.ndarray:
    """The int64 matrix of a layer: window (kh, kw, C) or input (h, w, c) rows, F columns."""
    if layer.kind != "dense":
        return correlation_kernel(layer).reshape(-1, layer.filters)
    h, w, c = layer.input_shape
    rows = np.arange(h * w * c).reshape(c, w, h).transpose(2, 1, 0).reshape(-1)  # (h, w, c) -> row
    return layer.weights.astype(np.int64)[rows]


def plan(net: AkidaNet) -> list[LayerPlan]:
    """Every layer of ``net`` with the narrowest exact dtype of its bound."""
    plans, top = [], 2**net.input_bits - 1
    for layer in net.layers:
        bound = accumulator_bound(layer, max(top, layer.padding_value))
        dtype = next((t for t, limit in EXACT_BELOW.items() if bound < limit), np.int64)
        low, high, step = _activation_constants(layer)
        matrix = _kernel(layer).astype(dtype)
        plans.append(LayerPlan(layer, dtype, matrix, *(a.astype(dtype) for a in (low, high, step))))
        top = 2 ** (layer.act_bits or 0) - 1
    return plans


def _padded(
    x: np.ndarray, layer: AkidaLayer, kernel: tuple, strides: tuple, shape: tuple, value, dtype
) -> np.ndarray:
    """``x`` (N, H, W, C) in ``dtype`` with ``value`` in the cells a window of ``kernel``
    sliding by ``strides`` to ``shape`` outputs reads beyond it (as the chip module pads)."""
    n, h, w, c = x.shape
    before = [pad_before(layer.padding, x.shape[1 + a], kernel[a], strides[a]) for a in range(2)]
    size = [
        max((shape[a] - 1) * strides[a] + kernel[a], x.shape[1 + a] + before[a]) for a in (0, 1)
    ]
    if before == [0, 0] and size == [h, w]:
        return x.astype(dtype, copy=False)
    out = np.full((n, size[0], size[1], c), value, dtype)
    out[:, before[0] : before[0] + h, before[1] : before[1] + w] = x
    return out


def _convolve(x: np.ndarray, step: LayerPlan) -> np.ndarray:
    """Raw potentials (N, H', W', F): the sliding windows times the kernel matrix."""
    layer = step.layer
    kh, kw = layer.weights.shape[:2]
    (ho, wo, f), (sh, sw) = layer.conv_shape, layer.stride
    xp = _padded(x, layer, (kh, kw), layer.stride, (ho, wo), layer.padding_value, step.dtype)
    n, c = len(x), x.shape[3]
    cols = np.empty((n, ho, wo, kh, kw, c), step.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j] = xp[
                :, i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw
            ]
    return (cols.reshape(n * ho * wo, -1) @ step.matrix).reshape(n, ho, wo, f)


def _max_pool(p: np.ndarray, layer: AkidaLayer) -> np.ndarray:
    """Window maxima; padded cells (-inf) never win."""
    (ph, pw), (sh, sw) = layer.pool_size, layer.pool_stride
    ho, wo, _ = layer.output_shape
    p = _padded(p, layer, (ph, pw), (sh, sw), (ho, wo), -np.inf, p.dtype)
    out = p[:, : (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw].copy()
    for i in range(ph):
        for j in range(pw):
            if i or j:
                np.maximum(
                    out,
                    p[:, i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw],
                    out=out,
                )
    return out


def _global_sum(p: np.ndarray) -> np.ndarray:
    """The saturating sum over positions in row-major order, (N, 1, 1, F)."""
    acc = np.zeros((len(p), p.shape[3]), p.dtype)
    for row in range(p.shape[1]):
        for col in range(p.shape[2]):
            acc += p[:, row, col]
            np.clip(acc, POTENTIAL_MIN, POTENTIAL_MAX, out=acc)
    return acc[:, None, None, :]


def _potentials(x: np.ndarray, step: LayerPlan) -> tuple[np.ndarray, int]:
    """Potentials (N, H', W', F) and the count of 20-bit saturations, as the chip module."""
    layer = step.layer
    if layer.kind == "dense":
        flat = x.reshape(len(x), -1).astype(step.dtype, copy=False)
        raw = (flat @ step.matrix)[:, None, None, :]
    else:
        raw = _convolve(x, step)
        if layer.pool == "global_avg":
            return _global_sum(raw), 0
        if layer.pool == "none":
            return raw, 0
        raw = _max_pool(raw, layer)
    clipped = int(np.count_nonzero((raw < POTENTIAL_MIN) | (raw > POTENTIAL_MAX)))
    return np.clip(raw, POTENTIAL_MIN, POTENTIAL_MAX, out=raw), clipped


def _activate(p: np.ndarray, step: LayerPlan) -> np.ndarray:
    """``clip(ceil(16 (p - th) / S), 0, top)`` with p first clipped to [th, its top]: exact."""
    bits = step.layer.act_bits
    if bits is None:
        return p
    q = np.clip(p, step.low, step.high)
    q -= step.low
    q *= STEP_SCALE
    q /= step.step
    np.ceil(q, out=q)
    return np.minimum(q, 2**bits - 1, out=q)


def _forward(x: np.ndarray, steps: list[LayerPlan]) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Per layer (potentials, outputs, saturations) of a chunk of inputs (N, H, W, C)."""
    results = []
    for step in steps:
        if step.dtype is np.int64:
            p, x, clipped = layer_forward(np.asarray(x).astype(np.int64), step.layer)
        else:
            p, clipped = _potentials(x, step)
            x = _activate(p, step)
        results.append((p, x, clipped))
    return results


def _chunk(net: AkidaNet) -> int:
    """Samples per chunk: the largest window matrix of one chunk near ``CHUNK_BYTES``."""
    per_sample = [
        8 * int(np.prod(layer.conv_shape[:2])) * layer.weights[..., 0].size
        for layer in net.layers
        if layer.kind != "dense"
    ]
    return max(1, CHUNK_BYTES // max(per_sample, default=1))


def _joined(chunks: list[np.ndarray], dtype: type) -> np.ndarray:
    """Chunks (n, ...) flattened per sample and joined as integers of ``dtype``."""
    out = np.empty((sum(len(c) for c in chunks), chunks[0][0].size), dtype)
    start = 0
    for c in chunks:
        out[start : start + len(c)] = c.reshape(len(c), -1)
        start += len(c)
    return out


def simulate(
    net: AkidaNet,
    levels: np.ndarray,
    probe: bool = False,
    record_events: bool = False,
    steps: list[LayerPlan] | None = None,
) -> BatchRecord:
    """:func:`emu.engines.akida_reference.simulate` of ``net`` on the exact float kernels (``steps``:
    its :func:`plan`, made here if not given)."""
    steps = plan(net) if steps is None else steps
    x = np.asarray(levels).reshape(len(levels), *net.input_shape)
    n, size = len(x), _chunk(net)
    counts = {net.input_name: x.reshape(n, -1).astype(np.int64)}
    parts = [_forward(x[s : s + size], steps) for s in range(0, n, size)]
    clipped, potentials = [0], {}
    for k, (layer, step) in enumerate(zip(net.layers, steps, strict=True)):
        layer_parts = [part[k] for part in parts]
        itype = np.int32 if step.dtype is np.float32 else np.int64  # float32 holds < 2**24
        counts[layer.name] = _joined([o for _, o, _ in layer_parts], itype)
        clipped.append(sum(c for _, _, c in layer_parts))
        if probe:
            potentials[layer.name] = _joined([p for p, _, _ in layer_parts], itype)
    return frame_record(net, counts, clipped, potentials, record_events)


class AkidaTensorBackend(AkidaEngine):
    """The ``tensor`` device: an AkidaNet's batches on :func:`simulate`, no Brian2, no build.

    Records what :class:`emu.engines.akida_brian2.AkidaBackend` records (counts, events, the
    probed neurons' potentials, saturations); ``batch_size`` only caps a batch.
    """

    def __init__(self, net: AkidaNet, settings: RunSettings):
        super().__init__(net, settings)
        self.load(net)

    def load(self, net: AkidaNet) -> None:
        """Take ``net`` (any topology) for the next runs."""
        self.net = net
        self.steps = plan(net)

    def _simulate(self, levels: np.ndarray) -> BatchRecord:
        """The record of a batch, every neuron's potentials probed when any is."""
        return simulate(self.net, levels, bool(self.probe), self.settings.record_events, self.steps)

    def run_batch(self, levels: np.ndarray, first_sample: int = 0) -> BatchRecord:
        """Simulate a batch of encoded samples (``first_sample`` is unused)."""
        record = self._simulate(self.check_batch(levels))
        record.probes = {
            f"{name}.potential": record.probes[f"{name}.potential"][:, :, index]
            for name, index in self.probe.items()
        }
        return record
