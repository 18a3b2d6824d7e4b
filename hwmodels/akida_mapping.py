"""Where each layer of an Akida network runs on an AKD1000: hardware sequences, NPs, the host.

BrainChip's own mapper (``akida.Model.map`` on a virtual ``akida.AKD1000()``) decides it when
the ``akida`` package is installed: which layers form hardware sequences, how many neural
processors each takes, and which layers the chip cannot hold and the runtime computes on the
host CPU between sequences (for example a convolution with max pooling that feeds a fully
connected layer). Without the package, a stated rule stands in: a convolution with max
pooling that does not feed a convolution in hardware runs on the host, every other layer on
``ceil(filters / akida_filters_per_np)`` NPs.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import warnings

import numpy as np

from converters.chips.akida import AkidaNet

from .constants import Constants

__all__ = ["Mapping", "map_network", "rule_mapping", "MAPPER"]

MAPPER = "akida mapper on a virtual AKD1000"
RULE = (
    "rule (akida not installed): a convolution with max pooling not followed by a "
    "convolution in hardware runs on the host; ceil(filters / akida_filters_per_np) NPs a layer"
)


@dataclasses.dataclass(frozen=True)
class Mapping:
    """Per layer: neural processors (0 on the host) and whether it runs in hardware."""

    nps: dict[str, int]
    hardware: dict[str, bool]
    sequences: int  # hardware sequences a frame passes through
    source: str

    @property
    def host_layers(self) -> list[str]:
        """Layers the runtime computes on the host CPU."""
        return [name for name, hw in self.hardware.items() if not hw]


def _sequences(names: list[str], hardware: dict[str, bool]) -> int:
    runs, previous = 0, False
    for name in names:
        runs += hardware[name] and not previous
        previous = hardware[name]
    return runs


def rule_mapping(net: AkidaNet, constants: Constants | None = None) -> Mapping:
    """The stand-in mapping when BrainChip's mapper is not available."""
    c = constants or Constants()
    layers = net.layers
    hardware, following = {}, None  # the next layer, when it runs in hardware
    for layer in reversed(layers):
        pooled_conv = layer.kind in ("conv", "separable") and layer.pool == "max"
        feeds_conv = following is not None and following.kind in ("conv", "separable")
        hardware[layer.name] = not pooled_conv or feeds_conv
        following = layer if hardware[layer.name] else None
    hardware = {layer.name: hardware[layer.name] for layer in layers}
    nps = {
        layer.name: int(np.ceil(layer.filters / c["akida_filters_per_np"]))
        if hardware[layer.name]
        else 0
        for layer in layers
    }
    return Mapping(nps, hardware, _sequences([layer.name for layer in net.layers], hardware), RULE)


def _mapper_mapping(net: AkidaNet) -> Mapping:
    import akida

    from converters.exports.akida_export import to_akida_model

    model = to_akida_model(net)
    model.map(akida.AKD1000())
    names = {layer.name for layer in net.layers}
    nps, hardware = {}, {}
    for sequence in model.sequences:
        on_chip = sequence.backend == akida.BackendType.Hardware
        for layer in (layer for p in sequence.passes for layer in p.layers):
            if layer.name in names:
                hardware[layer.name] = on_chip
                nps[layer.name] = len(layer.mapping.nps) if on_chip and layer.mapping else 0
    return Mapping(nps, hardware, _sequences([layer.name for layer in net.layers], hardware),
                   f"{MAPPER} (akida {akida.__version__})")  # fmt: skip


def map_network(net: AkidaNet, constants: Constants | None = None) -> Mapping:
    """The AKD1000 mapping of ``net``: BrainChip's mapper if installed, else the stated rule."""
    if importlib.util.find_spec("akida") is None:
        return rule_mapping(net, constants)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _mapper_mapping(net)
