"""The batched numpy simulator of Akida 2.0 graphs: the chip's pure layer functions over a batch.

The arithmetic lives in :mod:`converters.chips.akida_v2`; this module runs it through every
layer of a graph for a batch of frames and records what the other Akida devices record.
"""

from __future__ import annotations

import numpy as np

from converters.chips.akida_v2 import AkidaV2Net, net_forward

from ..traces.records import BatchRecord
from .akida_reference import frame_record

__all__ = ["simulate", "graph_record"]


def graph_record(
    net: AkidaV2Net,
    results: dict[str, tuple[np.ndarray, np.ndarray]],
    probe: bool = False,
    record_events: bool = False,
) -> BatchRecord:
    """The record of one frame per sample from every layer's (potentials, outputs)."""
    n = len(results[net.input_name][1])
    counts = {name: results[name][1].reshape(n, -1) for name in net.layer_names}
    potentials = {}
    if probe:
        potentials = {layer.name: results[layer.name][0].reshape(n, -1) for layer in net.layers}
    return frame_record(net, counts, [0] * len(counts), potentials, record_events)


def simulate(
    net: AkidaV2Net, levels: np.ndarray, probe: bool = False, record_events: bool = False
) -> BatchRecord:
    """Run ``net`` on integer inputs (N, H, W, C); one frame per sample.

    ``counts`` holds each layer's outputs flattened row-major over (H, W, C) (the input's
    levels for the input layer); ``spikes_per_step`` the number of events (non-zero
    outputs); with ``probe`` each layer's potentials as ``"<layer>.potential"``.
    """
    return graph_record(net, net_forward(net, levels), probe, record_events)
