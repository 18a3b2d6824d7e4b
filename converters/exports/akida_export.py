"""Export of an AkidaNet to an ``akida.Model``, so BrainChip's own engine can run it.

Needs the optional ``akida`` package. Weights, thresholds and steps are copied unchanged:
an AkidaNet already holds them in the engine's layout.
"""

from __future__ import annotations

import numpy as np

from ..chips.akida import AkidaLayer, AkidaNet

__all__ = ["to_akida_model", "akida_forward", "akida_package", "paddings", "pools"]


def akida_package():
    """The optional ``akida`` package, or an ImportError saying how to install it."""
    try:
        import akida
    except ImportError as err:
        raise ImportError(
            "exchanging networks with akida needs BrainChip's akida package: pip install 'akida>=2.19,<3'"
        ) from err
    return akida


def paddings(akida) -> dict:
    """AkidaLayer padding names -> the engine's ``akida.Padding``."""
    return {
        "same": akida.Padding.Same,
        "same_upper": akida.Padding.SameUpper,
        "valid": akida.Padding.Valid,
    }


def pools(akida) -> dict:
    """AkidaLayer pool names -> the engine's ``akida.PoolType``."""
    return {
        "none": akida.PoolType.NoPooling,
        "max": akida.PoolType.Max,
        "global_avg": akida.PoolType.Average,
    }


def _layer(akida, layer: AkidaLayer):
    padding = paddings(akida)[layer.padding]
    act = dict(activation=layer.act_bits is not None, act_bits=layer.act_bits or 4)
    if layer.kind == "dense":
        return akida.FullyConnected(
            layer.filters, name=layer.name, weights_bits=layer.weight_bits, **act
        )
    pool = dict(pool_type=pools(akida)[layer.pool])
    if layer.pool == "max":
        pool.update(pool_size=layer.pool_size, pool_stride=layer.pool_stride)
    common = dict(
        kernel_size=tuple(layer.weights.shape[:2]),
        filters=layer.filters,
        name=layer.name,
        padding=padding,
        kernel_stride=layer.stride,
        weights_bits=layer.weight_bits,
        **pool,
        **act,
    )
    if layer.kind == "input_conv":
        return akida.InputConvolutional(
            input_shape=layer.input_shape, padding_value=layer.padding_value, **common
        )
    if layer.kind == "separable":
        return akida.SeparableConvolutional(**common)
    return akida.Convolutional(**common)


def to_akida_model(net: AkidaNet):
    """Build an ``akida.Model`` holding exactly the parameters of ``net``.

    Returns
    -------
    akida.Model
    """
    akida = akida_package()
    model = akida.Model()
    if net.layers[0].kind != "input_conv":
        model.add(akida.InputData(net.input_shape, input_bits=net.input_bits, name=net.input_name))
    for layer in net.layers:
        ak = _layer(akida, layer)
        model.add(ak)
        weights = layer.weights
        if layer.kind == "dense":
            weights = weights.reshape(1, 1, *weights.shape)
        ak.set_variable("weights", weights.astype(np.int8))
        if layer.kind == "separable":
            ak.set_variable("weights_pw", layer.pointwise.reshape(1, 1, *layer.pointwise.shape))
        ak.set_variable("threshold", layer.threshold.astype(np.int32))
        ak.set_variable("act_step", layer.act_step.astype(np.float32))
    return model


def akida_forward(net: AkidaNet, levels: np.ndarray, model=None) -> np.ndarray:
    """Outputs of BrainChip's engine for integer inputs (N, H, W, C): activations (N, H', W', F)
    of the last layer, or its potentials if it has no activation."""
    model = model if model is not None else to_akida_model(net)
    x = np.asarray(levels).reshape(len(levels), *net.input_shape).astype(np.uint8)
    return np.asarray(model.forward(x)).astype(np.int64)
