"""Conversion of float graphs to Akida: whole networks against the engine, and refusals."""

import numpy as np
import pytest
import torch
from torch import nn

import converters
from converters.chips.akida import AkidaBits, AkidaLayer, AkidaNet
from converters.exports.akida_export import akida_forward
from converters.targets.akida import AkidaMappingError, to_akida
from converters.training import train
from emu import Emulation
from emu.engines import RunSettings
from emu.engines.akida_brian2 import AkidaBackend
from emu.engines.akida_reference import simulate

pytest.importorskip("akida")


def digits_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 12, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(48, 32),
        nn.ReLU(),
        nn.Linear(32, 10),
    )


@pytest.fixture(scope="module")
def digits():
    return converters.training.datasets.digits()


@pytest.fixture(scope="module")
def trained(digits):
    torch.manual_seed(0)
    model = train(digits_net(), digits, epochs=15, lr=5e-3, quantization=AkidaBits())
    graph = converters.load(model, torch.zeros(1, 1, 8, 8))
    return model, to_akida(graph, digits.x_train)


def test_converted_network_matches_engine_and_qat_model(trained, digits):
    model, net = trained
    levels = net.levels(digits.x_test)
    record = simulate(net, levels)
    ours = record.counts[net.layer_names[-1]]
    np.testing.assert_array_equal(ours, akida_forward(net, levels).reshape(len(levels), -1))
    akida_accuracy = np.mean(ours.argmax(1) == digits.y_test)
    assert model.training_report.accuracy > 0.85
    assert abs(akida_accuracy - model.training_report.accuracy) < 0.03
    assert [layer.kind for layer in net.layers] == ["input_conv", "conv", "dense", "dense"]
    assert [layer.pool for layer in net.layers] == ["max", "max", "none", "none"]
    assert net.input_bits == 8 and net.layers[-1].act_bits is None


def test_converted_network_on_brian2_runtime(trained, digits, tmp_path):
    _, net = trained
    levels = net.levels(digits.x_test[:40])
    backend = AkidaBackend(net, RunSettings("runtime", cache_dir=tmp_path))
    record = backend.run_batch(backend.encode(digits.x_test[:40]))
    reference = simulate(net, levels)
    for name in net.layer_names:
        np.testing.assert_array_equal(record.counts[name], reference.counts[name])


def test_converted_network_on_the_tensor_device(trained, digits):
    """Batches of a trained, converted network on the BLAS device equal the numpy reference.

    (cpp_standalone runs the randomized layer cases of ``test_akida_backend``.)
    """
    _, net = trained
    samples = digits.x_test[:200]
    reference = simulate(net, net.levels(samples))
    traces = Emulation(net, device="tensor", batch_size=100).run(samples)
    for name in net.layer_names:
        np.testing.assert_array_equal(traces[f"spike_count_{name}"].values, reference.counts[name])


def test_fully_connected_rows_follow_the_engine_order():
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 5, 4, bias=False)
    )
    x = torch.rand(6, 1, 4, 5)
    graph = converters.load(model, x[:1])
    net = to_akida(graph, x.numpy(), AkidaBits(weights=4, activations=4))
    dense = net.layers[1]
    w = graph.node(graph.nodes[-1].name).weight  # [4, C*H*W], torch's flatten order
    scale = np.abs(w).max() / 7
    h, w_, c = 4, 5, 3
    for row in range(h * w_ * c):
        hh, ww, cc = row % h, (row // h) % w_, row // (h * w_)
        torch_column = cc * h * w_ + hh * w_ + ww
        np.testing.assert_array_equal(dense.weights[row], np.rint(w[:, torch_column] / scale))


def _graph(model: nn.Module, shape=(1, 1, 8, 8)):
    return converters.load(model, torch.zeros(*shape))


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                       nn.Linear(64, 10, bias=False)), "average pooling"),
        (nn.Sequential(nn.Conv2d(1, 4, 5, stride=2, padding=2), nn.ReLU(), nn.Flatten(),
                       nn.Linear(64, 10, bias=False)), "stride 2 with a 5x5 kernel"),
        (nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(),
                       nn.Linear(16, 10, bias=False)), "max pooling"),
        (nn.Sequential(nn.Conv2d(1, 4, 2), nn.ReLU(), nn.Flatten(),
                       nn.Linear(196, 10, bias=False)), "kernel 2x2"),
        (nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1,
                       groups=4), nn.ReLU(), nn.Flatten(), nn.Linear(256, 10, bias=False)),
         "grouped convolution"),
    ],
)  # fmt: skip
def test_layers_akida_cannot_map_are_refused_by_name(model, match):
    graph = _graph(model)
    with pytest.raises(AkidaMappingError, match=match) as info:
        to_akida(graph, np.random.default_rng(0).random((4, 1, 8, 8)))
    assert "Accepted" in str(info.value) and info.value.node in [n.name for n in graph.nodes]


