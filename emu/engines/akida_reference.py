"""The batched numpy simulator of Akida networks: the chip's pure layer functions run over a batch.

The arithmetic lives in :mod:`converters.chips.akida` (:func:`~converters.chips.akida.layer_forward`);
this module runs it through every layer of a batch of frames and records what the Brian2
backend records, as a test oracle.
"""

from __future__ import annotations

import numpy as np

from converters.chips.akida import AkidaNet, layer_forward

from ..traces.records import BatchRecord

__all__ = ["frame_record", "simulate"]


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
    potentials = {}
    clipped = [0]
    for layer in net.layers:
        p, x, saturated = layer_forward(x, layer)
        counts[layer.name] = x.reshape(n, -1)
        clipped.append(saturated)
        if probe:
            potentials[layer.name] = p.reshape(n, -1)
    return frame_record(net, counts, clipped, potentials, record_events)


def frame_record(
    net: AkidaNet,
    counts: dict[str, np.ndarray],
    clipped: list[int],
    potentials: dict[str, np.ndarray],
    record_events: bool = False,
) -> BatchRecord:
    """The record of one frame per sample: ``counts`` (layer -> (N, size) integer outputs,
    the input first), per layer the 20-bit saturations ``clipped`` and the ``potentials``
    (layer -> (N, neurons)) to keep as ``"<layer>.potential"``."""
    names = net.layer_names
    n = len(counts[names[0]])
    spikes = np.stack([np.count_nonzero(counts[name], axis=1) for name in names], axis=1)
    saturation = np.zeros((len(names), 3), np.int64)
    saturation[:, 1] = clipped
    probes = {f"{name}.potential": p.reshape(n, 1, -1) for name, p in potentials.items()}
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
