"""The batched numpy simulator of Akida networks: the chip's pure layer functions run over a batch.

The arithmetic lives in :mod:`converters.chips.akida` (:func:`~converters.chips.akida.layer_forward`);
this module runs it through every layer of a batch of frames and records what the Brian2
backend records, as a test oracle.
"""

from __future__ import annotations

import numpy as np

from converters.chips.akida import AkidaNet, layer_forward

from .records import BatchRecord

__all__ = ["simulate"]


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
