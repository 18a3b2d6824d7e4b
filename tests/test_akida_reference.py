"""The numpy reference of Akida layers against BrainChip's engine on randomized layers."""

import numpy as np
import pytest

from converters.chips.akida import AkidaLayer, AkidaNet, activate, same_padding, weight_range
from converters.exports.akida_export import akida_forward, to_akida_model
from emu.engines.akida_reference import simulate

akida = pytest.importorskip("akida")

WEIGHT_BITS = (1, 2, 4, 8)
ACT_BITS = (1, 2, 4, None)


def random_layer(rng, kind: str, input_shape, in_bits: int, name: str, last: bool) -> AkidaLayer:
    """A valid random layer whose thresholds and steps put outputs across their range.

    Draws every v1 option: separable layers, 'same_upper' padding, the input convolution's
    padding value and strides beyond its kernel, 8-bit weights on every kind.
    """
    h, w, c = input_shape
    wb = int(rng.choice(WEIGHT_BITS))
    ab = ACT_BITS[rng.integers(4)] if last else int(rng.choice(ACT_BITS[:3]))
    low, high = weight_range(wb)
    f = int(rng.integers(1, 7))
    kw: dict = {}
    if kind == "dense":
        weights = rng.integers(low, high + 1, (h * w * c, f))
        fan_in = h * w * c
    else:
        k = int(rng.choice([k for k in (1, 3, 5) if k <= min(h, w)]))
        fan_in = k * k * c
        if kind == "separable":
            weights = rng.integers(low, high + 1, (k, k, c, 1))
            kw["pointwise"] = rng.integers(low, high + 1, (c, f)).astype(np.int8)
            fan_in *= c
        else:
            weights = rng.integers(low, high + 1, (k, k, c, f))
        top = k + 3 if kind == "input_conv" else k
        kw["stride"] = (int(rng.integers(1, top + 1)),) * 2
        kw["padding"] = str(rng.choice(["same", "valid", "same_upper"]))
        kw["pool"] = str(rng.choice(["none", "max", "global_avg"] if last else ["none", "max"]))
        if kind == "input_conv" and rng.random() < 0.5:
            kw["padding_value"] = int(rng.integers(0, 256))
        if kw["pool"] == "max":
            size = int(rng.integers(1, 4))
            kw["pool_size"] = (size, size)
            kw["pool_stride"] = (int(rng.integers(1, size + 1)),) * 2
    spread = np.sqrt(fan_in) * max(high, 1) * (2**in_bits - 1) / 2 + 1
    threshold = rng.integers(-int(spread), int(spread) + 1, f)
    act_step = np.maximum(np.floor(rng.uniform(0, spread / 4, f) * 16) / 16, 1 / 16)
    return AkidaLayer(
        name, kind, input_shape, weights.astype(np.int8), threshold, act_step, wb, ab, **kw
    )


def random_net(rng, depth: int) -> AkidaNet | None:
    """A random valid chain of ``depth`` layers, or None when the draw is not valid."""
    first = str(rng.choice(["input_conv", "conv", "separable", "dense"]))
    in_bits = 8 if first == "input_conv" else int(rng.choice([1, 2, 4]))
    c = int(rng.choice([1, 3])) if first == "input_conv" else int(rng.integers(1, 6))
    hw = (1, 4) if first == "dense" and depth == 1 else (3, 10)
    shape = (int(rng.integers(*hw)), int(rng.integers(*hw)), c)
    layers, bits, kind = [], in_bits, first
    try:
        for k in range(depth):
            layer = random_layer(rng, kind, shape, bits, f"l{k}", k == depth - 1)
            layers.append(layer)
            shape, bits = layer.output_shape, layer.act_bits
            kind = str(rng.choice(["conv", "separable", "dense"])) if kind != "dense" else "dense"
            if shape[0] * shape[1] * shape[2] > 400:
                kind = "conv" if k < depth - 2 else kind
        return AkidaNet(layers[0].input_shape, in_bits, layers)
    except ValueError:
        return None


def random_inputs(rng, net: AkidaNet, n: int) -> np.ndarray:
    x = rng.integers(0, 2**net.input_bits, (n, *net.input_shape))
    return np.where(rng.random(x.shape) < 0.3, 0, x)  # some zeros: sparse events


def draw(seed: int, count: int, depth: int) -> list[AkidaNet]:
    rng = np.random.default_rng(seed)
    nets: list[AkidaNet] = []
    while len(nets) < count:
        net = random_net(rng, depth)
        if net is not None:
            nets.append(net)
    return nets


