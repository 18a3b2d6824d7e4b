"""Where each layer of a LoihiNet sits on Loihi and where its spikes travel: cores per layer,
compartments and synaptic memory per core, and per source neuron its messages (one per
destination core) and their hops, all from the projections' records, layer by layer
(convolutions counted from their geometry, never written out as synapses).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from converters.chips.loihi import LoihiNet
from converters.chips.loihi_conv import LoihiConv
from converters.chips.loihi_limits import LoihiLimitError, LoihiLimits, enforce_limits, on_chip
from converters.chips.loihi_placement import block_edges, destinations, layer_fan_in
from emu.engines.loihi_reference import conv_input

from .constants import Constants

__all__ = [
    "LoihiMappingError",
    "CoreMapping",
    "Routes",
    "map_cores",
    "limits",
    "routes",
    "synaptic_events",
]


class LoihiMappingError(ValueError):
    """A network or a cores-per-layer choice that does not fit Loihi's per-core limits."""


@dataclass
class CoreMapping:
    """Where one layer's neurons sit: ``core[i]`` is the global core of neuron ``i``."""

    layer: str
    cores: int
    first_core: int
    core: np.ndarray  # [size] int, global core index
    compartments: np.ndarray  # [cores] compartments per core
    memory: np.ndarray  # [cores] bytes of synapses per core
    binding: str = ""  # the limit that sets the fewest cores of the layer


def limits(c: Constants) -> LoihiLimits:
    """Loihi's limits with the capacities of constants ``c``."""
    return LoihiLimits(
        fan_in=int(c["loihi_max_fan_in"]),
        fan_out=int(c["loihi_max_fan_out"]),
        compartments_per_core=int(c["loihi_compartments_per_core"]),
        synaptic_memory=int(c["loihi_synaptic_memory"]),
        synapse_bits=int(c["loihi_synapse_bits"]),
        cores_per_chip=int(c["loihi_cores_per_chip"]),
    )


def map_cores(
    net: LoihiNet,
    cores_per_layer: Mapping[str, int] | None = None,
    constants: Constants | None = None,
) -> list[CoreMapping]:
    """Place the on-chip layers of ``net`` onto cores (the fewest that fit, unless given).

    Raises LoihiMappingError when a limit of :mod:`converters.chips.loihi_limits` refuses
    the network, or when a requested core count is too small for a layer or larger than its
    neuron count.
    """
    c = constants or Constants()
    cores_per_layer = dict(cores_per_layer or {})
    layers = on_chip(net)
    unknown = set(cores_per_layer) - {layer.name for layer in layers}
    if unknown:
        raise LoihiMappingError(
            f"cores_per_layer names {sorted(unknown)}, which are not on-chip layers; "
            f"on-chip layers: {[layer.name for layer in layers]}"
        )
    try:
        placement = enforce_limits(net, limits(c), cores_per_layer).placement
    except LoihiLimitError as err:
        raise LoihiMappingError(str(err)) from None
    mappings, first = [], 0
    for layer in layers:
        k, least = placement.cores[layer.name], placement.least[layer.name]
        mem = layer_fan_in(layer) * c["loihi_synapse_bits"] / 8
        if not least <= k <= layer.size:
            raise LoihiMappingError(
                f"layer {layer.name!r} ({layer.size} neurons, {layer.compartments_per_neuron} "
                f"compartments each, {mem.sum():.0f} bytes of synapses) needs between {least} "
                f"and {layer.size} cores, got {k}"
            )
        edges = block_edges(layer.size, k)
        block = np.repeat(np.arange(k), np.diff(edges))
        comps = np.diff(edges) * layer.compartments_per_neuron
        memory = np.add.reduceat(mem, edges[:-1])
        binding = placement.binding[layer.name]
        mappings.append(CoreMapping(layer.name, k, first, block + first, comps, memory, binding))
        first += k
    return mappings


@dataclass
class Routes:
    """Per neuron of one source layer: its messages (one per destination core), those within
    its own tile, their east-west and north-south hops; and the distinct (E-W, N-S) hop
    counts of all its messages."""

    messages: np.ndarray  # [source size]
    tile_messages: np.ndarray
    hops_ew: np.ndarray
    hops_ns: np.ndarray
    moves: np.ndarray  # [k, 2]


def routes(net: LoihiNet, mappings: list[CoreMapping], c: Constants) -> dict[str, Routes]:
    """The :class:`Routes` of every layer that sends spikes, block by block of its targets
    (off-chip inputs enter at core 0)."""
    per_tile, columns = int(c["loihi_cores_per_tile"]), int(c["loihi_mesh_columns"])
    where = {m.layer: m for m in mappings}
    sizes = {layer.name: layer.size for layer in net.all_layers()}
    out: dict[str, Routes] = {}
    moves: dict[str, set] = {}
    for layer in net.layers:
        m = where[layer.name]
        edges = block_edges(layer.size, m.cores)
        for source in dict.fromkeys(p.source for p in layer.projections):
            n = sizes[source]
            r = out.setdefault(source, Routes(*(np.zeros(n) for _ in range(4)), np.zeros((0, 2))))
            for k, reached in destinations(layer, source, edges):
                src = (
                    where[source].core[reached] if source in where else np.zeros(len(reached), int)
                )
                src_tile, dst_tile = src // per_tile, (m.first_core + k) // per_tile
                dx = np.abs(src_tile % columns - dst_tile % columns)
                dy = np.abs(src_tile // columns - dst_tile // columns)
                r.messages[reached] += 1
                r.tile_messages[reached] += src_tile == dst_tile
                r.hops_ew[reached] += dx
                r.hops_ns[reached] += dy
                pairs = np.unique(dx * 2**20 + dy)
                moves.setdefault(source, set()).update(zip(*np.divmod(pairs, 2**20), strict=True))
    for source, r in out.items():
        r.moves = np.array(sorted(moves.get(source, ())), float).reshape(-1, 2)
    return out


def _events_into(p, counts: np.ndarray, size: int) -> np.ndarray:
    """[sample, target] synaptic events of projection ``p`` for source spike counts
    [sample, source]: every spike once per synapse it crosses."""
    if isinstance(p, LoihiConv):
        ones = replace(p, kernel_mant=(p.kernel_mant != 0).astype(np.int16), weight_exp=-6)
        return conv_input(ones, counts).astype(float)
    pre, post, _ = p.synapses()
    return np.stack([np.bincount(post, weights=row[pre], minlength=size) for row in counts])


def synaptic_events(
    net: LoihiNet, mappings: list[CoreMapping], counts: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Per source layer, [sample, core] synaptic events its spike counts make on every core."""
    cores = sum(m.cores for m in mappings)
    where = {m.layer: m for m in mappings}
    out: dict[str, np.ndarray] = {}
    for layer in net.layers:
        m = where[layer.name]
        for p in layer.projections:
            events = _events_into(p, counts[p.source], layer.size)
            landed = out.setdefault(p.source, np.zeros((len(events), cores)))
            for s, row in enumerate(events):
                landed[s] += np.bincount(m.core, weights=row, minlength=cores)
    return out
