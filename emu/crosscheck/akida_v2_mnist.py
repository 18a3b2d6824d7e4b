"""A ResNet and a MobileNet-style network on MNIST through Akida 2.0: float, converted, emulated, engine.

Trains each network (a few epochs on a subset of the MNIST test images, the rest held out),
converts it with ``to_akida(graph, version="v2")`` to 8-bit weights and activations, runs the
held-out images through the tensor device and BrainChip's engine (``akida.Model.forward`` of
the exported model) and checks that both agree integer for integer, with the accuracies.

The networks are :mod:`converters.training.akida_v2_models`'s: the ResNet has an identity block and
a downsample block (strided 3x3 and a strided 1x1 shortcut), its residual sums without ReLU.

From the command line: ``python scripts/akida_v2_mnist.py --epochs 2 --train 6000``.
"""

from __future__ import annotations

import numpy as np
import torch

from converters.exports.akida_v2_export import akida_v2_forward, to_akida_v2_model
from converters.pipeline import akida_net
from converters.training import accuracy, train
from converters.training.akida_v2_models import ARCHITECTURES
from emu.engines.akida_v2_tensor import simulate

__all__ = ["run"]


def run(arch: str, data, epochs: int, seed: int = 0, test: int | None = None) -> dict:
    """Train, convert, emulate and run in the engine; accuracies and the exactness check."""
    torch.manual_seed(seed)
    model = train(ARCHITECTURES[arch](), data.x_train, data.y_train, epochs=epochs, lr=2e-3,
                  batch_size=64, seed=seed)  # fmt: skip
    x, y = data.x_test[:test], data.y_test[:test]
    net = akida_net(model, data.x_train[:500], example=x[:1], version="v2")
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
