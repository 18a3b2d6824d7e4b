"""Where each layer of an Akida 2.0 graph runs: BrainChip's mapper on a virtual v2 device.

``akida.Model.map(device, hw_only=False)`` places the exported model: hardware sequences,
the neural processors each layer takes, and the layers the runtime computes in software on
the host. In akida 2.19.3 the virtual Akida 2.0 devices are the ``*IPv2`` meshes
(``TwoNodesIPv2``, ``FourNodesIPv2``, ``SixNodesIPv2``, ``TwelveNodesIPv2``); its ``AKD1500``
is an ``IpVersion.v1`` device and its ``PicoIP`` takes ``IpVersion.pico`` models only (one
TNP_R processor for StatefulRecurrent), so neither holds an Akida 2.0 graph: they are
refused, naming this. No energy figure of an Akida 2.0 device has been measured on silicon.
"""

from __future__ import annotations

import warnings

from converters.chips.akida_v2 import AkidaV2Net

from .akida_mapping import Mapping, _sequences

__all__ = ["map_v2_network", "V2_DEVICES"]

V2_DEVICES = ("TwoNodesIPv2", "FourNodesIPv2", "SixNodesIPv2", "TwelveNodesIPv2")
_NOT_V2 = {
    "AKD1500": "an IpVersion.v1 device in akida 2.19 (it maps v1 models)",
    "PicoIP": "an IpVersion.pico device (one TNP_R processor for StatefulRecurrent models)",
}


def map_v2_network(net: AkidaV2Net, device: str = "SixNodesIPv2") -> Mapping:
    """The mapping of ``net`` by BrainChip's mapper on the virtual Akida 2.0 ``device``.

    Raises
    ------
    ValueError
        For a device that is not an Akida 2.0 mesh, naming what it is and what is accepted.
    """
    if device not in V2_DEVICES:
        what = _NOT_V2.get(device, "not a virtual device of the akida package")
        raise ValueError(
            f"cannot map an Akida 2.0 graph on {device!r}: {what}. Accepted: {', '.join(V2_DEVICES)}"
        )
    import akida

    from converters.exports.akida_v2_export import to_akida_v2_model

    model = to_akida_v2_model(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.map(getattr(akida, device)(), hw_only=False)
    nps, hardware = {}, {}
    for sequence in model.sequences:
        on_chip = sequence.backend == akida.BackendType.Hardware
        for layer in (layer for p in sequence.passes for layer in p.layers):
            hardware[layer.name] = on_chip
            nps[layer.name] = len(layer.mapping.nps) if on_chip and layer.mapping else 0
    names = [layer.name for layer in net.layers]
    return Mapping(
        {name: nps.get(name, 0) for name in names},
        {name: hardware.get(name, False) for name in names},
        _sequences(names, {name: hardware.get(name, False) for name in names}),
        f"akida mapper on a virtual {device} (akida {akida.__version__}); not validated on silicon",
    )
