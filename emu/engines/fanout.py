"""Shared fan-out: neurons whose outgoing synapses are identical send one event, not many.

A projection composed with average pooling (and any map where several sources drive the
same targets with the same weights) gives each source of a pooling window the same row of
synapses. Within a step their spikes can be summed first and delivered once, weighted by
the sum: ``sum_i w·s_i = w·sum_i s_i`` holds exactly in integers, so the emulation stays
exact while delivering far fewer synaptic events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SharedFanout", "share_fanout"]


@dataclass(frozen=True)
class SharedFanout:
    """Synapses split into direct ones and those delivered through shared cells.

    ``direct`` masks the input synapses kept as they are; source ``members[k]`` feeds cell
    ``cells[k]``; cell ``cell_pre[j]`` reaches ``cell_post[j]`` with ``cell_weight[j]``.
    """

    direct: np.ndarray
    members: np.ndarray
    cells: np.ndarray
    cell_pre: np.ndarray
    cell_post: np.ndarray
    cell_weight: np.ndarray

    @property
    def n_cells(self) -> int:
        return int(self.cells.max()) + 1 if len(self.cells) else 0


def share_fanout(pre: np.ndarray, post: np.ndarray, weight: np.ndarray) -> SharedFanout:
    """Group sources with identical rows of (target, weight); ``pre`` must be sorted.

    Sources alone with their row, or with a row of one synapse, stay direct: sharing only
    pays when several sources deliver several events each.
    """
    if len(pre) and np.any(np.diff(pre) < 0):
        raise ValueError("synapses must be sorted by source")
    sources, starts, lengths = np.unique(pre, return_index=True, return_counts=True)
    groups: dict[bytes, list[int]] = {}
    for k in np.flatnonzero(lengths > 1):
        row = slice(starts[k], starts[k] + lengths[k])
        key = post[row].tobytes() + weight[row].tobytes()
        groups.setdefault(key, []).append(k)
    shared = [rows for rows in groups.values() if len(rows) > 1]
    direct = np.ones(len(pre), bool)
    members, cells, cell_rows = [], [], []
    for cell, rows in enumerate(shared):
        for k in rows:
            direct[starts[k] : starts[k] + lengths[k]] = False
        members.append(sources[rows])
        cells.append(np.full(len(rows), cell))
        first = slice(starts[rows[0]], starts[rows[0]] + lengths[rows[0]])
        cell_rows.append((np.full(lengths[rows[0]], cell), post[first], weight[first]))
    if not shared:
        empty = np.zeros(0, np.int64)
        return SharedFanout(direct, empty, empty, empty, empty, empty)
    cell_pre, cell_post, cell_weight = (np.concatenate(c) for c in zip(*cell_rows, strict=True))
    return SharedFanout(
        direct,
        np.concatenate(members).astype(np.int64),
        np.concatenate(cells).astype(np.int64),
        cell_pre.astype(np.int64),
        cell_post.astype(np.int64),
        cell_weight,
    )
