"""Where the layers of a LoihiNet sit on Loihi's cores, and to which cores each neuron sends.

Each on-chip layer takes whole cores in network order, its neurons split into equal
contiguous blocks: the fewest cores whose blocks hold their compartments (1,024 per core)
and their incoming synapses (128 KB per core). A spike travels once to every core that holds
one of its targets, where that core's synapse list fans it out: a compartment takes one
output axon per destination core (discrete axons: NxSDK's ``createDiscreteAxon`` takes a
source compartment and a destination core), so the chip's fan-out counts destination cores,
not synapses (:func:`output_axons`; Davies et al. 2018: 4,096 fan-out axons per core, which
nengo-loihi's ``validate_block`` checks as "output axons").

Destinations are found block by block, per projection, from the records (convolutions from
their geometry over the rows a block reaches), in memory proportional to neurons and
parameters: no source x core table is ever built.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import reduce

import numpy as np

from .fields import INDEX_MAX, check_ranges, ints
from .loihi import LoihiLayer, LoihiNet
from .loihi_conv import LoihiConv

__all__ = [
    "CoreCapacity",
    "Placement",
    "block_edges",
    "layer_fan_in",
    "reached_sources",
    "destinations",
    "place_layers",
    "output_axons",
    "fan_out_bound",
]


@dataclass(frozen=True)
class CoreCapacity:
    """What one core holds: compartments and bytes of synapses (of ``synapse_bits`` each)."""

    compartments: int = ints(1, INDEX_MAX, default=1024)
    synaptic_memory: int = ints(1, INDEX_MAX, default=131072)  # bytes
    synapse_bits: int = ints(1, INDEX_MAX, default=16)

    def __post_init__(self) -> None:
        check_ranges(self)


@dataclass
class Placement:
    """Cores per on-chip layer (``least``: the fewest that hold it, ``cores``: those used) and
    the limit that sets the fewest."""

    cores: dict[str, int]
    least: dict[str, int]
    binding: dict[str, str]


def block_edges(size: int, cores: int) -> np.ndarray:
    """[cores + 1] first neuron of each core's block (equal contiguous blocks), then ``size``."""
    counts = np.full(cores, size // cores)
    counts[: size % cores] += 1
    return np.concatenate([[0], np.cumsum(counts)])


def layer_fan_in(layer: LoihiLayer) -> np.ndarray:
    """Synapses into every neuron of ``layer``, from the projections' records."""
    fan_in = np.zeros(layer.size, np.int64)
    for p in layer.projections:
        fan_in += p.fan_in(layer.size)
    return fan_in


def _conv_cells(p: LoihiConv, start: int, stop: int) -> np.ndarray:
    """Flat pooled cells (C, H, W of ``p.in_shape``) with a synapse into targets start..stop-1."""
    (c, h, w), (o, oh, ow) = p.in_shape, p.out_shape
    kh, kw = p.kernel_mant.shape[2:]
    (sy, sx), (pt, pl), (dy, dx) = p.stride, p.padding, p.dilation
    cg, og, plane = c // p.groups, o // p.groups, oh * ow
    cells = [np.zeros(0, np.int64)]
    for out in range(start // plane, (stop - 1) // plane + 1):
        lo, hi = max(start - out * plane, 0), min(stop - out * plane, plane)
        y0, y1 = lo // ow, -(-hi // ow)
        mask = np.zeros((y1 - y0) * ow, bool)
        mask[lo - y0 * ow : hi - y0 * ow] = True
        mask = mask.reshape(y1 - y0, ow)
        nz = p.kernel_mant[out] != 0  # [C/g, KH, KW]
        rows, cols = (y1 - y0 - 1) * sy + (kh - 1) * dy + 1, (ow - 1) * sx + (kw - 1) * dx + 1
        hit = np.zeros((cg, rows, cols), bool)
        for j, i in zip(*np.nonzero(nz.any(axis=0)), strict=True):
            hit[
                :,
                j * dy : j * dy + (y1 - y0 - 1) * sy + 1 : sy,
                i * dx : i * dx + cols - (kw - 1) * dx : sx,
            ] |= nz[:, j, i, None, None] & mask[None]
        r0 = y0 * sy - pt  # canvas row a is pooled row r0 + a, canvas column b is b - pl
        a0, b0 = max(0, -r0), max(0, pl)
        ch, a, b = np.nonzero(hit[:, a0 : max(a0, h - r0), b0 : max(b0, w + pl)])
        cells.append(((out // og * cg + ch) * h + r0 + a0 + a) * w + b0 - pl + b)
    return cells[1] if len(cells) == 2 else np.unique(np.concatenate(cells))


def reached_sources(p, start: int, stop: int) -> np.ndarray:
    """The source neurons of projection ``p`` with a synapse into targets start..stop-1, each
    once (in no particular order)."""
    if not isinstance(p, LoihiConv):
        into = (p.post >= start) & (p.post < stop)
        return np.unique(p.pre[into])
    cells = _conv_cells(p, start, stop)
    if p.pool == (1, 1):
        return cells
    (_, h, w), (_, sh, sw), (py, px) = p.in_shape, p.source_shape, p.pool
    ch, r, q = cells // (h * w), cells // w % h, cells % w
    a, b = np.divmod(np.arange(py * px), px)
    source = (ch[:, None] * sh + r[:, None] * py + a) * sw + q[:, None] * px + b
    return source.ravel()


def destinations(
    layer: LoihiLayer, source: str, edges: np.ndarray
) -> Iterator[tuple[int, np.ndarray]]:
    """(block ``k``, the neurons of ``source`` with a synapse into block ``k`` of ``layer``) for
    every block of ``edges`` that one reaches, all projections from ``source`` together."""
    projections = [p for p in layer.projections if p.source == source]
    convs = [p for p in projections if isinstance(p, LoihiConv)]
    explicit = [p for p in projections if not isinstance(p, LoihiConv)]
    order = [np.argsort(p.post, kind="stable") for p in explicit]
    cuts = [np.searchsorted(p.post[o], edges) for p, o in zip(explicit, order, strict=True)]
    for k in range(len(edges) - 1):
        parts = [reached_sources(p, edges[k], edges[k + 1]) for p in convs]
        parts += [
            np.unique(p.pre[o[c[k] : c[k + 1]]])
            for p, o, c in zip(explicit, order, cuts, strict=True)
        ]
        reached = reduce(np.union1d, parts) if len(parts) > 1 else parts[0]
        if len(reached):
            yield k, reached


def _axons_into(layer: LoihiLayer, cores: int, sizes: Mapping[str, int], sources) -> dict:
    """Destination cores in ``layer`` (over ``cores`` blocks) of every neuron of each source."""
    edges = block_edges(layer.size, min(max(cores, 1), layer.size))
    out = {}
    for source in dict.fromkeys(p.source for p in layer.projections if p.source in sources):
        count = np.zeros(sizes[source], np.int64)
        for _, reached in destinations(layer, source, edges):
            count[reached] += 1
        out[source] = count
    return out


def output_axons(
    net: LoihiNet, placement: Placement, sources: Iterable[str] | None = None
) -> dict[str, np.ndarray]:
    """Destination cores (output axons) of every neuron of each layer of ``sources`` (every
    layer, the input included, when None) under ``placement``."""
    sizes = {layer.name: layer.size for layer in net.all_layers()}
    wanted = set(sizes if sources is None else sources)
    total = {name: np.zeros(sizes[name], np.int64) for name in wanted}
    for layer in net.layers:
        for source, count in _axons_into(layer, placement.cores[layer.name], sizes, wanted).items():
            total[source] += count
    return total


def fan_out_bound(net: LoihiNet, placement: Placement) -> dict[str, np.ndarray]:
    """An upper bound of :func:`output_axons` from the records alone: per projection, the
    fewer of a neuron's synapses and its target layer's cores."""
    sizes = {layer.name: layer.size for layer in net.all_layers()}
    bound = {name: np.zeros(size, np.int64) for name, size in sizes.items()}
    for layer in net.layers:
        cores = placement.cores[layer.name]
        for p in layer.projections:
            bound[p.source] += np.minimum(p.fan_out(sizes[p.source]), cores)
    return bound


def _load(layer: LoihiLayer, memory: np.ndarray, k: int, cap: CoreCapacity) -> float:
    """The fullest core's use of its fullest resource over ``k`` cores (1.0: exactly full)."""
    edges = block_edges(layer.size, k)
    return max(
        np.diff(edges).max() * layer.compartments_per_neuron / cap.compartments,
        np.add.reduceat(memory, edges[:-1]).max() / cap.synaptic_memory,
    )


def _least_cores(layer: LoihiLayer, cap: CoreCapacity) -> tuple[int, str]:
    """The fewest cores holding ``layer`` and the limit that sets them (``"compartments"`` or
    ``"synaptic memory"``)."""
    memory = layer_fan_in(layer) * cap.synapse_bits / 8
    by_compartments = -(-layer.size * layer.compartments_per_neuron // cap.compartments)
    k = min(max(by_compartments, int(np.ceil(memory.sum() / cap.synaptic_memory)), 1), layer.size)
    while k < layer.size and (load := _load(layer, memory, k, cap)) > 1.0:
        k = min(layer.size, k + max(1, int(k * (load - 1) / 2)))  # half the gap, or one
    return k, "compartments" if k <= max(by_compartments, 1) else "synaptic memory"


def place_layers(
    on_chip: list[LoihiLayer],
    cap: CoreCapacity,
    cores_per_layer: Mapping[str, int] | None = None,
) -> Placement:
    """The fewest cores for every layer of ``on_chip``, or ``cores_per_layer[name]`` where
    given (checked by the caller against ``least``)."""
    given = dict(cores_per_layer or {})
    least, binding = {}, {}
    for layer in on_chip:
        least[layer.name], binding[layer.name] = _least_cores(layer, cap)
    cores = {name: given.get(name, k) for name, k in least.items()}
    return Placement(cores, least, binding)
