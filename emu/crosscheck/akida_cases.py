"""Randomized akida.Model cases over the engine's v1 layer set: how many import, and do they match.

Draws models layer by layer from BrainChip's own constructors (every v1 layer type, padding,
stride, pooling, weight and activation width, the input convolution's padding value),
keeps those the engine builds and runs, imports each with ``converters.frontends.akida_import`` and compares
the numpy reference with ``akida.Model.forward``.

From the command line: ``python scripts/akida_engine_cases.py [--cases 2000] [--seed 0]``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from converters.chips.akida import weight_range
from converters.frontends.akida_import import AkidaImportError, from_akida_model
from emu.engines.akida_reference import simulate

__all__ = [
    "random_engine_model",
    "randomize_layer",
    "engine_inputs",
    "run_cases",
]

PADDINGS = ("Same", "SameUpper", "Valid")


def _conv_options(akida, rng, kernel_top: int, input_conv: bool, last: bool) -> dict:
    kernel = tuple(int(rng.choice([k for k in (1, 3, 5, 7) if k <= kernel_top])) for _ in "hw")
    top = [k + 3 if input_conv else k for k in kernel]
    options = dict(
        kernel_size=kernel,
        padding=getattr(akida.Padding, str(rng.choice(PADDINGS))),
        kernel_stride=tuple(int(rng.integers(1, t + 1)) for t in top),
    )
    pool = str(rng.choice(["none", "max", "avg"] if last else ["none", "max"]))
    if pool == "max":
        size = tuple(int(rng.integers(1, 4)) for _ in "hw")
        stride = tuple(int(rng.integers(1, s + 1)) for s in size)
        options.update(pool_type=akida.PoolType.Max, pool_size=size, pool_stride=stride)
    elif pool == "avg":
        options.update(pool_type=akida.PoolType.Average)
    return options


def _layer(akida, rng, kind: str, shape: tuple[int, int, int], name: str, last: bool):
    """One random engine layer of ``kind`` for an input of ``shape``."""
    activation = not last or rng.random() < 0.6
    common = dict(
        name=name,
        weights_bits=int(rng.choice([1, 2, 4, 8])),
        activation=activation,
        act_bits=int(rng.choice([1, 2, 4])),
    )
    if kind == "FullyConnected":
        return akida.FullyConnected(int(rng.integers(1, 7)), **common)
    filters = int(rng.integers(1, 7))
    options = _conv_options(akida, rng, min(shape[:2]), kind == "InputConvolutional", last)
    if kind == "InputConvolutional":
        value = int(rng.integers(0, 256)) if rng.random() < 0.5 else 0
        return akida.InputConvolutional(shape, filters=filters, padding_value=value,
                                        **options, **common)  # fmt: skip
    return getattr(akida, kind)(filters=filters, **options, **common)


def randomize_layer(layer, rng, in_bits: int) -> None:
    """Random weights in the layer's range, thresholds and steps across its outputs."""
    low, high = weight_range(int(layer.parameters.weights_bits))
    fan_in = 1
    for name in ("weights", "weights_pw"):
        if name in layer.get_variable_names():
            shape = layer.get_variable(name).shape
            layer.set_variable(name, rng.integers(low, high + 1, shape).astype(np.int8))
            fan_in *= int(np.prod(shape[:-1]))
    f = layer.get_variable("threshold").shape[0]
    spread = np.sqrt(fan_in) * max(high, 1) * (2**in_bits - 1) / 2 + 1
    layer.set_variable("threshold", rng.integers(-int(spread), int(spread) + 1, f).astype(np.int32))
    steps = np.maximum(np.floor(rng.uniform(0, spread / 4, f) * 16) / 16, 1 / 16)
    layer.set_variable("act_step", steps.astype(np.float32))


def random_engine_model(akida, rng, depth: int):
    """A random akida.Model of ``depth`` weighted layers, or None where the engine refuses it."""
    model = akida.Model()
    first = str(rng.choice(["InputConvolutional", "Convolutional", "SeparableConvolutional",
                            "FullyConnected"]))  # fmt: skip
    c = int(rng.integers(1, 4)) if first == "InputConvolutional" else int(rng.integers(1, 6))
    shape = (int(rng.integers(1, 12)), int(rng.integers(1, 12)), c)
    bits, kind = 8, first
    try:
        if first != "InputConvolutional":
            bits = int(rng.choice([1, 2, 4]))
            model.add(akida.InputData(shape, input_bits=bits, name="input"))
        for k in range(depth):
            layer = _layer(akida, rng, kind, shape, f"l{k}", k == depth - 1)
            model.add(layer)
            randomize_layer(layer, rng, bits)
            shape, bits = tuple(model.output_shape), int(layer.parameters.act_bits)
            if kind == "FullyConnected" or rng.random() < 0.3:
                kind = "FullyConnected"
            else:
                kind = str(rng.choice(["Convolutional", "SeparableConvolutional"]))
        model.forward(np.zeros((1, *model.input_shape), np.uint8))
    except (RuntimeError, ValueError):
        return None
    return model


def engine_inputs(rng, model, n: int) -> np.ndarray:
    """Random integer inputs of a model, about 30% zeros."""
    first = model.layers[0].parameters
    bits = 8 if first.layer_type.name == "InputConvolutional" else int(first.input_bits)
    x = rng.integers(0, 2**bits, (n, *model.input_shape))
    return np.where(rng.random(x.shape) < 0.3, 0, x).astype(np.uint8)


def run_cases(cases: int, seed: int = 0, depth=(1, 3)) -> dict:
    """Draw ``cases`` engine-accepted models; import, simulate and compare each.

    Returns counts: ``cases``, ``built``, ``matched``, ``refused`` (a Counter of reasons)
    and ``kinds`` (a Counter of the built layers' kinds and options).
    """
    import akida

    rng = np.random.default_rng(seed)
    out = dict(cases=0, built=0, matched=0, refused=Counter(), kinds=Counter())
    while out["cases"] < cases:
        model = random_engine_model(akida, rng, int(rng.integers(*depth)))
        if model is None:
            continue
        out["cases"] += 1
        try:
            net = from_akida_model(model)
        except AkidaImportError as err:
            out["refused"][str(err).split(": ", 2)[-1].split(" (")[0]] += 1
            continue
        out["built"] += 1
        x = engine_inputs(rng, model, 3)
        ours = simulate(net, x).counts[net.layers[-1].name]
        theirs = np.asarray(model.forward(x)).astype(np.int64).reshape(len(x), -1)
        out["matched"] += bool(np.array_equal(ours, theirs))
        for layer in net.layers:
            out["kinds"][layer.kind] += 1
            out["kinds"][f"padding {layer.padding}"] += 1
            out["kinds"]["padding_value > 0"] += layer.padding_value > 0
            out["kinds"]["8-bit weights"] += layer.weight_bits == 8
            big = layer.kind == "input_conv" and max(layer.stride) > min(layer.weights.shape[:2])
            out["kinds"]["input stride > kernel"] += big
    return out
