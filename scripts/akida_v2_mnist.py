"""A ResNet and a MobileNet-style network on MNIST through Akida 2.0: float, converted, emulated, engine.

Trains each network (a few epochs on a subset of the MNIST test images, the rest held out),
converts it with ``to_akida(graph, version="v2")`` to 8-bit weights and activations, runs the
held-out images through the tensor device and BrainChip's engine (``akida.Model.forward`` of
the exported model) and checks that both agree integer for integer; prints the accuracies.

The ResNet has an identity block and a downsample block (strided 3x3 and a strided 1x1
shortcut); Akida 2.0's Add has no activation, so each residual sum is left without ReLU
(the next convolution reads the signed sum). Odd map sides keep torch's symmetric padding
of a strided convolution equal to TF-style 'same'.

    python scripts/akida_v2_mnist.py --epochs 2 --train 6000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

import converters
from converters.exports.akida_v2_export import akida_v2_forward, to_akida_v2_model
from converters.targets.akida import to_akida
from converters.training import accuracy, train
from converters.training.datasets import mnist
from emu.engines.akida_v2_tensor import simulate

__all__ = ["resnet_v2", "mobilenet_v2", "run"]


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


def run(arch: str, data, epochs: int, seed: int = 0, test: int | None = None) -> dict:
    """Train, convert, emulate and run in the engine; accuracies and the exactness check."""
    torch.manual_seed(seed)
    model = train(ARCHITECTURES[arch](), data.x_train, data.y_train, epochs=epochs, lr=2e-3,
                  batch_size=64, seed=seed)  # fmt: skip
    x, y = data.x_test[:test], data.y_test[:test]
    graph = converters.load(model, x[:1])
    net = to_akida(graph, data.x_train[:500], version="v2")
    levels = net.levels(x)
    ours = simulate(net, levels).counts[net.layers[-1].name]
    engine = to_akida_v2_model(net)
    theirs = np.concatenate([
        akida_v2_forward(net, levels[k : k + 500], engine).reshape(len(levels[k : k + 500]), -1)
        for k in range(0, len(levels), 500)
    ])  # fmt: skip
    return dict(
        float=accuracy(model, x, y),
        emulated=float(np.mean(ours.argmax(1) == y)),
        engine=float(np.mean(theirs.argmax(1) == y)),
        equal=bool(np.array_equal(ours, theirs)),
        kinds=sorted({layer.kind for layer in net.layers}),
        images=len(x),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train", type=int, default=6000, help="MNIST images to train on")
    parser.add_argument("--mnist", default=None, help="MNIST idx directory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = mnist(args.mnist, n_train=args.train, seed=args.seed)
    for arch in ARCHITECTURES:
        start = time.perf_counter()
        r = run(arch, data, args.epochs, args.seed)
        print(f"{arch}: float {r['float']:.4f}, Akida 2.0 emulated {r['emulated']:.4f}, engine "
              f"{r['engine']:.4f} on {r['images']} held-out images; outputs equal to the "
              f"engine's: {r['equal']}; layers {r['kinds']} ({time.perf_counter() - start:.0f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
