"""What one batch of samples leaves behind, whichever engine ran it, and how batches merge."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["BatchRecord", "concatenate"]


@dataclass
class BatchRecord:
    """Recordings of a batch of samples; arrays lead with the batch axis.

    ``counts`` holds per-neuron spike counts (Loihi) or activation values (Akida);
    ``events`` holds (sample, step, layer index, neuron) arrays of the sparse raster, kept
    in that lexicographic order, so that every device writes the same trace file (a GPU
    lists the spikes of one step in any order).
    """

    counts: dict[str, np.ndarray]  # layer -> (batch, size)
    spikes_per_step: np.ndarray  # (batch, steps, layers)
    output_per_step: np.ndarray  # (batch, steps, output size)
    saturation: np.ndarray  # (layers, 3): u wraps, v clips, input overflows
    probes: dict[str, np.ndarray] = field(
        default_factory=dict
    )  # "<layer>.<var>" -> (batch, steps, n)
    events: tuple[np.ndarray, ...] | None = None  # sample, step, layer, neuron

    def __post_init__(self) -> None:
        if self.events is not None:
            order = np.lexsort(self.events[::-1])
            self.events = tuple(np.asarray(e)[order] for e in self.events)

    def __len__(self) -> int:
        return len(self.spikes_per_step)

    def take(self, n: int) -> BatchRecord:
        """The first ``n`` samples (drops padding of a fixed-size batch)."""
        events = None
        if self.events is not None:
            keep = self.events[0] < n
            events = tuple(e[keep] for e in self.events)
        return BatchRecord(
            {k: v[:n] for k, v in self.counts.items()},
            self.spikes_per_step[:n],
            self.output_per_step[:n],
            self.saturation,
            {k: v[:n] for k, v in self.probes.items()},
            events,
        )


def concatenate(records: list[BatchRecord]) -> BatchRecord:
    """Join batch records in order; event sample indices are shifted to the joined batch."""
    if not records:
        raise ValueError("no records to concatenate")
    events = None
    if all(r.events is not None for r in records):
        offsets = np.cumsum([0] + [len(r) for r in records[:-1]])
        parts = [(r.events[0] + o, *r.events[1:]) for r, o in zip(records, offsets, strict=True)]
        events = tuple(np.concatenate([p[k] for p in parts]) for k in range(4))
    return BatchRecord(
        {k: np.concatenate([r.counts[k] for r in records]) for k in records[0].counts},
        np.concatenate([r.spikes_per_step for r in records]),
        np.concatenate([r.output_per_step for r in records]),
        np.sum([r.saturation for r in records], axis=0),
        {k: np.concatenate([r.probes[k] for r in records]) for k in records[0].probes},
        events,
    )
