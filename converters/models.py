"""Reference network architectures used by the demo, the tests and the scripts."""

from __future__ import annotations

from torch import nn

__all__ = ["digits_cnn", "lenet5"]


def digits_cnn(channels: int = 8) -> nn.Module:
    """A small CNN for 8x8 digits: conv 3x3, avg-pool, conv 3x3, dense."""
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(channels, 2 * channels, 3, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * channels * 4, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def lenet5() -> nn.Module:
    """LeNet-5 for 28x28 inputs: two 5x5 convolutions with average pooling, three dense layers."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )
