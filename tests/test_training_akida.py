"""Quantization-aware and zero-aware training for Akida, and the report after training."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

import converters
from converters.chips.akida import AkidaBits
from converters.training import train
from converters.training.quantized_layers import round_ste
from converters.training.zero_aware import ActivationRecorder, ZeroAware, sparsity


def small_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 32),
        nn.ReLU(),
        nn.Linear(32, 10),
    )


@pytest.fixture(scope="module")
def digits():
    return converters.training.datasets.digits()


@pytest.fixture(scope="module")
def pair(digits):
    """The same network, seed and epochs, trained plain (QAT) and zero-aware."""
    models = []
    for zero_aware in (None, ZeroAware(activations=0.05, weights=0.05)):
        torch.manual_seed(0)
        models.append(
            train(
                small_net(),
                digits,
                epochs=8,
                lr=5e-3,
                quantization=AkidaBits(),
                zero_aware=zero_aware,
            )  # fmt: skip
        )
    return models


def test_qat_leaves_a_plain_model_with_weights_on_the_grid(pair):
    model = pair[0]
    weighted = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    for k, m in enumerate(weighted):
        assert not parametrize.is_parametrized(m)
        top = 127 if k == 0 else 7  # the input convolution keeps 8-bit weights
        w = m.weight.detach().numpy().astype(np.float64)
        levels = w / (np.abs(w).max() / top)
        np.testing.assert_allclose(levels, np.rint(levels), atol=1e-3)
        assert np.abs(levels).max() <= top + 1e-3
    assert not weighted[-1].bias.detach().any()
    assert all(not m._forward_hooks for m in model.modules())


def test_report_after_training(pair, digits):
    report = pair[0].training_report
    assert 0.8 < report.accuracy <= 1
    assert set(report.activations) == {"1", "5"} and set(report.weights) == {"0", "4", "6"}
    assert all(0 < v <= 1 for v in report.activations.values())
    assert "non-zero activations" in str(report)
    again = sparsity(pair[0], digits.x_test, digits.y_test)  # float activations now
    assert again.weights == report.weights


def test_zero_aware_training_is_sparser(pair):
    plain, sparse = (m.training_report for m in pair)
    assert sparse.activation_fraction < 0.95 * plain.activation_fraction
    assert sparse.weight_fraction < 0.8 * plain.weight_fraction
    assert sparse.accuracy > plain.accuracy - 0.05


def test_positional_signature_and_float_training(digits):
    torch.manual_seed(0)
    model = train(small_net(), digits.x_train, digits.y_train, 2)
    assert model.training_report.accuracy > 0.5
    assert any(m.bias.detach().any() for m in model.modules() if isinstance(m, nn.Linear))


def test_bad_options_are_refused(digits):
    with pytest.raises(ValueError, match=">= 0"):
        ZeroAware(activations=-1.0)
    with pytest.raises(ValueError, match="warmup"):
        ZeroAware(activations=1.0, warmup=-1)
    with pytest.raises(ValueError, match="labels"):
        train(small_net(), digits.x_train)
    with pytest.raises(ValueError, match="weights must be 1, 2 or 4"):
        AkidaBits(weights=3)


def test_round_ste_passes_gradients_straight_through():
    x = torch.tensor([0.2, 1.6, -2.4], requires_grad=True)
    y = round_ste(x)
    y.sum().backward()
    assert y.tolist() == [0.0, 2.0, -2.0]
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


def test_penalty_warmup_is_a_linear_ramp():
    assert [ZeroAware(1, 1, warmup=2).ramp(t) for t in (0, 0.5, 2, 3)] == [0, 0.25, 1, 1]
    assert ZeroAware(1, 1, warmup=0).ramp(0) == 1


def test_activation_penalty_is_a_log_sum_over_all_neurons_above_zero():
    """[k > 0] log(1 + k) averaged over every neuron of every layer; outputs that already
    round to zero get no gradient, the others 1 / (1 + k) per step a."""
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1), nn.ReLU())
    recorder = ActivationRecorder(model)
    a = torch.tensor([0.0, 0.5, 1.0, 3.0], requires_grad=True)  # layer "1", 4 neurons
    b = torch.tensor([2.0], requires_grad=True)  # layer "3", 1 neuron
    recorder.outputs = {"1": a[None], "3": b[None]}
    step_a, step_b = a.detach().mean(), b.detach().mean()  # unquantized: the batch means
    value = recorder.penalty()
    ka, kb = a.detach() / step_a, b.detach() / step_b
    expected = (torch.log1p(ka[1:]).sum() + torch.log1p(kb).sum()) / 5
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
    value.backward()
    assert a.grad[0] == 0 and (a.grad[1:] > 0).all() and b.grad[0] > 0
    recorder.remove()
