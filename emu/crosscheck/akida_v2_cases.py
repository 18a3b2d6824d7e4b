"""Randomized Akida 2.0 akida.Model graphs: how many import, and does every device match the engine.

Draws models from BrainChip's own v2 constructors (InputConv2D, Conv2D, DepthwiseConv2D,
Dense1D, Add and Concatenate joining two branches; every padding, stride, pooling, activation,
output width, buffer width, shift and scale), keeps those the engine builds and runs, imports
each with ``converters.frontends.akida_v2_import`` and compares the numpy reference (and the tensor device)
with ``akida.Model.forward``, integer for integer.

From the command line: ``python scripts/akida_v2_engine_cases.py [--cases 1000] [--seed 0]``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from converters.chips.akida_v2 import WEIGHT_RANGES, net_forward
from converters.frontends.akida_v2_import import AkidaV2ImportError, from_akida_v2_model
from emu.engines.akida_v2_reference import simulate
from emu.engines.akida_v2_tensor import simulate as tensor_simulate

__all__ = [
    "random_engine_model",
    "randomize_layer",
    "calibrate_layer",
    "engine_inputs",
    "run_cases",
]


def _pick(rng, values):
    return values[int(rng.integers(len(values)))]


def _conv_options(akida, rng, kind: str, shape, last: bool) -> dict:
    side = min(shape[:2])
    kernel = int(_pick(rng, [k for k in (1, 3, 5, 7) if k <= side] or [1]))
    if kind == "DepthwiseConv2D":
        kernel = 3 if side >= 3 and rng.random() < 0.7 else kernel
    stride = 2 if rng.random() < 0.3 else 1
    options = dict(
        kernel_size=kernel,
        kernel_stride=stride,
        padding=_pick(rng, [akida.Padding.Same, akida.Padding.Valid]),
    )
    pool = _pick(rng, ["none", "max", "avg"] if last or rng.random() < 0.2 else ["none", "max"])
    if pool == "max":
        size = int(rng.integers(1, 4))
        options.update(
            pool_type=akida.PoolType.Max, pool_size=size, pool_stride=int(rng.integers(1, size + 1))
        )
    elif pool == "avg":
        options.update(pool_type=akida.PoolType.Average)
    return options


def _common(akida, rng, in_bits: int, joined: bool) -> dict:
    """Activation and widths; a branch that is joined keeps 8-bit or 4-bit outputs."""
    relu = rng.random() < 0.75
    bits = _pick(rng, [4, 8] if joined else [1, 2, 3, 4, 8, 8])
    return dict(
        activation=akida.ActivationType.ReLU if relu else akida.ActivationType.NoActivation,
        output_bits=bits,
        buffer_bits=_pick(rng, [28, 32, 20, 16]),
        post_op_buffer_bits=_pick(rng, [32, 28, 24, 16]),
        weights_bits=_pick(rng, [8, 8, 4, 2, 1]) if in_bits < 8 or rng.random() < 0.5 else 8,
    )


def _set(layer, name: str, values) -> None:
    var = layer.get_variable(name)
    layer.set_variable(name, np.asarray(values).reshape(var.shape).astype(var.dtype))


def randomize_layer(layer, rng, in_max: float) -> None:
    """Random parameters spreading the outputs over their range."""
    names = layer.get_variable_names()
    params = layer.parameters
    if "a_shift" in names:  # Add
        c = layer.get_variable("a_shift").shape
        _set(layer, "a_shift", rng.integers(0, 3, c))
        _set(layer, "b_shift", rng.integers(0, 3, c))
        _set(layer, "output_shift", rng.integers(-3, 2, c))
        return
    w = layer.get_variable("weights")
    low, high = WEIGHT_RANGES[int(params.weights_bits)]
    _set(layer, "weights", rng.integers(low, high + 1, w.shape))
    fan_in = int(np.prod(w.shape[:-1])) if w.shape[-1] != 1 else int(np.prod(w.shape[:2]))
    f = layer.get_variable("bias").shape
    x_scale = in_max
    if "input_shift" in names:
        shifts = rng.integers(0, 3, layer.get_variable("input_shift").shape) * (rng.random() < 0.5)
        _set(layer, "input_shift", shifts)
        x_scale *= 2 ** float(shifts.mean())
    if "padding_value" in names:
        pad = rng.integers(0, 256, layer.get_variable("padding_value").shape)
        _set(layer, "padding_value", pad * (rng.random() < 0.5))
    _set(layer, "bias", rng.integers(-128, 128, f) * (rng.random() < 0.7))
    _set(layer, "bias_shift", rng.integers(0, 10, f))
    spread = np.sqrt(fan_in) * max(abs(low), high) * x_scale / 2 + 1
    if "max_value" in names:
        top = rng.integers(0, 256, f)
        _set(layer, "max_value", top)
        _set(
            layer, "max_value_shift", np.clip(np.log2(spread / 128) + rng.integers(-1, 3, f), 0, 30)
        )
    scales = rng.integers(1, 256, f) if rng.random() < 0.7 else np.ones(f)
    _set(layer, "output_scales", scales)
    out_top = 2.0 ** (int(params.output_bits) - 1)
    shift = -np.round(np.log2(spread * scales / out_top)) + rng.integers(-2, 3, f)
    _set(layer, "output_shift", np.clip(shift, -62, 8))


def _out_max(layer) -> float:
    return 2.0 ** (int(layer.parameters.output_bits)) - 1


def _add(akida, rng, model, ltype: str, inbound, name: str, last: bool, fixed=None):
    """Add a random layer of ``ltype`` after ``inbound``; ``fixed`` overrides options."""
    shape = tuple(inbound.output_dims)
    in_max = _out_max(inbound) if inbound.parameters.layer_type.name != "InputData" else (
        2.0 ** inbound.parameters.input_bits - 1)  # fmt: skip
    options = _common(akida, rng, 8, fixed is not None)
    if ltype != "Dense1D" and fixed is None:
        options.update(_conv_options(akida, rng, ltype, shape, last))
    options.update(fixed or {})
    if ltype == "Dense1D":
        layer = akida.Dense1D(int(rng.integers(1, 9)), name=name, **options)
    elif ltype == "DepthwiseConv2D":
        layer = akida.DepthwiseConv2D(name=name, **options)
    else:
        layer = akida.Conv2D(name=name, **{"filters": int(rng.integers(1, 7)), **options})
    model.add(layer, inbound_layers=[inbound])
    randomize_layer(layer, rng, in_max)
    calibrate_layer(model, layer, rng)
    return layer


def _channel_quantile(v: np.ndarray, q: float) -> np.ndarray:
    return np.quantile(np.abs(v.reshape(-1, v.shape[-1])).astype(np.float64), q, axis=0) + 1


def calibrate_layer(model, layer, rng) -> None:
    """Cap and output shift from the layer's potentials on random inputs (the reference's
    arithmetic), so that outputs spread over their range rather than all 0 or saturated."""
    try:
        net = from_akida_v2_model(model)
    except AkidaV2ImportError:
        return
    x = engine_inputs(rng, model, 8)
    names = layer.get_variable_names()
    if "max_value" in names:
        v = net_forward(net, x)[layer.name][0]
        cap = _channel_quantile(np.maximum(v, 0), 0.9) * rng.uniform(0.3, 2, v.shape[-1])
        shift = np.clip(np.ceil(np.log2(np.maximum(cap, 1) / 255)), 0, 31)
        _set(layer, "max_value_shift", shift)
        _set(layer, "max_value", np.clip(np.rint(cap / 2**shift), 1, 255))
        net = from_akida_v2_model(model)
    record = next(r for r in net.layers if r.name == layer.name)
    a = net_forward(net, x)[layer.name][0]
    if record.activation:
        a = np.minimum(np.maximum(a, 0), record.max_value << record.max_value_shift)
    top = 2.0 ** (record.output_bits - (1 if record.output_signed else 0))
    m = _channel_quantile(a, 0.95) * record.output_scales
    shift = -np.ceil(np.log2(m / top)) + rng.integers(-1, 2, len(m))
    _set(layer, "output_shift", np.clip(shift, -62, 8))


def _join(akida, rng, model, inbound, k: int):
    """Two branches from ``inbound`` (same output shape and width) joined by Add or Concatenate."""
    join = _pick(rng, ["Add", "Concatenate"])
    ltype = _pick(rng, ["Conv2D", "DepthwiseConv2D"] if join == "Add" else ["Conv2D"])
    shape = tuple(inbound.output_dims)
    fixed = _conv_options(akida, rng, ltype, shape, False)
    fixed.update(output_bits=_pick(rng, [4, 8]))
    if join == "Add" and ltype == "Conv2D":
        fixed["filters"] = int(rng.integers(1, 7))
    a = _add(akida, rng, model, ltype, inbound, f"b{k}a", False, fixed)
    if fixed["padding"] == akida.Padding.Same and fixed["kernel_stride"] == 1:
        fixed["kernel_size"] = int(_pick(rng, [k for k in (1, 3, 5) if k <= min(shape[:2])]))
    b = _add(akida, rng, model, ltype, inbound, f"b{k}b", False, fixed)
    if join == "Add":
        layer = akida.Add(output_bits=_pick(rng, [8, 4]), name=f"j{k}",
                          buffer_bits=_pick(rng, [32, 20, 12]))  # fmt: skip
    else:
        layer = akida.Concatenate(name=f"j{k}")
    model.add(layer, inbound_layers=[a, b])
    if join == "Add":
        randomize_layer(layer, rng, 0)
    return layer


def random_engine_model(akida, rng, blocks: int):
    """A random v2 akida.Model of ``blocks`` blocks (a layer, or two branches joined by Add
    or Concatenate), or None where the engine refuses the draw."""
    model = akida.Model()
    try:
        if rng.random() < 0.4:
            c = int(_pick(rng, [1, 3]))
            shape = (int(rng.integers(3, 12)), int(rng.integers(3, 12)), c)
            common = _common(akida, rng, 8, False)
            common["weights_bits"] = 8
            options = _conv_options(akida, rng, "InputConv2D", shape, False)
            if options.get("pool_type") == akida.PoolType.Average:
                options.pop("pool_type")
            head = akida.InputConv2D(shape, filters=int(rng.integers(1, 7)), name="l0",
                                     **options, **common)  # fmt: skip
            model.add(head)
            randomize_layer(head, rng, 255)
        else:
            shape = (int(rng.integers(2, 12)), int(rng.integers(2, 12)), int(rng.integers(1, 6)))
            head = akida.InputData(shape, input_bits=int(_pick(rng, [1, 2, 3, 4])), name="input")
            model.add(head)
        last = head
        for k in range(blocks):
            end = k == blocks - 1
            flat = tuple(last.output_dims)[:2] == (1, 1)
            if rng.random() < 0.45 and not flat:
                last = _join(akida, rng, model, last, k)
            else:
                kinds = (
                    ["Conv2D", "DepthwiseConv2D", "Conv2D", "Dense1D"] if not flat else ["Dense1D"]
                )
                last = _add(akida, rng, model, _pick(rng, kinds), last, f"l{k + 1}", end)
        model.forward(np.zeros((1, *model.input_shape), np.uint8))
    except (RuntimeError, ValueError, TypeError):
        return None
    return model


def engine_inputs(rng, model, n: int) -> np.ndarray:
    """Random integer inputs of a model, about 30% zeros."""
    first = model.layers[0].parameters
    bits = 8 if first.layer_type.name == "InputConv2D" else int(first.input_bits)
    x = rng.integers(0, 2**bits, (n, *model.input_shape))
    return np.where(rng.random(x.shape) < 0.3, 0, x).astype(np.uint8)


def run_cases(cases: int, seed: int = 0, blocks=(1, 4), tensor: bool = True) -> dict:
    """Draw ``cases`` engine-accepted models; import, simulate and compare each.

    Returns counts: ``cases``, ``built``, ``matched`` (reference), ``tensor_matched``,
    ``refused`` (a Counter of reasons), ``kinds`` (a Counter of layer kinds and options)
    and ``mismatches`` (the seeds' case numbers that differ).
    """
    import akida

    rng = np.random.default_rng(seed)
    out = dict(cases=0, built=0, matched=0, tensor_matched=0, refused=Counter(),
               kinds=Counter(), mismatches=[])  # fmt: skip
    while out["cases"] < cases:
        model = random_engine_model(akida, rng, int(rng.integers(*blocks)))
        if model is None:
            continue
        out["cases"] += 1
        try:
            net = from_akida_v2_model(model)
        except AkidaV2ImportError as err:
            out["refused"][str(err).split(": ", 1)[-1].split(". Accepted")[0]] += 1
            continue
        out["built"] += 1
        x = engine_inputs(rng, model, 3)
        theirs = np.asarray(model.forward(x)).astype(np.int64).reshape(len(x), -1)
        ours = simulate(net, x).counts[net.layers[-1].name]
        ok = bool(np.array_equal(ours, theirs))
        out["matched"] += ok
        if tensor:
            tens = tensor_simulate(net, x).counts[net.layers[-1].name]
            out["tensor_matched"] += bool(np.array_equal(tens, theirs))
            ok = ok and bool(np.array_equal(tens, theirs))
        if not ok:
            out["mismatches"].append(out["cases"] - 1)
        for layer in net.layers:
            out["kinds"][layer.kind] += 1
            out["kinds"][f"pool {layer.pool}"] += layer.kind in ("input_conv", "conv", "depthwise")
            out["kinds"][f"output_bits {layer.output_bits}"] += 1
            out["kinds"]["activation"] += layer.activation
            out["kinds"][f"weight_bits {layer.weight_bits}"] += layer.kind not in ("add", "concat")
    return out
