"""Reference network architectures in their standard forms, for the demo, tests and scripts."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = [
    "digits_cnn",
    "lenet5",
    "vgg",
    "BasicBlock",
    "resnet",
    "depthwise_separable",
    "mobilenet",
    "two_conv_two_fc",
    "ARCHITECTURES",
]


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


def lenet5(pool: str = "avg") -> nn.Module:
    """LeNet-5 for 28x28 inputs: two 5x5 convolutions with pooling, three dense layers.

    ``pool`` is ``"avg"`` (converts for Loihi as it is) or ``"max"``.
    """
    if pool not in ("avg", "max"):
        raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")
    layer = nn.AvgPool2d if pool == "avg" else nn.MaxPool2d
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        layer(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        layer(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def vgg(
    channels: tuple[int, ...] = (8, 16), in_shape: tuple[int, int, int] = (1, 28, 28)
) -> nn.Module:
    """A VGG-style stack: blocks of two 3x3 conv + ReLU and a 2x2 average pool, then two dense."""
    layers: list[nn.Module] = []
    c_in, (h, w) = in_shape[0], in_shape[1:]
    for c in channels:
        layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU()]
        layers += [nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2)]
        c_in, h, w = c, h // 2, w // 2
    hidden = 4 * channels[-1]
    layers += [nn.Flatten(), nn.Linear(c_in * h * w, hidden), nn.ReLU(), nn.Dropout(0.2)]
    layers.append(nn.Linear(hidden, 10))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 conv + BatchNorm, added to a shortcut, then ReLU.

    With ``stride > 1`` or a change of width the shortcut is a strided 1x1 conv + BatchNorm
    (``downsample``), as in He et al. 2016 and torchvision.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


def resnet(channels: tuple[int, int] = (16, 32), in_channels: int = 1) -> nn.Module:
    """A small ResNet: strided 3x3 stem, an identity block, a strided downsample block,
    global average pooling, dropout and a linear classifier."""
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, 3, 2, 1, bias=False),
        nn.BatchNorm2d(c1),
        nn.ReLU(),
        BasicBlock(c1, c1),
        BasicBlock(c1, c2, stride=2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(c2, 10),
    )


def depthwise_separable(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """MobileNet's block: depthwise 3x3 (groups = channels) and pointwise 1x1, each BN + ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False),
        nn.BatchNorm2d(c_in),
        nn.ReLU(),
        nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


def mobilenet(channels: tuple[int, ...] = (16, 32, 64), in_channels: int = 1) -> nn.Module:
    """A MobileNet-style net: strided 3x3 stem, depthwise-separable blocks (the second
    strided), global average pooling, dropout and a linear classifier."""
    blocks = [
        depthwise_separable(a, b, 2 if k == 1 else 1)
        for k, (a, b) in enumerate(zip(channels[:-1], channels[1:], strict=True))
    ]
    return nn.Sequential(
        nn.Conv2d(in_channels, channels[0], 3, 2, 1, bias=False),
        nn.BatchNorm2d(channels[0]),
        nn.ReLU(),
        *blocks,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(channels[-1], 10),
    )


def two_conv_two_fc(channels: int = 1, size: int = 28, classes: int = 10) -> nn.Module:
    """2-conv + 2-FC CNN Akida can run: conv 3x3 16, max-pool 2, conv 3x3 32, max-pool 2,
    FC 128, FC ``classes`` (input ``size`` divisible by 4)."""
    if size % 4:
        raise ValueError(f"input size must be divisible by 4 (two 2x2 poolings), got {size}")
    return nn.Sequential(
        nn.Conv2d(channels, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * (size // 4) ** 2, 128),
        nn.ReLU(),
        nn.Linear(128, classes),
    )


ARCHITECTURES = {"lenet5": lenet5, "vgg": vgg, "resnet": resnet, "mobilenet": mobilenet}
