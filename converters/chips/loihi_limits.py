"""Every limit of Loihi a converted network must respect, checked in one place.

Per compartment: fan-in (4,096 synapses, after the split of
:mod:`converters.chips.loihi_split`) and fan-out (4,096 output axons: one per destination
core, see :mod:`converters.chips.loihi_placement`); per core: 1,024 compartments and 128 KB
of synapses; per chip: 128 cores; across chips: the largest Loihi system (Pohoiki Springs,
768 chips). :func:`check_limits` refuses what no placement can hold and notes what the
placement spreads over chips; ``convert``, ``run`` and ``estimate`` all call it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .fields import INDEX_MAX, check_ranges, ints
from .loihi import MAX_FAN_IN, MAX_FAN_OUT, LoihiLayer, LoihiNet
from .loihi_placement import (
    CoreCapacity,
    Placement,
    fan_out_bound,
    layer_fan_in,
    output_axons,
    place_layers,
)

__all__ = [
    "LoihiLimits",
    "LimitCheck",
    "LoihiLimitError",
    "check_limits",
    "enforce_limits",
    "on_chip",
    "fan_outs",
]


class LoihiLimitError(ValueError):
    """A network that no mapping onto Loihi can hold."""


@dataclass(frozen=True)
class LoihiLimits:
    """Loihi's capacities (Davies et al. 2018; the system size of Pohoiki Springs)."""

    fan_in: int = ints(1, INDEX_MAX, default=MAX_FAN_IN)  # synapses into one compartment
    fan_out: int = ints(1, INDEX_MAX, default=MAX_FAN_OUT)  # destination cores of one compartment
    compartments_per_core: int = ints(1, INDEX_MAX, default=1024)
    synaptic_memory: int = ints(1, INDEX_MAX, default=131072)  # bytes per core
    synapse_bits: int = ints(1, INDEX_MAX, default=16)
    cores_per_chip: int = ints(1, INDEX_MAX, default=128)
    chips: int = ints(1, INDEX_MAX, default=768)

    def __post_init__(self) -> None:
        check_ranges(self)

    @property
    def core(self) -> CoreCapacity:
        """What one core holds."""
        return CoreCapacity(self.compartments_per_core, self.synaptic_memory, self.synapse_bits)


@dataclass
class LimitCheck:
    """What does not fit (``errors``) and what the placement spreads (``notes``), one line
    each; the placement itself where every neuron fits one core (None otherwise)."""

    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cores: int = 0
    chips: int = 0
    placement: Placement | None = None


def on_chip(net: LoihiNet) -> list[LoihiLayer]:
    """The layers on the chip: the input too where it is bias-encoded compartments."""
    layers = net.all_layers()
    return layers if net.input.encoding == "bias" else layers[1:]


def fan_outs(net: LoihiNet, limits: LoihiLimits | None = None) -> dict[str, np.ndarray]:
    """Output axons of every neuron of every layer (the input included): the cores it sends
    spikes to, each layer on the fewest cores that hold it."""
    placement = place_layers(on_chip(net), (limits or LoihiLimits()).core)
    return output_axons(net, placement)


def _feeds(net: LoihiNet, source: str) -> list[str]:
    return [
        layer.name for layer in net.layers if any(p.source == source for p in layer.projections)
    ]


def check_limits(
    net: LoihiNet,
    limits: LoihiLimits | None = None,
    cores_per_layer: Mapping[str, int] | None = None,
) -> LimitCheck:
    """Check every limit of :class:`LoihiLimits` on ``net`` from its records, and place it
    (the fewest cores per layer, or ``cores_per_layer`` where given)."""
    lim = limits or LoihiLimits()
    out = LimitCheck()
    for layer in on_chip(net):
        where = f"layer {layer.name!r}"
        fan_in = layer_fan_in(layer)
        per_compartment = -(-int(np.max(fan_in, initial=0)) // layer.fan_in_split)
        if per_compartment > lim.fan_in:
            out.errors.append(
                f"{where}: a compartment has fan-in {per_compartment} (split "
                f"{layer.fan_in_split}), above Loihi's {lim.fan_in}; remedy: convert it again "
                "(conversion splits the fan-in), or fewer inputs into this layer"
            )
        per_neuron = layer.compartments_per_neuron
        memory = fan_in * lim.synapse_bits / 8
        if per_neuron > lim.compartments_per_core:
            out.errors.append(
                f"{where}: a neuron takes {per_neuron} compartments, above the "
                f"{lim.compartments_per_core} of one core; remedy: fewer inputs into this layer"
            )
        if memory.max(initial=0) > lim.synaptic_memory:
            out.errors.append(
                f"{where}: one neuron's synapses take {memory.max():.0f} bytes, above the "
                f"{lim.synaptic_memory} of one core; remedy: fewer inputs into this layer"
            )
    if out.errors:
        return out
    placement = place_layers(on_chip(net), lim.core, cores_per_layer)
    chip_layers = set(placement.cores)
    bound = fan_out_bound(net, placement)
    suspects = [name for name in chip_layers if bound[name].max(initial=0) > lim.fan_out]
    for name, axons in output_axons(net, placement, suspects).items():
        if axons.max(initial=0) > lim.fan_out:
            out.errors.append(
                f"layer {name!r}: a compartment sends spikes to {axons.max()} cores (fan-out: "
                f"one output axon each), above the {lim.fan_out} output axons of one core; "
                f"remedy: fewer neurons in the layers it feeds "
                f"({', '.join(map(repr, _feeds(net, name)))}), so that they take fewer cores"
            )
    if out.errors:
        return out
    out.placement = placement
    out.cores = sum(placement.cores.values())
    out.chips = -(-out.cores // lim.cores_per_chip)
    if out.chips > lim.chips:
        out.errors.append(
            f"the network needs at least {out.cores} cores on {out.chips} chips, above the "
            f"{lim.chips} chips of the largest Loihi system; remedy: a smaller network"
        )
    elif out.chips > 1:
        out.notes.append(
            f"the network needs at least {out.cores} cores, spread over {out.chips} Loihi "
            f"chips of {lim.cores_per_chip} cores (spikes between chips cost more); remedy, "
            "for one chip: fewer channels or neurons (neuroemu deploy-report NET.npz per layer)"
        )
    return out


def enforce_limits(
    net: LoihiNet,
    limits: LoihiLimits | None = None,
    cores_per_layer: Mapping[str, int] | None = None,
) -> LimitCheck:
    """:func:`check_limits`, raising LoihiLimitError with the first error (and how many
    more) and warning with every note."""
    result = check_limits(net, limits, cores_per_layer)
    if result.errors:
        more = len(result.errors) - 1
        raise LoihiLimitError(result.errors[0] + (f" (and {more} more)" if more else ""))
    for note in result.notes:
        warnings.warn(note, stacklevel=2)
    return result
