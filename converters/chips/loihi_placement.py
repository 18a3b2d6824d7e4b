"""Where the layers of a LoihiNet sit on Loihi's cores, and to which cores each neuron sends.

Each on-chip layer takes whole cores in network order, its neurons split into equal
contiguous blocks. A core holds at most ``compartments_per_core`` compartments,
``synaptic_memory`` bytes of incoming synapses and ``fan_out`` output axons. A spike travels
once to every core that holds one of its targets, where that core's synapse list fans it out:
a compartment takes one output axon per destination core, so the chip's fan-out limit counts
destination cores summed over a core's compartments, not synapses (Davies et al. 2018,
Table 1: 4,096 fan-out axons per core; nengo-loihi's ``validate_block`` checks the same
"output axons"). A layer whose neurons send to many cores is spread over more cores than its
compartments and memory need; a neuron that alone sends to more cores than one core's output
axons cannot be placed (:func:`crowded_neurons`).

Destinations are found block by block, per projection, from the records (convolutions from
their geometry over the rows a block reaches), in memory proportional to neurons and
parameters: no source x core table is ever built.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import reduce

import numpy as np

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
    "crowded_neurons",
]


@dataclass(frozen=True)
class CoreCapacity:
    """What one core holds: compartments, bytes of synapses (of ``synapse_bits`` each) and
    output axons (one per compartment and destination core)."""

    compartments: int = 1024
    synaptic_memory: int = 131072
    synapse_bits: int = 16
    output_axons: int = 4096


@dataclass
class Placement:
    """Cores per on-chip layer (``least``: the fewest that hold it), the limit that sets the
    fewest, and the destination cores (output axons) of every neuron of every layer, the
    input included."""

    cores: dict[str, int]
    least: dict[str, int]
    binding: dict[str, str]
    output_axons: dict[str, np.ndarray]


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
    return np.unique(np.concatenate(cells))


def reached_sources(p, start: int, stop: int) -> np.ndarray:
    """Sorted source neurons of projection ``p`` with a synapse into targets start..stop-1."""
    if not isinstance(p, LoihiConv):
        into = (p.post >= start) & (p.post < stop)
        return np.unique(p.pre[into])
    cells = _conv_cells(p, start, stop)
    (_, h, w), (_, sh, sw), (py, px) = p.in_shape, p.source_shape, p.pool
    ch, r, q = cells // (h * w), cells // w % h, cells % w
    a, b = np.divmod(np.arange(py * px), px)
    source = (ch[:, None] * sh + r[:, None] * py + a) * sw + q[:, None] * px + b
    return np.sort(source.ravel())


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


def _axons_into(layer: LoihiLayer, cores: int, sizes: Mapping[str, int]) -> dict[str, np.ndarray]:
    """Destination cores in ``layer`` (over ``cores`` blocks) of every neuron of each source."""
    edges = block_edges(layer.size, cores)
    out = {}
    for source in dict.fromkeys(p.source for p in layer.projections):
        count = np.zeros(sizes[source], np.int64)
        for _, reached in destinations(layer, source, edges):
            count[reached] += 1
        out[source] = count
    return out


def _load(
    layer: LoihiLayer, memory: np.ndarray, axons: np.ndarray, k: int, cap: CoreCapacity
) -> float:
    """The fullest core's use of its fullest resource over ``k`` cores (1.0: exactly full)."""
    edges = block_edges(layer.size, k)
    return max(
        np.diff(edges).max() * layer.compartments_per_neuron / cap.compartments,
        np.add.reduceat(memory, edges[:-1]).max() / cap.synaptic_memory,
        np.add.reduceat(axons, edges[:-1]).max() / cap.output_axons,
    )


def _fits(
    layer: LoihiLayer, memory: np.ndarray, axons: np.ndarray, k: int, cap: CoreCapacity
) -> bool:
    return _load(layer, memory, axons, k, cap) <= 1.0


