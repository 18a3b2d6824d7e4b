"""Akida 2.0-shaped networks for MNIST: a ResNet and a MobileNet-style network.

Akida 2.0's Add has no activation, so each residual sum is left without ReLU (the next
convolution reads the signed sum). Odd map sides keep torch's symmetric padding of a strided
convolution equal to TF-style 'same'. BatchNorm folds into the convolutions on import.
"""

from __future__ import annotations

from torch import nn

__all__ = ["resnet_v2", "mobilenet_v2", "ARCHITECTURES"]


def _conv(c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1, relu=True) -> list:
    """Conv + BatchNorm (folded into the conv on import) and a ReLU."""
    layers = [nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups), nn.BatchNorm2d(c_out)]
    return layers + [nn.ReLU()] if relu else layers


class _Residual(nn.Module):
    """``x + f(x)`` (no ReLU after the sum), the shortcut a strided 1x1 conv when downsampling."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            *_conv(c_in, c_out, 3, stride), *_conv(c_out, c_out, 3, relu=False)
        )
        self.shortcut = None
        if stride > 1 or c_in != c_out:
            self.shortcut = nn.Sequential(*_conv(c_in, c_out, 1, stride, relu=False))

    def forward(self, x):
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))


def resnet_v2(c1: int = 16, c2: int = 32) -> nn.Module:
    """Stem 3x3 + max pool (28 -> 14), conv + max pool (14 -> 7), an identity block, a
    downsample block (7 -> 4), a ReLU conv with global average pooling, a linear classifier."""
    return nn.Sequential(
        *_conv(1, c1, 3), nn.MaxPool2d(2), *_conv(c1, c1, 3), nn.MaxPool2d(2),
        _Residual(c1, c1), _Residual(c1, c2, stride=2),
        *_conv(c2, c2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c2, 10),
    )  # fmt: skip


def _separable(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    """Depthwise 3x3 (groups = channels) and pointwise 1x1, each BatchNorm + ReLU."""
    return _conv(c_in, c_in, 3, stride, groups=c_in) + _conv(c_in, c_out, 1)


def mobilenet_v2(channels: tuple[int, int, int] = (16, 32, 64)) -> nn.Module:
    """Stem 3x3 + max pool, depthwise-separable blocks (the second strided, 7 -> 4) with max
    pooling between, global average pooling after the last pointwise conv, a linear classifier."""
    a, b, c = channels
    return nn.Sequential(
        *_conv(1, a, 3), nn.MaxPool2d(2), *_separable(a, b), nn.MaxPool2d(2),
        *_separable(b, c, stride=2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10),
    )  # fmt: skip


ARCHITECTURES = {"resnet": resnet_v2, "mobilenet": mobilenet_v2}