def test_single_layers_match_akida():
    rng = np.random.default_rng(11)
    nets = draw(1, 240, 1)
    kinds = {(n.layers[0].kind, n.layers[0].pool, n.layers[0].weight_bits) for n in nets}
    assert len(kinds) >= 20  # conv, input conv, dense, every pooling and weight width drawn
    assert {n.layers[0].act_bits for n in nets} == set(ACT_BITS)
    nonzero = 0
    for net in nets:
        x = random_inputs(rng, net, 3)
        ours = simulate(net, x).counts[net.layers[0].name]
        theirs = akida_forward(net, x).reshape(3, -1)
        np.testing.assert_array_equal(ours, theirs, err_msg=repr(net.layers[0]))
        nonzero += np.count_nonzero(ours)
    assert nonzero > 0


def test_layer_chains_match_akida():
    rng = np.random.default_rng(12)
    for net in draw(2, 40, 3):
        x = random_inputs(rng, net, 2)
        ours = simulate(net, x).counts[net.layers[-1].name]
        np.testing.assert_array_equal(ours, akida_forward(net, x).reshape(2, -1))


@pytest.mark.parametrize("pool", ["none", "max", "global_avg", "dense"])
def test_twenty_bit_saturation_matches_akida(pool):
    rng = np.random.default_rng(3)
    if pool == "dense":
        shape, weights, kw = (1, 1, 1200), rng.integers(-128, 128, (1200, 4)), {}
        weights[:, :2] = np.abs(weights[:, :2])  # two neurons saturate high
    else:
        shape, weights = (6, 6, 120), rng.integers(-128, 128, (3, 3, 120, 4))
        weights[..., 0] = np.abs(weights[..., 0])
        kw = dict(pool=pool, pool_size=(2, 2), pool_stride=(2, 2)) if pool == "max" else {}
        kw = dict(pool="global_avg") if pool == "global_avg" else kw
    layer = AkidaLayer("s", "dense" if pool == "dense" else "conv", shape, weights.astype(np.int8),
                       np.zeros(4, np.int32), np.ones(4, np.float32), 8, None, **kw)  # fmt: skip
    net = AkidaNet(shape, 4, [layer])
    x = rng.integers(8, 16, (3, *shape))
    record = simulate(net, x)
    theirs = akida_forward(net, x).reshape(3, -1)
    np.testing.assert_array_equal(record.counts["s"], theirs)
    if pool == "none":  # unpooled convolution potentials are not clipped
        assert theirs.max() > 2**19 - 1
    else:
        assert theirs.max() == 2**19 - 1
    if pool in ("max", "dense"):
        assert record.saturation[1, 1] > 0


def test_activation_rule_is_ceil_of_the_scaled_excess():
    layer = AkidaLayer("a", "dense", (1, 1, 1), np.ones((1, 2), np.int8), np.array([3, 3]),
                       np.array([1.0, 2.5]), 4, 2)  # fmt: skip
    p = np.arange(-2, 30)[:, None].repeat(2, axis=1)
    out = activate(p, layer)
    # S = floor(16 act_step) * 4: 64 and 160; out = ceil(16 (p - 3) / S), in 0..3
    expected0 = np.clip(np.ceil(16 * (p[:, 0] - 3) / 64), 0, 3)
    expected1 = np.clip(np.ceil(16 * (p[:, 1] - 3) / 160), 0, 3)
    np.testing.assert_array_equal(out[:, 0], expected0)
    np.testing.assert_array_equal(out[:, 1], expected1)


def test_same_padding_puts_the_extra_cell_at_the_end():
    assert same_padding(28, 3, 2) == (0, 1)
    assert same_padding(9, 3, 1) == (1, 1)
    assert same_padding(5, 1, 1) == (0, 0)


def test_record_counts_events_and_potentials():
    net = draw(5, 1, 2)[0]
    x = random_inputs(np.random.default_rng(0), net, 4)
    record = simulate(net, x, probe=True, record_events=True)
    for k, name in enumerate(net.layer_names):
        np.testing.assert_array_equal(
            record.spikes_per_step[:, 0, k], np.count_nonzero(record.counts[name], axis=1)
        )
    sample, step, layer, neuron = record.events
    assert len(sample) == record.spikes_per_step.sum() and not step.any()
    values = np.array([record.counts[net.layer_names[li]][s, i] for s, li, i in
                       zip(sample, layer, neuron, strict=True)])  # fmt: skip
    assert np.all(values != 0)
    last = net.layers[-1]
    assert record.probes[f"{last.name}.potential"].shape == (4, 1, int(np.prod(last.output_shape)))


def test_export_copies_every_parameter():
    net = draw(6, 1, 3)[0]
    model = to_akida_model(net)
    for layer, ak in zip(net.layers, model.layers[-len(net.layers) :], strict=True):
        np.testing.assert_array_equal(
            ak.get_variable("weights").reshape(layer.weights.shape), layer.weights
        )
        np.testing.assert_array_equal(ak.get_variable("threshold"), layer.threshold)
        np.testing.assert_array_equal(ak.get_variable("act_step"), layer.act_step)
