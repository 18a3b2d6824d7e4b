"""Deployment report of a converted network: chips, cores (or NPs) per layer, synaptic memory
and the limit that binds each layer, for Loihi and the AKD1000 (``neuroemu deploy-report``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from converters.chips.akida import AkidaNet
from converters.chips.loihi import LoihiNet
from converters.chips.loihi_limits import check_limits, on_chip
from converters.chips.loihi_placement import layer_fan_in, output_axons

from .akida_mapping import map_network
from .constants import Constants
from .loihi_mapping import limits
from .models import models_for

__all__ = [
    "LayerDeployment",
    "Deployment",
    "loihi_deployment",
    "akida_deployment",
    "deploy_report",
]


@dataclass
class LayerDeployment:
    """One layer: its neurons, the cores (Loihi) or NPs (Akida, 0 on the host) it takes, its
    synaptic memory in bytes (Loihi), largest fan-in of one compartment and fan-out (Loihi:
    destination cores of one compartment, each an output axon of its core), the binding limit, and the compartments each neuron splits its fan-in over (1: no split)."""

    layer: str
    neurons: int
    units: int
    memory_bytes: float
    max_fan_in: int
    max_fan_out: int
    binding: str
    fan_in_split: int = 1


@dataclass
class Deployment:
    """Where a network sits on its chip; ``problems`` lists what does not fit, with remedies."""

    chip: str
    unit: str  # "cores" or "NPs"
    chips: int
    layers: list[LayerDeployment]
    problems: list[str]

    @property
    def fits(self) -> bool:
        return not self.problems

    def table(self) -> str:
        """The report as aligned text."""
        rows = [
            f"{self.chip}: {sum(x.units for x in self.layers)} {self.unit} on {self.chips} "
            f"chip(s); {'fits' if self.fits else 'does NOT fit'}",
            f"{'layer':16} {'neurons':>9} {self.unit:>6} {'syn. KB':>9} {'fan-in':>7} "
            f"{'fan-out':>7} {'split':>5}  binding limit",
        ]
        rows += [
            f"{x.layer:16} {x.neurons:9d} {x.units:6d} {x.memory_bytes / 1024:9.1f} "
            f"{x.max_fan_in:7d} {x.max_fan_out:7d} {x.fan_in_split:5d}  {x.binding}"
            for x in self.layers
        ]
        return "\n".join(rows + [f"problem: {p}" for p in self.problems])


def loihi_deployment(net: LoihiNet, c: Constants) -> Deployment:
    """Cores per layer of ``net`` on Loihi, with every limit of
    :func:`converters.chips.loihi_limits.check_limits` checked."""
    check = check_limits(net, limits(c))
    placement = check.placement
    fan_out = output_axons(net, placement) if placement else {}
    layers = []
    for layer in on_chip(net):
        fan_in = layer_fan_in(layer)
        rows = (
            (placement.cores[layer.name], placement.binding[layer.name])
            if placement
            else (0, "not placed: see the problems")
        )
        axons = fan_out[layer.name] if placement else np.zeros(1, int)
        layers.append(
            LayerDeployment(
                layer.name,
                layer.size,
                rows[0],
                float(fan_in.sum() * c["loihi_synapse_bits"] / 8),
                -(-int(fan_in.max(initial=0)) // layer.fan_in_split),
                int(axons.max(initial=0)),
                rows[1],
                layer.fan_in_split,
            )
        )
    cores = sum(x.units for x in layers)
    return Deployment(
        "Loihi", "cores", int(np.ceil(cores / c["loihi_cores_per_chip"])), layers, check.errors
    )


def akida_deployment(net: AkidaNet, c: Constants) -> Deployment:
    """Neural processors per layer of ``net`` on one AKD1000, as BrainChip's mapper places it."""
    mapping = map_network(net, c)
    layers, problems = [], []
    for layer in net.layers:
        nps, hardware = mapping.nps[layer.name], mapping.hardware[layer.name]
        binding = "runs on the host CPU" if not hardware else f"{layer.filters} filters"
        fan_in = int(np.prod(layer.weights.shape[:-1]))
        size = int(np.prod(layer.output_shape))
        layers.append(LayerDeployment(layer.name, size, nps, 0.0, fan_in, 0, binding))
    total = sum(x.units for x in layers)
    chips = max(1, int(np.ceil(total / c["akida_nps"])))
    if chips > 1:
        problems.append(
            f"{total} NPs exceed one AKD1000's {int(c['akida_nps'])}; remedy: fewer filters"
        )
    return Deployment(f"AKD1000 ({mapping.source})", "NPs", chips, layers, problems)


def deploy_report(net: LoihiNet | AkidaNet, constants: Constants | None = None) -> Deployment:
    """The deployment of ``net`` on its target chip (see :class:`Deployment`)."""
    return models_for(net.target).deploy(net, constants or Constants())