def test_activations_not_relu_like_are_refused():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Linear(16, 10, bias=False))
    with pytest.raises(AkidaMappingError, match="not ReLU-like"):
        to_akida(_graph(model), np.random.default_rng(0).random((4, 1, 8, 8)))


def test_output_bias_is_refused_unless_dropped():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))
    x = np.random.default_rng(0).random((4, 1, 8, 8))
    with pytest.raises(AkidaMappingError, match="no bias"):
        to_akida(_graph(model), x)
    net = to_akida(_graph(model), x, drop_output_bias=True)
    assert net.layers[0].kind == "dense" and net.input_bits == 4


def test_residual_add_is_refused():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(1, 1, 3, padding=1)
            self.b = nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x):
            return torch.relu(self.b(torch.relu(self.a(x))) + x)

    with pytest.raises(AkidaMappingError, match="single chain"):
        to_akida(_graph(Residual()), np.random.default_rng(0).random((4, 1, 8, 8)))


def test_one_bit_weights_must_not_be_negative():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10, bias=False))
    with pytest.raises(AkidaMappingError, match="negative weights at 1 bit"):
        to_akida(_graph(model), np.random.default_rng(0).random((4, 1, 8, 8)), AkidaBits(weights=1))


@pytest.mark.parametrize(("bits", "bad"), [(4, 8), (4, -8), (2, 2), (1, -1), (8, 128)])
def test_weights_outside_the_bit_width_are_refused(bits, bad):
    weights = np.zeros((4, 3), np.int8 if bad < 128 else np.int16)
    weights[1, 2] = bad
    with pytest.raises(ValueError, match=r"weights must be integers in"):
        AkidaLayer("d", "dense", (1, 1, 4), weights, np.zeros(3, np.int32),
                   np.ones(3, np.float32), bits, 4)  # fmt: skip


def test_float_weights_and_bad_parameters_are_refused():
    ok = dict(threshold=np.zeros(3, np.int32), act_step=np.ones(3, np.float32), weight_bits=4)
    with pytest.raises(ValueError, match="integers"):
        AkidaLayer("d", "dense", (1, 1, 4), np.full((4, 3), 0.5), act_bits=4, **ok)
    with pytest.raises(ValueError, match="act_step"):
        AkidaLayer("d", "dense", (1, 1, 4), np.zeros((4, 3), np.int8), act_bits=4,
                   threshold=ok["threshold"], act_step=np.full(3, 0.01), weight_bits=4)  # fmt: skip
    with pytest.raises(ValueError, match="odd kh"):
        AkidaLayer("c", "conv", (5, 5, 1), np.zeros((2, 2, 1, 3), np.int8), act_bits=4, **ok)
    with pytest.raises(ValueError, match="activations must be"):
        AkidaBits(activations=8)
    layer = AkidaLayer("d", "dense", (1, 1, 4), np.zeros((4, 3), np.int8), act_bits=None, **ok)
    with pytest.raises(ValueError, match="input_bits"):
        AkidaNet((1, 1, 4), 8, [layer])


def test_digest_follows_every_parameter(trained):
    _, net = trained
    before = net.digest()
    net.layers[1].threshold[0] += 1
    assert net.digest() != before
    net.layers[1].threshold[0] -= 1
    assert net.digest() == before


def test_centred_stride_two_padding_maps_to_same_upper():
    """torch's padding=1 at stride 2 on an even map centres the windows: 'same_upper'."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(),
                          nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(24, 5, bias=False))  # fmt: skip
    x = torch.rand(40, 1, 8, 8)
    net = to_akida(_graph(model), x.numpy())
    assert [layer.padding for layer in net.layers[:2]] == ["same_upper", "same_upper"]
    levels = net.levels(x.numpy())
    ours = simulate(net, levels).counts[net.layers[-1].name]
    np.testing.assert_array_equal(ours, akida_forward(net, levels).reshape(len(x), -1))
    with torch.no_grad():
        agree = np.mean(ours.argmax(1) == model(x).numpy().argmax(1))
    assert agree > 0.6


def test_same_upper_where_the_engine_is_wrong_is_refused():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(16, 5, bias=False))  # fmt: skip
    with pytest.raises(AkidaMappingError, match="same_upper' max pooling is wrong"):
        to_akida(_graph(model), np.random.default_rng(0).random((4, 1, 8, 8)))
