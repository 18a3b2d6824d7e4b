"""Import of BrainChip Akida 2.0 ``akida.Model`` graphs (or their .fbz files) as AkidaV2Net records."""

from __future__ import annotations

import numpy as np

from ..chips.akida_v2 import ENGINE_TYPES, ENGINE_VARIABLES, AkidaV2Layer, AkidaV2Net
from .akida_source import V2_TYPES, model_input, open_model

__all__ = ["AkidaV2ImportError", "from_akida_v2_model", "ACCEPTED", "MISSING"]

_KINDS = {engine: kind for kind, engine in ENGINE_TYPES.items()}
ACCEPTED = "InputData, " + ", ".join(V2_TYPES)
# v2 layer types the records do not hold, and what an exact emulation of each would need
MISSING = {
    "BufferTempConv": "a FIFO of past frames carried between forward calls (temporal state)",
    "DepthwiseBufferTempConv": "a FIFO of past frames carried between forward calls (temporal state)",
    "StatefulRecurrent": "the recurrent state carried between forward calls",
    "Conv2DTranspose": "transposed convolution arithmetic",
    "DepthwiseConv2DTranspose": "transposed convolution arithmetic",
    "Quantizer": "float inputs (the records take integer inputs)",
    "Dequantizer": "float outputs (the records give integer outputs)",
    "PicoPostProcessing": "the PicoIP post-processing arithmetic",
}


class AkidaV2ImportError(ValueError):
    """An akida layer outside the v2 set an AkidaV2Net holds: names the layer and what is missing."""

    def __init__(self, layer: str, problem: str):
        super().__init__(f"cannot import akida layer {layer!r}: {problem}. Accepted: {ACCEPTED}")
        self.layer = layer


def _options(akida, params, kind: str) -> dict:
    if kind in ("add", "concat"):
        if kind == "add":
            return dict(output_bits=params.output_bits, buffer_bits=params.buffer_bits,
                        post_op_buffer_bits=params.post_op_buffer_bits)  # fmt: skip
        return {}
    options = dict(
        activation=params.activation == int(akida.ActivationType.ReLU),
        output_bits=params.output_bits,
        buffer_bits=params.buffer_bits,
        post_op_buffer_bits=params.post_op_buffer_bits,
        weight_bits=params.weights_bits,
    )
    if params.activation not in (0, 1):
        raise ValueError(f"activation {akida.ActivationType(params.activation).name}")
    if kind == "dense":
        return options
    padding = akida.Padding(params.padding).name
    if padding not in ("Same", "Valid"):
        raise ValueError(f"padding {padding} (accepted: Same, Valid)")
    pool = akida.PoolType(params.pool_type).name
    options.update(
        kernel_size=params.kernel_size, stride=params.kernel_stride, padding=padding.lower()
    )
    if pool == "Max":
        size = params.pool_size
        stride = params.pool_stride if params.pool_stride > 0 else size
        options.update(pool="max", pool_size=size, pool_stride=stride)
    elif pool == "Average":
        if params.pool_size > 0:
            raise ValueError("average pooling with a window (the engine returns the global sum)")
        options.update(pool="global_avg")
    return options


def _layer(akida, layer, shapes: dict, inbounds: tuple[str, ...]) -> AkidaV2Layer:
    params = layer.parameters
    type_name = params.layer_type.name
    kind = _KINDS.get(type_name)
    if kind is None:
        need = MISSING.get(type_name, "its arithmetic")
        raise AkidaV2ImportError(layer.name, f"layer type {type_name} needs {need}")
    try:
        arrays = {
            name: np.asarray(layer.get_variable(name))
            for name in ENGINE_VARIABLES
            if name in layer.get_variable_names()
        }
        if kind == "dense":
            arrays["weights"] = arrays["weights"].reshape(arrays["weights"].shape[-2:])
        return AkidaV2Layer(
            name=layer.name,
            kind=kind,
            inbounds=inbounds,
            input_shapes=tuple(shapes[name] for name in inbounds),
            **arrays,
            **_options(akida, params, kind),
        )
    except ValueError as err:
        raise AkidaV2ImportError(layer.name, str(err)) from err


def from_akida_v2_model(
    model_or_path, input_scale: float = 1.0, input_name: str = "input"
) -> AkidaV2Net:
    """An AkidaV2Net holding exactly the layers, parameters and graph of an Akida 2.0 model.

    Parameters
    ----------
    model_or_path
        An ``akida.Model`` of ``IpVersion.v2``, or the path of one saved with ``save`` (.fbz).
    input_scale
        The float value of the top input level (an akida model does not store it).
    input_name
        The input's name when the model starts with an InputConv2D.

    Raises
    ------
    AkidaV2ImportError
        For a layer outside the v2 set the records hold (naming what it needs), signed
        inputs, or parameters the records refuse.
    """
    akida, model = open_model(model_or_path)
    if model.ip_version != akida.IpVersion.v2:
        raise AkidaV2ImportError(model.layers[0].name, f"IP version {model.ip_version.name}")
    source = model_input(model, input_name, AkidaV2ImportError)
    shapes = {source.name: source.shape}
    records = []
    for layer in source.layers:
        inbounds = tuple(inb.name for inb in layer.inbounds) or (source.name,)
        layer_record = _layer(akida, layer, shapes, inbounds)
        records.append(layer_record)
        shapes[layer_record.name] = layer_record.output_shape
    if not records:
        raise AkidaV2ImportError(model.layers[0].name, "a model without a layer to compute")
    try:
        return AkidaV2Net(source.shape, source.bits, records, input_scale, source.name)
    except ValueError as err:
        raise AkidaV2ImportError(records[-1].name, str(err)) from err
