"""Loihi conversion quality: DNN accuracy against SNN accuracy per timestep budget.

Trains the network (digits CNN or MNIST LeNet-5), converts it for both reset modes and
both input encodings, emulates one run of the largest budget per setting and reads the
accuracy at every smaller budget from the per-step output spikes of that same run.

    python scripts/loihi_conversion.py --dataset mnist --workers 2
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import converters
from converters import datasets, models, training
from emu import Emulation
from emu.engines.registry import device_names


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=("digits", "mnist"), default="mnist")
    parser.add_argument("--mnist-dir", help="directory of the MNIST idx files")
    parser.add_argument("--steps", default="16,32,64,128,256", help="timestep budgets")
    parser.add_argument("--samples", type=int, help="test samples (default: the whole test split)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs")
    parser.add_argument("--percentile", type=float, default=99.9)
    parser.add_argument("--device", default="cpp_standalone", choices=device_names("loihi"))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--resets", default="subtract,zero")
    parser.add_argument("--encodings", default="bias,rate")
    args = parser.parse_args()

    data = datasets.digits() if args.dataset == "digits" else datasets.mnist(args.mnist_dir)
    if args.dataset == "digits":
        model, epochs, lr = models.digits_cnn(16), args.epochs or 30, 3e-3
    else:
        model, epochs, lr = models.lenet5(), args.epochs or 15, 1e-3
    x_test, y_test = data.x_test[: args.samples], data.y_test[: args.samples]
    t0 = time.perf_counter()
    training.train(model, data.x_train, data.y_train, epochs=epochs, lr=lr, batch_size=32)
    dnn = training.accuracy(model, x_test, y_test)
    print(f"{args.dataset}: trained {epochs} epochs in {time.perf_counter() - t0:.0f} s")
    print(f"DNN accuracy on {len(x_test)} held-out images: {100 * dnn:.2f} %")
    budgets = [int(s) for s in args.steps.split(",")]
    graph = converters.load(model, data.x_train[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = converters.normalize(graph, data.x_train[:2000], percentile=args.percentile)
    header = (
        f"{'reset':9} {'encoding':9} "
        + " ".join(f"{b:>7}" for b in budgets)
        + "  spikes/img  best-gap  s/run"
    )
    print(header)
    for reset in args.resets.split(","):
        for encoding in args.encodings.split(","):
            net = converters.to_loihi(
                graph, timesteps=max(budgets), reset=reset, input_encoding=encoding
            )
            start = time.perf_counter()
            traces = Emulation(net, device=args.device, batch_size=128).run(
                x_test, y_test, workers=args.workers
            )
            elapsed = time.perf_counter() - start
            cumulative = np.cumsum(traces["output_per_step"].values, axis=1, dtype=np.int32)
            accs = [float(np.mean(cumulative[:, b - 1].argmax(axis=1) == y_test)) for b in budgets]
            spikes = float(traces["spikes_per_step"].sum().values) / len(x_test)
            gap = 100 * (dnn - max(accs))
            row = f"{reset:9} {encoding:9} " + " ".join(f"{100 * a:6.2f}%" for a in accs)
            print(f"{row}  {spikes:10.0f}  {gap:7.2f}  {elapsed:5.0f}", flush=True)


if __name__ == "__main__":
    main()