def _least_cores(
    layer: LoihiLayer, axons: np.ndarray, cap: CoreCapacity, start: int
) -> tuple[int, str]:
    """The fewest cores (from ``start`` on) holding ``layer``, and the limit that sets them."""
    memory = layer_fan_in(layer) * cap.synapse_bits / 8
    bounds = {
        "compartments": -(-layer.size * layer.compartments_per_neuron // cap.compartments),
        "synaptic memory": int(np.ceil(memory.sum() / cap.synaptic_memory)),
        "output axons": -(-int(axons.sum()) // cap.output_axons),
    }
    k = min(max(start, 1, *bounds.values()), layer.size)
    if not _fits(layer, memory, axons, layer.size, cap):  # one neuron alone exceeds a core
        return layer.size, max(bounds, key=bounds.get)
    while k < layer.size and (load := _load(layer, memory, axons, k, cap)) > 1.0:
        k = min(layer.size, k + max(1, int(k * (load - 1) / 2)))  # half the gap, or one
    binding = max(bounds, key=bounds.get)
    if k > bounds[binding]:  # the blocks' contents, not the totals, set it
        binding = next(
            (n for n in bounds if not _fits(layer, memory, axons, k - 1, _loosen(cap, n))), binding
        )
    return k, binding


def _loosen(cap: CoreCapacity, limit: str) -> CoreCapacity:
    """``cap`` with every limit but ``limit`` lifted."""
    big = 2**62
    return CoreCapacity(
        cap.compartments if limit == "compartments" else big,
        cap.synaptic_memory if limit == "synaptic memory" else big,
        cap.synapse_bits,
        cap.output_axons if limit == "output axons" else big,
    )


def place_layers(
    net: LoihiNet,
    on_chip: list[LoihiLayer],
    cap: CoreCapacity,
    cores_per_layer: Mapping[str, int] | None = None,
) -> Placement:
    """Cores for every layer of ``on_chip``: the fewest that hold it (compartments, synaptic
    memory, output axons), or ``cores_per_layer[name]`` where given (checked by the caller
    against ``least``; counts below one are placed on the fewest meanwhile). Layers are
    placed from the last on, each after the layers it sends to; a backward or recurrent
    projection repeats the pass until no count grows."""
    given = {name: k for name, k in (cores_per_layer or {}).items() if k >= 1}
    sizes = {layer.name: layer.size for layer in net.all_layers()}
    nothing = {layer.name: np.zeros(layer.size, np.int64) for layer in on_chip}
    cores = {
        layer.name: given.get(layer.name) or _least_cores(layer, nothing[layer.name], cap, 1)[0]
        for layer in on_chip
    }
    into = {layer.name: _axons_into(layer, cores[layer.name], sizes) for layer in net.layers}
    least, binding = {}, {}
    changed = True
    while changed:
        changed = False
        for layer in reversed(on_chip):
            axons = _sum_axons(into, layer.name, layer.size)
            start = 1 if layer.name in given else cores[layer.name]
            least[layer.name], binding[layer.name] = _least_cores(layer, axons, cap, start)
            k = given.get(layer.name, least[layer.name])
            if k != cores[layer.name]:
                cores[layer.name], changed = k, True
                into[layer.name] = _axons_into(layer, k, sizes)
    axons = {name: _sum_axons(into, name, size) for name, size in sizes.items()}
    cores |= {name: k for name, k in (cores_per_layer or {}).items() if name in cores}
    return Placement(cores, least, binding, axons)


def _sum_axons(into: Mapping[str, dict[str, np.ndarray]], source: str, size: int) -> np.ndarray:
    total = np.zeros(size, np.int64)
    for per_source in into.values():
        if source in per_source:
            total += per_source[source]
    return total


def crowded_neurons(placement: Placement, cap: CoreCapacity) -> dict[str, int]:
    """Per on-chip layer, the most destination cores of one neuron where it alone exceeds a
    core's output axons (no placement holds it; an off-chip input enters through the targets'
    input axons instead)."""
    most = {name: int(placement.output_axons[name].max(initial=0)) for name in placement.cores}
    return {name: m for name, m in most.items() if m > cap.output_axons}
