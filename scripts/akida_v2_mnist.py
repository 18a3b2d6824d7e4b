"""A ResNet and a MobileNet-style network on MNIST through Akida 2.0: float, converted, emulated, engine.

Each network is trained, converted, emulated and run in BrainChip's engine by
:func:`emu.crosscheck.akida_v2_mnist.run`; this prints the accuracies and the exactness check.

    python scripts/akida_v2_mnist.py --epochs 2 --train 6000
"""

from __future__ import annotations

import argparse
import time

import torch

from converters.training.akida_v2_models import ARCHITECTURES
from converters.training.datasets import mnist
from emu.crosscheck.akida_v2_mnist import run

__all__ = ["main"]


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
