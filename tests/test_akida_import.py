"""Akida v1's whole layer set against BrainChip's engine: randomized engine models imported and
simulated, the refused 'same_upper' cases, and export and import both ways."""

import sys
from pathlib import Path

import numpy as np
import pytest

import converters.chips.akida as chip
from converters.chips.akida import AkidaLayer, AkidaNet, potentials
from converters.exports.akida_export import akida_forward, to_akida_model
from converters.frontends.akida_import import AkidaImportError, from_akida_model
from emu.crosscheck import akida_cases as cases
from emu.engines.akida_reference import simulate

akida = pytest.importorskip("akida")

sys.path.insert(0, str(Path(__file__).parent))
from test_akida_reference import draw, random_inputs  # noqa: E402

NEW_OPTIONS = ("separable", "padding same_upper", "padding_value > 0", "input stride > kernel",
               "8-bit weights")  # fmt: skip


def test_randomized_engine_models_import_and_match_forward():
    result = cases.run_cases(240, seed=7)
    assert result["cases"] == 240
    assert result["matched"] == result["built"] >= 200
    for reason in result["refused"]:
        assert "same_upper" in reason, reason
    for option in NEW_OPTIONS:
        assert result["kinds"][option] >= 10, (option, result["kinds"])


@pytest.mark.slow
def test_two_thousand_engine_models():
    result = cases.run_cases(2000, seed=1)
    assert result["matched"] == result["built"] >= 1800


def _same_upper_model(rng, kind: str):
    """A one-layer 'same_upper' engine model without activation (potentials out)."""
    shape = (int(rng.integers(1, 11)), int(rng.integers(1, 11)), int(rng.integers(1, 4)))
    kernel = tuple(int(rng.choice([k for k in (1, 3, 5) if k <= max(s, 1)])) for s in shape[:2])
    options = dict(padding=akida.Padding.SameUpper, weights_bits=8, activation=False,
                   kernel_stride=tuple(int(rng.integers(1, k + 1)) for k in kernel))  # fmt: skip
    if rng.random() < 0.6:
        size = tuple(int(rng.integers(1, 4)) for _ in "hw")
        options.update(pool_type=akida.PoolType.Max, pool_size=size,
                       pool_stride=tuple(int(rng.integers(1, s + 1)) for s in size))  # fmt: skip
    model = akida.Model()
    if kind == "input_conv":
        layer = akida.InputConvolutional(shape, kernel, 3, **options)
    else:
        model.add(akida.InputData(shape, input_bits=4))
        layer = akida.Convolutional(kernel, 3, **options)
    try:
        model.add(layer)
        cases.randomize_layer(layer, rng, 8 if kind == "input_conv" else 4)
        model.forward(np.zeros((1, *model.input_shape), np.uint8))
    except (RuntimeError, ValueError):
        return None
    return model


def test_refused_same_upper_cases_are_exactly_where_the_engine_is_wrong(monkeypatch):
    """Accepted 'same_upper' layers match the engine; every refused one, computed anyway,
    differs from it: the refusal covers the engine's defects and nothing more."""
    rng = np.random.default_rng(21)
    accepted = refused = 0
    while accepted + refused < 240:
        model = _same_upper_model(rng, str(rng.choice(["input_conv", "conv"])))
        if model is None:
            continue
        x = cases.engine_inputs(rng, model, 4)
        theirs = np.asarray(model.forward(x)).astype(np.int64)
        try:
            net = from_akida_model(model)
            accepted += 1
        except AkidaImportError as err:
            assert "same_upper" in str(err)
            with monkeypatch.context() as patch:
                patch.setattr(chip, "same_upper_defect", lambda layer: None)
                net = from_akida_model(model)
            refused += 1
            ours, _ = potentials(x.astype(np.int64), net.layers[0])
            assert not np.array_equal(ours, theirs), repr(net.layers[0])
            continue
        ours, _ = potentials(x.astype(np.int64), net.layers[0])
        np.testing.assert_array_equal(ours, theirs, err_msg=repr(net.layers[0]))
    assert accepted >= 100 and refused >= 30


def test_round_trips_are_exact(tmp_path):
    """net -> model -> net gives the same digest; model -> net -> model the same outputs,
    also through a saved .fbz file."""
    rng = np.random.default_rng(5)
    for k, net in enumerate(draw(31, 40, int(rng.integers(1, 4)))):
        model = to_akida_model(net)
        path = tmp_path / f"m{k}.fbz"
        model.save(str(path))
        for source in (model, path):
            back = from_akida_model(source, net.input_scale, net.input_name)
            assert back.digest() == net.digest()
        again = to_akida_model(from_akida_model(akida.Model(str(path))))
        x = random_inputs(rng, net, 3).astype(np.uint8)
        np.testing.assert_array_equal(again.forward(x), model.forward(x))


def test_input_convolution_padding_value_and_long_strides():
    rng = np.random.default_rng(2)
    weights = rng.integers(-128, 128, (3, 3, 1, 2)).astype(np.int8)
    layer = AkidaLayer("ic", "input_conv", (7, 8, 1), weights, np.zeros(2, np.int32), np.ones(2), 8, None,
                       stride=(5, 4), padding_value=200)  # fmt: skip
    assert layer.output_shape == (2, 2, 2)
    net = AkidaNet((7, 8, 1), 8, [layer])
    x = np.zeros((1, 7, 8, 1), np.int64)  # only the padded cells (value 200) contribute
    p = simulate(net, x).counts["ic"].reshape(2, 2, 2)
    # TF 'same': windows start at rows 0 and 5 (row 7 is the one padded), columns 0 and 4
    np.testing.assert_array_equal(p[0], 0)
    np.testing.assert_array_equal(p[1], 200 * weights[2, :, 0].sum(0)[None].repeat(2, 0))
    np.testing.assert_array_equal(p, akida_forward(net, x).reshape(2, 2, 2))
    with pytest.raises(ValueError, match="padding_value"):
        AkidaLayer("c", "conv", (7, 8, 1), weights, np.zeros(2, np.int32), np.ones(2), 8, None,
                   padding_value=1)  # fmt: skip


def test_separable_is_depthwise_then_pointwise():
    rng = np.random.default_rng(4)
    dw = rng.integers(-7, 8, (3, 3, 2, 1)).astype(np.int8)
    pw = rng.integers(-7, 8, (2, 5)).astype(np.int8)
    sep = AkidaLayer("s", "separable", (6, 6, 2), dw, np.zeros(5, np.int32), np.ones(5), 4, None,
                     pointwise=pw)  # fmt: skip
    x = rng.integers(0, 16, (3, 6, 6, 2))
    # one input channel at a time: the depthwise map of channel c times pointwise row c
    for c in range(2):
        xc = np.zeros_like(x)
        xc[..., c] = x[..., c]
        only = np.zeros_like(dw)
        only[:, :, c] = dw[:, :, c]
        single = AkidaLayer(
            "d", "conv", (6, 6, 2), only, np.zeros(1, np.int32), np.ones(1), 4, None
        )
        depth, _ = potentials(xc, single)
        p, _ = potentials(xc, sep)
        np.testing.assert_array_equal(p, depth * pw[c].astype(np.int64))
    net = AkidaNet((6, 6, 2), 4, [sep])
    np.testing.assert_array_equal(
        simulate(net, x).counts["s"], akida_forward(net, x).reshape(3, -1)
    )


def test_import_refuses_what_an_akida_net_cannot_hold():
    model = akida.Model()
    model.add(akida.InputConv2D((8, 8, 3), 4, 3))
    with pytest.raises(AkidaImportError, match="InputConv2D"):
        from_akida_model(model)
