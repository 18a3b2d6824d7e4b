"""Import of BrainChip ``akida.Model`` networks (or their saved .fbz files) as AkidaNet records."""

from __future__ import annotations

import numpy as np

from ..chips.akida import AkidaLayer, AkidaNet
from ..exports.akida_export import paddings, pools
from .akida_source import V2_TYPES, model_input, open_model

__all__ = ["AkidaImportError", "from_akida_model"]

_KINDS = {
    "InputConvolutional": "input_conv",
    "Convolutional": "conv",
    "SeparableConvolutional": "separable",
    "FullyConnected": "dense",
}


class AkidaImportError(ValueError):
    """An akida layer outside the v1 set an AkidaNet holds: names the layer and what is accepted."""

    def __init__(self, layer: str, problem: str):
        accepted = "InputData, InputConvolutional, Convolutional, SeparableConvolutional, " \
            "FullyConnected in one chain"  # fmt: skip
        super().__init__(f"cannot import akida layer {layer!r}: {problem}. Accepted: {accepted}")
        self.layer = layer


def _pool(akida, params) -> dict:
    """Pooling options; the engine's "width" and "x" name the first spatial axis."""
    kind = {int(v): k for k, v in pools(akida).items()}[int(params.pool_type)]
    if kind == "max":
        size = (params.pooling_width, params.pooling_height)
        return dict(pool=kind, pool_size=size,
                    pool_stride=(params.pooling_stride_x, params.pooling_stride_y))  # fmt: skip
    return dict(pool=kind)


def _weights(layer, kind: str) -> dict:
    weights = np.asarray(layer.get_variable("weights"))
    if kind == "dense":
        return dict(weights=weights.reshape(weights.shape[-2:]))
    if kind == "separable":
        pointwise = np.asarray(layer.get_variable("weights_pw"))
        return dict(weights=weights, pointwise=pointwise.reshape(pointwise.shape[-2:]))
    return dict(weights=weights)


def _layer(akida, layer, shape: tuple[int, int, int]) -> AkidaLayer:
    params = layer.parameters
    kind = _KINDS.get(params.layer_type.name)
    if kind is None:
        v2 = params.layer_type.name in V2_TYPES
        hint = (
            " of Akida 2.0 (converters.frontends.akida_v2_import.from_akida_v2_model)" if v2 else ""
        )
        raise AkidaImportError(layer.name, f"layer type {params.layer_type.name}{hint}")
    options: dict = dict(act_bits=int(params.act_bits) if params.activation else None)
    if kind != "dense":
        padding = {int(v): k for k, v in paddings(akida).items()}[int(params.padding)]
        options.update(padding=padding, stride=(params.stride_x, params.stride_y))
        options.update(_pool(akida, params))
    if kind == "input_conv":
        options["padding_value"] = int(params.padding_value)
    try:
        return AkidaLayer(
            name=layer.name,
            kind=kind,
            input_shape=shape,
            threshold=np.asarray(layer.get_variable("threshold")),
            act_step=np.asarray(layer.get_variable("act_step")),
            weight_bits=int(params.weights_bits),
            **_weights(layer, kind),
            **options,
        )
    except ValueError as err:
        raise AkidaImportError(layer.name, str(err)) from err


def from_akida_model(
    model_or_path, input_scale: float = 1.0, input_name: str = "input"
) -> AkidaNet:
    """An AkidaNet holding exactly the layers and parameters of an ``akida.Model``.

    Parameters
    ----------
    model_or_path
        An ``akida.Model``, or the path of one saved by ``model.save(path)`` (.fbz).
    input_scale
        The float value of the top input level (an akida model does not store it).
    input_name
        The input's name when the model starts with an InputConvolutional (a model that
        starts with InputData gives that layer's name).

    Raises
    ------
    AkidaImportError
        For a layer outside Akida's v1 set, a branch, or parameters the records refuse.
    """
    akida, model = open_model(model_or_path)
    source = model_input(model, input_name, AkidaImportError)
    shape = source.shape
    net_layers: list[AkidaLayer] = []
    for k, layer in enumerate(source.layers):
        inbound = [inb.name for inb in layer.inbounds]
        previous = [net_layers[-1].name] if net_layers else []
        if k > 0 and inbound != previous:
            raise AkidaImportError(layer.name, f"inputs {inbound} break the single chain")
        net_layers.append(_layer(akida, layer, shape))
        shape = net_layers[-1].output_shape
    if not net_layers:
        raise AkidaImportError(model.layers[0].name, "a model without a weighted layer")
    return AkidaNet(source.shape, source.bits, net_layers, input_scale, source.name)
