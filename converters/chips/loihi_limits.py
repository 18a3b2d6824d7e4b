"""Every limit of Loihi a converted network must respect, checked in one place.

Per compartment: fan-in and fan-out (4,096 synapses each, the fan-in after the split of
:mod:`converters.chips.loihi_split`); per core: 1,024 compartments and 128 KB of synapses;
per chip: 128 cores; across chips: the largest Loihi system (Pohoiki Springs, 768 chips).
:func:`check_limits` refuses what cannot be mapped and notes what the mapping spreads over
cores or chips; ``convert``, ``run`` and ``estimate`` all call it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .fields import INDEX_MAX, check_ranges, ints
from .loihi import MAX_FAN_IN, MAX_FAN_OUT, LoihiLayer, LoihiNet

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
    fan_out: int = ints(1, INDEX_MAX, default=MAX_FAN_OUT)  # synapses out of one compartment
    compartments_per_core: int = ints(1, INDEX_MAX, default=1024)
    synaptic_memory: int = ints(1, INDEX_MAX, default=131072)  # bytes per core
    synapse_bits: int = ints(1, INDEX_MAX, default=16)
    cores_per_chip: int = ints(1, INDEX_MAX, default=128)
    chips: int = ints(1, INDEX_MAX, default=768)

    def __post_init__(self) -> None:
        check_ranges(self)


@dataclass
class LimitCheck:
    """What does not fit (``errors``; ``fan_out``, compartments sending to more synapses
    than Loihi's limit, which no split in neuroemu holds yet) and what the mapping spreads
    (``notes``), one line each."""

    errors: list[str] = field(default_factory=list)
    fan_out: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cores: int = 0
    chips: int = 0


def on_chip(net: LoihiNet) -> list[LoihiLayer]:
    """The layers on the chip: the input too where it is bias-encoded compartments."""
    layers = net.all_layers()
    return layers if net.input.encoding == "bias" else layers[1:]


def fan_outs(net: LoihiNet) -> dict[str, np.ndarray]:
    """Synapses out of every neuron of every layer (the input included)."""
    sizes = {layer.name: layer.size for layer in net.all_layers()}
    fan_out = {name: np.zeros(size, np.int64) for name, size in sizes.items()}
    for layer in net.layers:
        for p in layer.projections:
            fan_out[p.source] += p.fan_out(sizes[p.source])
    return fan_out


def check_limits(net: LoihiNet, limits: LoihiLimits | None = None) -> LimitCheck:
    """Check every limit of :class:`LoihiLimits` on ``net`` from its records."""
    lim = limits or LoihiLimits()
    out = LimitCheck()
    for name, f in fan_outs(net).items():
        if f.max(initial=0) > lim.fan_out:
            out.fan_out.append(
                f"layer {name!r}: a compartment has fan-out {f.max()}, above Loihi's "
                f"{lim.fan_out}; remedy: fewer output channels or smaller kernels in the "
                "layers it feeds"
            )
    for layer in on_chip(net):
        where = f"layer {layer.name!r}"
        fan_in = sum((p.fan_in(layer.size) for p in layer.projections), np.zeros(layer.size))
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
        out.cores += max(
            1,
            int(np.ceil(layer.size * per_neuron / lim.compartments_per_core)),
            int(np.ceil(memory.sum() / lim.synaptic_memory)),
        )
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
    net: LoihiNet, limits: LoihiLimits | None = None, refuse_fan_out: bool = False
) -> LimitCheck:
    """:func:`check_limits`, raising LoihiLimitError with the first error (and how many
    more) and warning with every note; fan-out beyond the limit is refused with
    ``refuse_fan_out`` (the energy model), warned about otherwise (conversion and emulation,
    which stay exact)."""
    result = check_limits(net, limits)
    if refuse_fan_out:
        result.errors[:0] = result.fan_out
    elif result.fan_out:
        more = len(result.fan_out) - 1
        warnings.warn(
            result.fan_out[0]
            + (f" (and {more} more)" if more else "")
            + "; emulated exactly, but the energy model and deploy-report refuse it",
            stacklevel=2,
        )
    if result.errors:
        more = len(result.errors) - 1
        raise LoihiLimitError(result.errors[0] + (f" (and {more} more)" if more else ""))
    for note in result.notes:
        warnings.warn(note, stacklevel=2)
    return result
