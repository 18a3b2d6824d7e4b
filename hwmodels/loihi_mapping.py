"""Where each layer of a LoihiNet sits on Loihi: cores per layer, compartments and synaptic
memory per core, fan-in and fan-out per compartment, all from the projections' records
(convolutions counted from their geometry, never written out as synapses).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from converters.chips.loihi import LoihiLayer, LoihiNet
from converters.chips.loihi_conv import LoihiConv
from converters.chips.loihi_limits import (
    LoihiLimitError,
    LoihiLimits,
    enforce_limits,
    fan_outs,
    on_chip,
)

from .constants import Constants

__all__ = [
    "LoihiMappingError",
    "CoreMapping",
    "map_cores",
    "least_cores",
    "layer_fan_in",
    "compartment_fan_in",
    "fan_outs",
    "on_chip",
    "limits",
    "synapses_to_cores",
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


def _blocks(n: int, k: int) -> np.ndarray:
    return np.repeat(np.arange(k), [len(b) for b in np.array_split(np.arange(n), k)])


def map_cores(
    net: LoihiNet,
    cores_per_layer: Mapping[str, int] | None = None,
    constants: Constants | None = None,
) -> list[CoreMapping]:
    """Place the on-chip layers of ``net`` onto cores (the fewest that fit, unless given).

    Raises LoihiMappingError when a compartment's fan-in or fan-out exceeds the limits, or
    when a requested core count is too small for a layer or larger than its neuron count.
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
        enforce_limits(net, limits(c), refuse_fan_out=True)
    except LoihiLimitError as err:
        raise LoihiMappingError(str(err)) from None
    mappings, first = [], 0
    for layer in layers:
        fan_in = layer_fan_in(layer)
        least, _ = least_cores(layer, fan_in, c)
        k = cores_per_layer.get(layer.name, least)
        mem = fan_in * c["loihi_synapse_bits"] / 8
        if not least <= k <= layer.size:
            raise LoihiMappingError(
                f"layer {layer.name!r} ({layer.size} neurons, {_per_neuron(layer)} compartments "
                f"each, {mem.sum():.0f} bytes of synapses) needs between {least} and "
                f"{layer.size} cores, got {k}"
            )
        block, comps, memory = _usage(layer, mem, k)
        mappings.append(CoreMapping(layer.name, k, first, block + first, comps, memory))
        first += k
    return mappings


def _per_neuron(layer: LoihiLayer) -> int:
    """Compartments per neuron: the soma's (two with reset by subtraction) and the fan-in
    split's auxiliary compartments."""
    return layer.compartments_per_neuron


def compartment_fan_in(layer: LoihiLayer, fan_in: np.ndarray) -> int:
    """The largest fan-in of one compartment: a neuron's fan-in over its split's slices."""
    return -(-int(fan_in.max(initial=0)) // layer.fan_in_split)


def layer_fan_in(layer: LoihiLayer) -> np.ndarray:
    """Synapses into every compartment of ``layer``, from the projections' records."""
    fan_in = np.zeros(layer.size, np.int64)
    for p in layer.projections:
        fan_in += p.fan_in(layer.size)
    return fan_in


def _usage(layer: LoihiLayer, mem: np.ndarray, k: int):
    """(core of each neuron, compartments per core, bytes per core) over ``k`` cores."""
    block = _blocks(layer.size, k)
    comps = np.bincount(block, minlength=k) * _per_neuron(layer)
    return block, comps, np.bincount(block, weights=mem, minlength=k)


def least_cores(layer: LoihiLayer, fan_in: np.ndarray, c: Constants) -> tuple[int, str]:
    """The fewest cores that hold ``layer`` and the limit that sets it: ``"compartments"``
    or ``"synaptic memory"`` per core (``"fan-in"`` when a compartment exceeds it)."""
    mem = fan_in * c["loihi_synapse_bits"] / 8
    by_compartments = int(
        np.ceil(layer.size * _per_neuron(layer) / c["loihi_compartments_per_core"])
    )
    least = max(by_compartments, int(np.ceil(mem.sum() / c["loihi_synaptic_memory"])), 1)

    def fits(k: int) -> bool:
        _, comps, memory = _usage(layer, mem, k)
        return bool(
            comps.max() <= c["loihi_compartments_per_core"]
            and memory.max() <= c["loihi_synaptic_memory"]
        )

    while least < layer.size and not fits(least):
        least += 1
    if compartment_fan_in(layer, fan_in) > c["loihi_max_fan_in"]:
        return least, "fan-in"
    return least, "compartments" if least <= max(by_compartments, 1) else "synaptic memory"


def synapses_to_cores(p, core: np.ndarray, source_size: int, cores: int) -> sp.csr_matrix:
    """[source size, cores] synapses of projection ``p`` from each source neuron onto each
    core, ``core[i]`` being the core of target neuron ``i`` (convolutions from their
    geometry, core by core, never written out as synapses)."""
    if not isinstance(p, LoihiConv):
        ones = np.ones(len(p.pre))
        return sp.csr_matrix((ones, (p.pre, core[p.post])), shape=(source_size, cores))
    rows, cols, counts = [], [], []
    for k in np.unique(core):
        fan = p.fan_out_to(core == k)
        hit = np.flatnonzero(fan)
        rows.append(hit)
        cols.append(np.full(len(hit), k))
        counts.append(fan[hit])
    data = (np.concatenate(counts), (np.concatenate(rows), np.concatenate(cols)))
    return sp.csr_matrix(data, shape=(source_size, cores))
