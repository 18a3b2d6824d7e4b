"""Normalization and Loihi quantization of the layer graph."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import converters
from converters.graph import Dense, Graph, Input
from converters.targets.conv_maps import as_matrix
from converters.targets.populations import populations
from emu import Emulation
from emu.engines import loihi_reference as ref


def test_populations_compose_linear_layers_exactly(digits_graph, digits):
    """Average pooling and flattening fold into projections (convolutions as kernel maps):
    relu(M a + b) reproduces the graph."""
    x = digits.x_test[:20]
    values = digits_graph.forward(x, keep_all=True)
    acts = {"input": x.reshape(len(x), -1) / digits_graph.input.scale}
    for pop in populations(digits_graph)[1:]:
        pre = (
            sum((acts[src] @ as_matrix(m).T.toarray()) for src, m in pop.inputs.items()) + pop.bias
        )
        acts[pop.name] = np.maximum(pre, 0) if pop.relu else pre
        np.testing.assert_allclose(acts[pop.name], values[pop.name].reshape(len(x), -1), atol=1e-9)


def test_normalization_keeps_predictions_and_scales_activations(digits, digits_model):
    graph = converters.load(digits_model, digits.x_train[:1])
    normalized = converters.normalize(graph, digits.x_train, percentile=99.0)
    np.testing.assert_array_equal(
        graph.forward(digits.x_test).argmax(1), normalized.forward(digits.x_test).argmax(1)
    )
    values = normalized.forward(digits.x_train, keep_all=True)
    for node in normalized.nodes[1:]:
        if getattr(node, "relu", False):
            assert np.percentile(values[node.name][values[node.name] > 0], 99.0) == pytest.approx(
                1.0, rel=1e-6
            )


def test_empty_or_non_finite_calibration_is_refused(digits_graph):
    with pytest.raises(ValueError, match="empty"):
        converters.normalize(digits_graph, np.zeros((0, 1, 8, 8)))
    bad = np.zeros((2, 1, 8, 8))
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        converters.normalize(digits_graph, bad)


def test_quantized_weights_lie_on_the_hardware_grid(digits_graph):
    net = converters.to_loihi(digits_graph, timesteps=32)
    for layer in net.layers:
        for p in layer.projections:
            assert p.weight_mant.min() >= -256 and p.weight_mant.max() <= 254
            assert np.all(p.weight_mant % 2 == 0)
            if p.weight_exp < 0:
                assert np.all(p.weight_mant % 2**-p.weight_exp == 0)
        assert layer.bias_mant.min() >= -4096 and layer.bias_mant.max() <= 4095


def test_quantization_that_saturates_warns_with_counts():
    graph = Graph(
        [
            Input("input", (2,)),
            Dense("d", ["input"], np.array([[1.0, 0.5]]), np.array([5000.0]), relu=True),
        ],
        "d",
    )
    with pytest.warns(UserWarning, match="clipped biases"):
        net = converters.to_loihi(graph, timesteps=8)
    assert net.report.clipped_biases["d"] == 1


def test_max_pooling_is_refused_for_loihi():
    from converters.graph import Flatten, MaxPool2d

    graph = Graph(
        [
            Input("input", (1, 4, 4)),
            MaxPool2d("mp", ["input"], (2, 2), (2, 2)),
            Flatten("f", ["mp"]),
            Dense("d", ["f"], np.ones((2, 4)), np.zeros(2)),
        ],
        "d",
    )
    with pytest.raises(ValueError, match="MaxPool2d"):
        converters.to_loihi(graph)


def test_bad_options_are_refused(digits_graph):
    with pytest.raises(ValueError, match="reset"):
        converters.to_loihi(digits_graph, reset="hard")
    with pytest.raises(ValueError, match="encoding"):
        converters.to_loihi(digits_graph, input_encoding="latency")
    with pytest.raises(ValueError, match="timesteps"):
        converters.to_loihi(digits_graph, timesteps=0)


def test_out_of_range_integer_parameters_are_refused():
    from converters.chips.loihi import LoihiLayer, LoihiProjection

    with pytest.raises(ValueError, match="weight_mant"):
        LoihiProjection("input", [0], [0], [300])
    with pytest.raises(ValueError, match="vth_mant"):
        LoihiLayer("l", 1, [], vth_mant=2**17)
    with pytest.raises(ValueError, match="decay_u"):
        LoihiLayer("l", 1, [], vth_mant=10, decay_u=5000)


def test_wrong_sample_shape_and_non_finite_inputs_are_refused(digits_graph):
    net = converters.to_loihi(digits_graph, timesteps=8)
    with pytest.raises(ValueError, match="expects"):
        net.input.levels(np.zeros((3, 1, 28, 28)))
    with pytest.raises(ValueError, match="NaN"):
        net.input.levels(np.full((1, 1, 8, 8), np.inf))


@pytest.mark.slow
def test_digits_snn_accuracy_is_within_1_5_points_of_the_dnn(
    digits, digits_graph, digits_model, cache_dir
):
    from converters import training

    dnn = training.accuracy(digits_model, digits.x_test, digits.y_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = converters.to_loihi(
            digits_graph, timesteps=128, reset="subtract", input_encoding="bias"
        )
    traces = Emulation(net, "cpp_standalone", cache_dir=cache_dir).run(digits.x_test, digits.y_test)
    snn = float(np.mean(traces["prediction"].values == digits.y_test))
    assert snn >= dnn - 0.015, f"SNN {snn:.4f} vs DNN {dnn:.4f}"
    expected = ref.simulate(net, net.input.levels(digits.x_test[:16]))
    np.testing.assert_array_equal(
        traces[f"spike_count_{net.output.name}"].values[:16], expected.counts[net.output.name]
    )
