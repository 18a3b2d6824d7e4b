"""Quantization-aware training for Akida on MNIST: float network against its Akida form.

Trains the 2-conv + 2-FC CNN in float and with 4-bit quantization-aware training (same
seed and epochs), converts the latter to Akida and runs the test split through
BrainChip's engine (``akida.Model.forward``), the numpy reference and the Brian2
emulation (first ``--brian2`` images), checking that all three agree integer for integer.

    python scripts/akida_qat_mnist.py --epochs 4 --brian2 200
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

import converters
from converters.chips.akida import AkidaBits
from converters.exports.akida_export import akida_forward
from converters.pipeline import akida_net
from converters.training import accuracy, train
from converters.training.models import two_conv_two_fc
from emu.engines import RunSettings
from emu.engines.akida_brian2 import AkidaBackend
from emu.engines.akida_reference import simulate
from emu.engines.registry import BRIAN2_DEVICES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mnist", default=None, help="MNIST idx directory")
    parser.add_argument("--brian2", type=int, default=200, help="test images for Brian2")
    parser.add_argument("--device", default="cpp_standalone", choices=BRIAN2_DEVICES)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = converters.training.datasets.mnist(args.mnist)
    torch.manual_seed(args.seed)
    float_model = train(two_conv_two_fc(), data, epochs=args.epochs, seed=args.seed)
    float_accuracy = accuracy(float_model, data.x_test, data.y_test)
    torch.manual_seed(args.seed)
    model = train(
        two_conv_two_fc(), data, epochs=args.epochs, seed=args.seed, quantization=AkidaBits()
    )
    net = akida_net(model, data.x_train[:1000], example=torch.zeros(1, *data.sample_shape))
    levels = net.levels(data.x_test)
    engine = akida_forward(net, levels).reshape(len(levels), -1)
    reference = simulate(net, levels).counts[net.layer_names[-1]]
    engine_accuracy = float(np.mean(engine.argmax(1) == data.y_test))
    n = min(args.brian2, len(levels))
    with tempfile.TemporaryDirectory() as cache:
        settings = RunSettings(args.device, batch_size=min(n, 100), cache_dir=cache)
        backend = AkidaBackend(net, settings)
        start = time.perf_counter()
        parts = [
            backend.run_batch(levels[s : s + 100].reshape(len(levels[s : s + 100]), -1))
            for s in range(0, n, 100)
        ]
        elapsed = time.perf_counter() - start
    brian2_out = np.concatenate([p.counts[net.layer_names[-1]] for p in parts])
    print(f"MNIST 8000/2000, {args.epochs} epochs, seed {args.seed}, 2-conv + 2-FC")
    print(f"float network accuracy:               {100 * float_accuracy:.2f}%")
    print(f"QAT network (torch, quantizers on):   {100 * model.training_report.accuracy:.2f}%")
    print(f"Akida engine (akida.Model.forward):   {100 * engine_accuracy:.2f}%")
    print(
        f"difference Akida - float:             {100 * (engine_accuracy - float_accuracy):+.2f} points"
    )
    print(f"numpy reference == engine on {len(levels)} images: {np.array_equal(reference, engine)}")
    print(
        f"Brian2 {args.device} == engine on {n} images: "
        f"{np.array_equal(brian2_out, engine[:n])} ({elapsed:.1f} s incl. build)"
    )


if __name__ == "__main__":
    main()
