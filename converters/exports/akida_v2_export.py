"""Export of an AkidaV2Net to an Akida 2.0 ``akida.Model``, so BrainChip's engine can run it.

Needs the optional ``akida`` package. Every integer parameter is copied unchanged: an
AkidaV2Net holds them in the engine's layout.
"""

from __future__ import annotations

import numpy as np

from ..chips.akida_v2 import ENGINE_TYPES, ENGINE_VARIABLES, AkidaV2Layer, AkidaV2Net
from .akida_export import akida_package

__all__ = ["to_akida_v2_model", "akida_v2_forward"]


def _options(akida, layer: AkidaV2Layer) -> dict:
    """The engine constructor's keyword arguments for ``layer``."""
    if layer.kind == "concat":
        return {}
    widths = dict(output_bits=layer.output_bits, buffer_bits=layer.buffer_bits,
                  post_op_buffer_bits=layer.post_op_buffer_bits)  # fmt: skip
    if layer.kind == "add":
        return widths
    relu = akida.ActivationType.ReLU if layer.activation else akida.ActivationType.NoActivation
    options = dict(activation=relu, weights_bits=layer.weight_bits, **widths)
    if layer.kind == "dense":
        return dict(units=layer.filters, **options)
    options.update(
        kernel_size=layer.kernel_size,
        kernel_stride=layer.stride,
        padding=akida.Padding.Same if layer.padding == "same" else akida.Padding.Valid,
    )
    if layer.pool == "max":
        options.update(pool_type=akida.PoolType.Max, pool_size=layer.pool_size,
                       pool_stride=layer.pool_stride)  # fmt: skip
    elif layer.pool == "global_avg":
        options.update(pool_type=akida.PoolType.Average)
    if layer.kind == "input_conv":
        options.update(input_shape=layer.input_shapes[0])
    if layer.kind in ("input_conv", "conv"):
        options.update(filters=layer.filters)
    return options


def to_akida_v2_model(net: AkidaV2Net):
    """Build an Akida 2.0 ``akida.Model`` holding exactly the graph and parameters of ``net``.

    Returns
    -------
    akida.Model
    """
    akida = akida_package()
    model = akida.Model()
    built = {}
    if net.layers[0].kind != "input_conv":
        built[net.input_name] = akida.InputData(
            net.input_shape, input_bits=net.input_bits, name=net.input_name
        )
        model.add(built[net.input_name])
    for layer in net.layers:
        engine = getattr(akida, ENGINE_TYPES[layer.kind])(name=layer.name, **_options(akida, layer))
        inbounds = [built[name] for name in layer.inbounds if name in built]
        model.add(engine, inbound_layers=inbounds)
        built[layer.name] = engine
        for name in ENGINE_VARIABLES:
            if name in engine.get_variable_names():
                var = engine.get_variable(name)
                engine.set_variable(
                    name, np.asarray(getattr(layer, name)).reshape(var.shape).astype(var.dtype)
                )
    return model


def akida_v2_forward(net: AkidaV2Net, levels: np.ndarray, model=None) -> np.ndarray:
    """Outputs of BrainChip's engine for integer inputs (N, H, W, C): the last layer's (N, H', W', F)."""
    model = model if model is not None else to_akida_v2_model(net)
    x = np.asarray(levels).reshape(len(levels), *net.input_shape).astype(np.uint8)
    return np.asarray(model.forward(x)).astype(np.int64)
