"""Akida 2.0 records, numpy reference and tensor device against BrainChip's engine, and interchange."""

import numpy as np
import pytest

from converters.chips.akida_v2 import AkidaV2Layer, AkidaV2Net, shift_round
from converters.exports.akida_v2_export import akida_v2_forward, to_akida_v2_model
from converters.frontends.akida_import import AkidaImportError, from_akida_model
from converters.frontends.akida_v2_import import AkidaV2ImportError, from_akida_v2_model
from emu.crosscheck import akida_v2_cases as cases
from emu.engines import akida_v2_reference, akida_v2_tensor

akida = pytest.importorskip("akida")


def _models(seed: int, count: int, blocks=(1, 4)):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        model = cases.random_engine_model(akida, rng, int(rng.integers(*blocks)))
        if model is not None:
            out.append((model, cases.engine_inputs(rng, model, 3)))
    return out


@pytest.mark.slow
def test_randomized_engine_cases_match_on_reference_and_tensor_device():
    result = cases.run_cases(520, seed=26)
    assert result["built"] >= 500
    assert result["matched"] == result["built"], result["mismatches"]
    assert result["tensor_matched"] == result["built"], result["mismatches"]
    kinds = result["kinds"]
    for key in ("input_conv", "conv", "depthwise", "dense", "add", "concat", "pool max",
                "pool global_avg", "pool none", "activation", "weight_bits 1", "weight_bits 2",
                "weight_bits 4", "weight_bits 8", "output_bits 1", "output_bits 4",
                "output_bits 8"):  # fmt: skip
        assert kinds[key] >= 10, key


def test_outputs_spread_over_their_range():
    """The random parameters exercise the arithmetic: outputs vary, not all zero or saturated."""
    distinct = []
    models = _models(3, 60)
    for model, x in models:
        net = from_akida_v2_model(model)
        out = akida_v2_reference.simulate(net, x).counts[net.layers[-1].name]
        distinct.append(len(np.unique(out)))
    distinct = np.array(distinct)
    assert np.mean(distinct >= 2) >= 0.75 and np.mean(distinct >= 3) >= 0.45


def test_tensor_device_runs_large_batches_exactly():
    for model, _ in _models(4, 10, blocks=(2, 4)):
        net = from_akida_v2_model(model)
        x = cases.engine_inputs(np.random.default_rng(0), model, 64)
        assert all(akida_v2_tensor.exact_in_float(net).values())
        ours = akida_v2_tensor.simulate(net, x, probe=True)
        ref = akida_v2_reference.simulate(net, x, probe=True)
        for name in net.layer_names:
            np.testing.assert_array_equal(ours.counts[name], ref.counts[name])
        np.testing.assert_array_equal(
            ours.counts[net.layers[-1].name], akida_v2_forward(net, x, model).reshape(64, -1)
        )


def test_fbz_and_export_round_trips_are_exact(tmp_path):
    for k, (model, x) in enumerate(_models(5, 25, blocks=(2, 5))):
        net = from_akida_v2_model(model)
        path = tmp_path / f"m{k}.fbz"
        model.save(str(path))
        assert from_akida_v2_model(path).digest() == net.digest()
        back = to_akida_v2_model(net)
        assert from_akida_v2_model(back).digest() == net.digest()
        np.testing.assert_array_equal(akida_v2_forward(net, x, back), model.forward(x))


def _dense(name, inbound, shape, units, **kw):
    n = int(np.prod(shape))
    params = dict(
        weights=np.ones((n, units), np.int8),
        bias=np.zeros(units, np.int8),
        bias_shift=np.zeros(units, np.uint8),
        input_shift=np.zeros(n, np.uint8),
        output_scales=np.ones(units, np.uint8),
        output_shift=np.zeros(units, np.int8),
    )
    params.update(kw)
    return AkidaV2Layer(name, "dense", (inbound,), (shape,), **params)


def test_output_shift_rounds_half_up():
    q = np.array([-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(shift_round(q, -1), [-2, -2, -1, -1, 0, 0, 1, 1, 2, 2, 3])
    np.testing.assert_array_equal(shift_round(q, 2), q * 4)


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_quirks_match_the_engine(bits):
    """Rounding of negative output shifts, unsigned outputs below 8 bits without activation,
    the Add's signed clip whatever its width, the dense row-major flatten."""
    rng = np.random.default_rng(bits)
    shape = (2, 3, 2)
    weights = rng.integers(-128, 128, (12, 4)).astype(np.int8)
    shift = np.array([-1, -3, -6, 0], np.int8)
    a = _dense("a", "x", shape, 4, weights=weights, output_shift=shift, output_bits=bits)
    b = _dense("b", "x", shape, 4, output_shift=shift, output_bits=bits)
    add = AkidaV2Layer("j", "add", ("a", "b"), ((1, 1, 4), (1, 1, 4)), output_bits=4,
                       a_shift=np.array([0, 1, 2, 0]), b_shift=np.array([1, 0, 0, 3]),
                       output_shift=np.array([-1, 0, -2, 1]))  # fmt: skip
    net = AkidaV2Net(shape, 4, [a, b, add], input_name="x")
    x = rng.integers(0, 16, (40, *shape))
    for end in ("a", "j"):
        sub = AkidaV2Net(shape, 4, net.layers[: 1 if end == "a" else 3], input_name="x")
        ours = akida_v2_reference.simulate(sub, x).counts[end]
        np.testing.assert_array_equal(ours, akida_v2_forward(sub, x).reshape(len(x), -1))
    out = akida_v2_reference.simulate(net, x).counts["j"]
    assert out.max() == 7 and (out.min() == -8) == (bits == 8)  # the Add is signed at 4 bits
    a_out = akida_v2_reference.simulate(net, x).counts["a"]
    assert (a_out.min() >= 0) == (bits < 8)


def test_temporal_and_other_layers_are_refused_in_one_line():
    model = akida.Model()
    model.add(akida.InputData((4, 4, 2), input_bits=4, name="x"))
    model.add(akida.BufferTempConv(3, 2, name="t"))
    with pytest.raises(AkidaV2ImportError) as err:
        from_akida_v2_model(model)
    message = str(err.value)
    assert "\n" not in message and "'t'" in message and "FIFO of past frames" in message


def test_v1_importer_points_to_the_v2_importer():
    model = akida.Model()
    model.add(akida.InputConv2D((8, 8, 3), 4, 3, name="c"))
    with pytest.raises(AkidaImportError, match="InputConv2D of Akida 2.0"):
        from_akida_model(model)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(output_shift=np.array([40, 0, 0, 0])), "output_shift"),
        (dict(input_shift=np.full(12, 33)), "input_shift must be 12 integers in 0..31, got shape"),
        (dict(weight_bits=4), "4-bit weights must be in -8..7"),
        (dict(buffer_bits=40), "widths must be 1..32 bits"),
    ],
)
def test_records_refuse_bad_parameters_in_one_line(change, message):
    weights = np.full((12, 4), 100, np.int8)
    with pytest.raises(ValueError, match=message) as err:
        _dense("d", "x", (2, 3, 2), 4, **{"weights": weights, **change})
    assert "\n" not in str(err.value)


def test_graph_refuses_unknown_inbounds():
    d = _dense("d", "y", (1, 1, 3), 2)
    with pytest.raises(ValueError, match="inbounds \\['y'\\] are not earlier layers"):
        AkidaV2Net((1, 1, 3), 4, [d], input_name="x")
