"""The batched numpy simulator of Loihi networks: the chip's pure step functions run over a batch.

The arithmetic lives in :mod:`converters.chips.loihi` (:func:`~converters.chips.loihi.step_layer`,
:func:`~converters.chips.loihi.rate_spikes`); this module drives it over all layers and steps
of a batch of samples and records what the Brian2 backends record, as a test oracle.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from converters.chips.loihi import (
    MANT_SHIFT,
    LayerState,
    LoihiLayer,
    LoihiNet,
    effective_weights,
    input_seeds,
    rate_spikes,
    step_layer,
)
from converters.chips.loihi_conv import LoihiConv
from converters.graph import conv2d

from ..traces.records import BatchRecord

__all__ = ["simulate"]


def _matrix(p, source_size: int, size: int) -> sp.csr_matrix | LoihiConv:
    """A projection's [source size, size] weight matrix; a convolution record as it is."""
    if isinstance(p, LoihiConv):
        return p
    pre, post, mant = p.synapses()
    weight = effective_weights(mant, p.weight_exp)
    return sp.csr_matrix((weight, (pre, post)), shape=(source_size, size))


def _matrices(layers: list[LoihiLayer]) -> list[list[tuple[int, sp.csr_matrix | LoihiConv]]]:
    """Per layer, (source index, weight matrix or convolution record) of each projection."""
    index = {layer.name: k for k, layer in enumerate(layers)}
    return [
        [
            (index[p.source], _matrix(p, layers[index[p.source]].size, layer.size))
            for p in layer.projections
        ]
        for layer in layers
    ]


def conv_input(record: LoihiConv, spikes: np.ndarray) -> np.ndarray:
    """The input a convolution record delivers for spikes (batch x source size), int64.

    Spikes are summed per pooling cell, then correlated with the effective kernel
    (dilation written out as zero rows and columns) in float64, which is exact: every
    partial sum is an integer far below 2**53.
    """
    (c, h, w), (py, px), (dy, dx) = record.in_shape, record.pool, record.dilation
    x = spikes.reshape(len(spikes), *record.source_shape)[:, :, : h * py, : w * px]
    x = x.reshape(len(x), c, h, py, w, px).sum(axis=(3, 5), dtype=np.float64)
    k = record.kernel_eff()
    kernel = np.zeros((*k.shape[:2], (k.shape[2] - 1) * dy + 1, (k.shape[3] - 1) * dx + 1))
    kernel[:, :, ::dy, ::dx] = k
    (_, oh, ow), (top, left), (sy, sx) = record.out_shape, record.padding, record.stride
    bottom = max(0, (oh - 1) * sy + kernel.shape[2] - h - top)
    right = max(0, (ow - 1) * sx + kernel.shape[3] - w - left)
    y = conv2d(x, kernel, record.stride, (top, left, bottom, right), record.groups)
    return np.rint(y[:, :, :oh, :ow]).astype(np.int64).reshape(len(x), -1)


def _deliver(spikes: list[np.ndarray], matrices, batch: int, size: int) -> np.ndarray:
    """The summed synaptic input of one layer for the next step."""
    acc = np.zeros((batch, size), np.int64)
    for src, m in matrices:
        if not spikes[src].any():
            continue
        if isinstance(m, LoihiConv):
            acc += conv_input(m, spikes[src])
        else:
            acc += (sp.csr_matrix(spikes[src].astype(np.int64)) @ m).toarray()
    return acc


def _input_spikes(net: LoihiNet, inputs: np.ndarray, seeds, external_spikes):
    """The input spikes as a function of the step; None where bias-driven compartments run."""
    if external_spikes is None and net.input.encoding == "spikes":
        external_spikes = inputs
    if external_spikes is not None:
        raster = np.asarray(external_spikes, bool)
        if raster.shape[1:] != (net.timesteps, net.input.size):
            raise ValueError(
                f"input spikes must have shape (batch, {net.timesteps}, {net.input.size}), "
                f"got {raster.shape}"
            )
        return lambda t: raster[:, t]
    if net.input.encoding != "rate":
        return None
    levels = np.asarray(inputs, np.int64)
    state = [input_seeds(len(levels), net.input.size) if seeds is None else np.asarray(seeds)]

    def step(_t: int) -> np.ndarray:
        state[0], spikes = rate_spikes(np.asarray(state[0], np.int64), levels)
        return spikes

    return step


def _join(events: list[tuple]) -> tuple[np.ndarray, ...]:
    """(sample, step, layer, neuron) arrays from the per-step, per-layer parts."""
    return tuple(np.concatenate([e[k] for e in events]) for k in range(4))


def simulate(
    net: LoihiNet,
    levels: np.ndarray,
    seeds: np.ndarray | None = None,
    probe: dict[str, np.ndarray] | None = None,
    record_events: bool = False,
    external_spikes: np.ndarray | None = None,
) -> BatchRecord:
    """Run ``net`` on a batch: input levels (batch x size, 0..255), or spike rasters.

    A network with spike-train input takes its raster (batch x steps x size, bool; see
    :meth:`~converters.chips.loihi.LoihiInput.raster`) as ``levels``. ``external_spikes``
    (same shape) replaces any input population with given spike trains.
    """
    batch, steps = len(levels), net.timesteps
    layers = net.all_layers()
    states = [LayerState.zeros(batch, layer.size) for layer in layers]
    biases = [np.broadcast_to(layer.bias, (batch, layer.size)) for layer in layers]
    if net.input.encoding == "bias":
        biases[0] = np.asarray(levels, np.int64) << MANT_SHIFT
    matrices = _matrices(layers)
    input_spikes = _input_spikes(net, levels, seeds, external_spikes)
    inputs = [np.zeros((batch, layer.size), np.int64) for layer in layers]
    per_step = np.zeros((batch, steps, len(layers)), np.int32)
    out_steps = np.zeros((batch, steps, layers[-1].size), np.uint8)
    counts = [np.zeros((batch, layer.size), np.int32) for layer in layers]
    probe = probe or {}
    probes = {
        f"{n}.{var}": np.zeros((batch, steps, len(idx)), np.int64)
        for n, idx in probe.items()
        for var in "uv"
    }
    events = []
    for t in range(steps):
        spikes = []
        for k, layer in enumerate(layers):
            if k == 0 and input_spikes is not None:
                s = input_spikes(t)
            else:
                s = step_layer(states[k], layer, inputs[k], biases[k])
            spikes.append(s)
            if layer.name in probe:
                probes[f"{layer.name}.u"][:, t] = states[k].u[:, probe[layer.name]]
                probes[f"{layer.name}.v"][:, t] = states[k].v[:, probe[layer.name]]
        for k, layer in enumerate(layers):
            inputs[k] = _deliver(spikes, matrices[k], batch, layer.size)
            counts[k] += spikes[k]
            per_step[:, t, k] = spikes[k].sum(axis=1)
            if record_events:
                b, n = np.nonzero(spikes[k])
                events.append((b, np.full(len(b), t), np.full(len(b), k), n))
        out_steps[:, t] = spikes[-1]
    return BatchRecord(
        counts={layer.name: c for layer, c in zip(layers, counts, strict=True)},
        spikes_per_step=per_step,
        output_per_step=out_steps,
        saturation=np.stack([s.saturation for s in states]),
        probes=probes,
        events=_join(events) if record_events else None,
    )
