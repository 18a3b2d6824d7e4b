"""Quantization- and zero-aware training at Akida 2.0 widths: the trained network converts with
``to_akida(..., version="v2")`` to what it learned, and zero-aware residual networks stay alive."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

import converters
from converters.exports.akida_v2_export import akida_v2_forward, to_akida_v2_model
from converters.pipeline import akida_net
from converters.training import train
from converters.training.quantized_layers import AkidaV2Bits, QuantizedModel
from converters.training.zero_aware import ZeroAware
from emu.engines.akida_v2_tensor import simulate

akida = pytest.importorskip("akida")


def small_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 10),
    )  # fmt: skip


class _Block(nn.Module):
    """``x + conv(relu(conv(x)))`` with no ReLU after the sum (Akida 2.0's Add has none)."""

    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c),
        )  # fmt: skip

    def forward(self, x):
        return x + self.body(x)


def residual_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), _Block(8), _Block(8),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(16, 10),
    )  # fmt: skip


@pytest.fixture(scope="module")
def digits():
    return converters.training.datasets.digits()


def test_v2_fake_quantization_is_per_channel_8_bit_on_power_of_two_steps():
    torch.manual_seed(0)
    model = small_net()
    quantized = QuantizedModel(model, AkidaV2Bits())
    model.train()
    model(torch.rand(16, 1, 8, 8))
    for m in quantized.weighted:
        w = m.weight.detach().numpy().astype(np.float64)
        levels = w / (np.abs(w.reshape(len(w), -1)).max(axis=1) / 127).reshape(
            -1, *[1] * (w.ndim - 1)
        )
        np.testing.assert_allclose(levels, np.rint(levels), atol=1e-3)
    for q in quantized.activations.values():
        assert q.levels == 127 and float(torch.log2(q.step)) == round(float(torch.log2(q.step)))
    assert quantized.output.bias.requires_grad  # Akida 2.0's dense layer has a bias
    quantized.remove()
    assert not any(parametrize.is_parametrized(m) for m in quantized.weighted)
    with pytest.raises(ValueError, match="8-bit weights and activations"):
        AkidaV2Bits(weights=4)


@pytest.mark.slow
def test_v2_qat_network_converts_to_what_it_learned(digits):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = train(small_net(), digits, epochs=10, lr=5e-3, quantization=AkidaV2Bits())
    qat = model.training_report.accuracy
    net = akida_net(model, digits.x_train[:500], example=digits.x_test[:1], version="v2")
    levels = net.levels(digits.x_test)
    ours = simulate(net, levels).counts[net.layers[-1].name]
    theirs = akida_v2_forward(net, levels, to_akida_v2_model(net)).reshape(len(levels), -1)
    np.testing.assert_array_equal(ours, theirs)
    emulated = float(np.mean(ours.argmax(1) == digits.y_test))
    assert qat > 0.85 and abs(emulated - qat) <= 0.01, (qat, emulated)


@pytest.mark.slow
def test_zero_aware_residual_network_is_sparser_and_alive(digits):
    torch.set_num_threads(1)
    reports = []
    for zero_aware in (None, ZeroAware(activations=0.5, weights=0.05, warmup=2)):
        torch.manual_seed(0)
        model = train(residual_net(), digits, epochs=8, lr=5e-3, quantization=AkidaV2Bits(),
                      zero_aware=zero_aware)  # fmt: skip
        reports.append(model.training_report)
    plain, sparse = reports
    assert sparse.activation_fraction < 0.9 * plain.activation_fraction, (plain, sparse)
    assert sparse.accuracy > plain.accuracy - 0.05, (plain.accuracy, sparse.accuracy)
