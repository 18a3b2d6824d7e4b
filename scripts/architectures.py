"""Loihi conversion of standard architectures on MNIST: DNN against SNN per timestep budget.

Trains LeNet-5, a VGG-style stack, a ResNet (identity and downsample blocks, global
average pooling) and a MobileNet-style depthwise-separable net (``converters.training.models``)
on 8,000 MNIST images, converts each for Loihi (reset by subtraction, bias-current input),
emulates one run of the largest budget per setting and reads the accuracy at every smaller
budget from the per-step output spikes of that run. ``lenet5-max`` is LeNet-5 with max
pooling, converted after ``training.replace_maxpool`` and a short fine-tune.

    python scripts/architectures.py --workers 2 --samples 500
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

import converters
from converters import datasets, models, training
from emu import Emulation
from emu.engines.registry import device_names

ARCHS = ("lenet5", "vgg", "resnet", "mobilenet", "lenet5-max")


def trained(arch: str, data, epochs: int, log) -> torch.nn.Module:
    """``arch`` trained on the training split; max-pool LeNet swapped to average and fine-tuned."""
    torch.manual_seed(0)
    model = models.lenet5(pool="max") if arch == "lenet5-max" else models.ARCHITECTURES[arch]()
    training.train(model, data.x_train, data.y_train, epochs=epochs, lr=1e-3, batch_size=32)
    if arch == "lenet5-max":
        x, y = data.x_test, data.y_test
        log(f"{arch}: max pooling {100 * training.accuracy(model, x, y):.2f} %")
        training.replace_maxpool(model)
        log(
            f"{arch}: average pooling, before fine-tune {100 * training.accuracy(model, x, y):.2f} %"
        )
        training.train(model, data.x_train, data.y_train, epochs=2, lr=3e-4, batch_size=32)
        log(f"{arch}: after a 2-epoch fine-tune {100 * training.accuracy(model, x, y):.2f} %")
    return model


def snn_row(graph, x, y, budgets, warm_start: float, args) -> tuple[list[float], float, float]:
    """SNN accuracy per budget, spikes per image and seconds of one emulated run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = converters.to_loihi(graph, timesteps=max(budgets), warm_start=warm_start)
    start = time.perf_counter()
    traces = Emulation(net, device=args.device, batch_size=100).run(x, y, workers=args.workers)
    elapsed = time.perf_counter() - start
    cumulative = np.cumsum(traces["output_per_step"].values, axis=1, dtype=np.int32)
    accs = [float(np.mean(cumulative[:, b - 1].argmax(axis=1) == y)) for b in budgets]
    return accs, float(traces["spikes_per_step"].sum().values) / len(x), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--archs", default=",".join(ARCHS))
    parser.add_argument("--mnist-dir", help="directory of the MNIST idx files")
    parser.add_argument("--steps", default="32,64,128,256,512", help="timestep budgets")
    parser.add_argument("--samples", type=int, help="test samples (default: the whole test split)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--warm-starts", default="0,0.5", help="to_loihi warm_start values")
    parser.add_argument("--device", default="cpp_standalone", choices=device_names("loihi"))
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    torch.set_num_threads(1)
    data = datasets.mnist(args.mnist_dir)
    x, y = data.x_test[: args.samples], data.y_test[: args.samples]
    budgets = [int(s) for s in args.steps.split(",")]
    print(
        f"{'arch':11} {'DNN':>7} {'warm':>4} "
        + " ".join(f"{b:>7}" for b in budgets)
        + "  spikes/img  s/run"
    )
    for arch in args.archs.split(","):
        model = trained(arch, data, args.epochs, print)
        dnn = training.accuracy(model, x, y)
        graph = converters.load(model, data.x_train[:1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = converters.normalize(graph, data.x_train[:2000])
        for warm in (float(w) for w in args.warm_starts.split(",")):
            accs, spikes, elapsed = snn_row(graph, x, y, budgets, warm, args)
            cells = " ".join(f"{100 * a:6.2f}%" for a in accs)
            print(
                f"{arch:11} {100 * dnn:6.2f}% {warm:4.1f} {cells}  {spikes:10.0f}  {elapsed:5.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
