"""Zero-aware against plain quantization-aware training of a 2-conv + 2-FC MNIST network for Akida.

Trains, with the same seed and epochs: the float network, the plain 4-bit QAT network and
one zero-aware network per penalty setting; converts each QAT network to Akida, emulates it
(numpy reference of the engine's integers) on the test split and prints one table; writes
a plot of Akida accuracy against the fraction of non-zero activations.

    python scripts/zero_aware_sweep.py --epochs 6 --plot zero_aware_sweep.png
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

import converters
from converters.akida import AkidaBits, to_akida
from converters.akida_commands import two_conv_two_fc
from converters.training import accuracy, train
from converters.zero_aware import ZeroAware
from emu.akida_reference import simulate


def akida_figures(model: torch.nn.Module, data, bits: AkidaBits) -> dict:
    """Akida-emulated accuracy, events (non-zero activations) per image, non-zero weights."""
    graph = converters.load(model, torch.zeros(1, *data.sample_shape))
    net = to_akida(graph, data.x_train[:1000], bits)
    record = simulate(net, net.levels(data.x_test))
    prediction = record.counts[net.layer_names[-1]].argmax(1)
    hidden = [layer.name for layer in net.layers[:-1]]
    neurons = sum(record.counts[name].shape[1] for name in hidden)
    events = sum(np.count_nonzero(record.counts[name], axis=1) for name in hidden)
    weights = np.concatenate([layer.weights.reshape(-1) for layer in net.layers])
    return {
        "akida_accuracy": float(np.mean(prediction == data.y_test)),
        "events_per_image": float(events.mean()),
        "akida_activation_fraction": float(events.mean() / neurons),
        "akida_weight_fraction": float(np.count_nonzero(weights) / weights.size),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mnist", default=None, help="MNIST idx directory")
    parser.add_argument(
        "--settings",
        default="0.1:0.1,0.3:0.3,1:1,3:1",
        help="penalty settings activations:weights, comma-separated (at least 4)",
    )
    parser.add_argument("--plot", default="zero_aware_sweep.png")
    parser.add_argument("--json", default=None, help="also write the rows as JSON")
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = converters.datasets.mnist(args.mnist)
    bits = AkidaBits(weights=4, activations=4)
    settings = [tuple(float(v) for v in s.split(":")) for s in args.settings.split(",")]
    rows = []
    start = time.perf_counter()
    torch.manual_seed(args.seed)
    float_model = train(two_conv_two_fc(), data, epochs=args.epochs, seed=args.seed)
    float_accuracy = accuracy(float_model, data.x_test, data.y_test)
    for label, zero_aware in [("plain QAT", None)] + [
        (f"zero-aware {a:g}/{w:g}", ZeroAware(activations=a, weights=w)) for a, w in settings
    ]:
        torch.manual_seed(args.seed)
        model = train(
            two_conv_two_fc(),
            data,
            epochs=args.epochs,
            seed=args.seed,
            quantization=bits,
            zero_aware=zero_aware,
        )
        report = model.training_report
        row = {
            "setting": label,
            "qat_accuracy": report.accuracy,
            "activation_fraction": report.activation_fraction,
            "weight_fraction": report.weight_fraction,
            "layers_activations": report.activations,
            "layers_weights": report.weights,
        }
        row |= akida_figures(model, data, bits)
        rows.append(row)
        print(
            f"{label}: QAT {100 * row['qat_accuracy']:.2f}%, Akida {100 * row['akida_accuracy']:.2f}%, "
            f"non-zero activations {100 * row['activation_fraction']:.1f}%, weights "
            f"{100 * row['weight_fraction']:.1f}% ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    plain = rows[0]
    print(f"\nfloat network (no quantization): accuracy {100 * float_accuracy:.2f}%")
    print(f"MNIST 8000/2000, {args.epochs} epochs, seed {args.seed}, 4-bit weights/activations")
    header = (
        f"{'setting':<22}{'QAT acc':>9}{'Akida acc':>10}{'non-zero act':>13}{'vs plain':>9}"
        f"{'non-zero w':>11}{'vs plain':>9}{'events/img':>11}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        act = 1 - row["activation_fraction"] / plain["activation_fraction"]
        wgt = 1 - row["weight_fraction"] / plain["weight_fraction"]
        print(
            f"{row['setting']:<22}{100 * row['qat_accuracy']:>8.2f}%{100 * row['akida_accuracy']:>9.2f}%"
            f"{100 * row['activation_fraction']:>12.1f}%{-100 * act:>8.1f}%"
            f"{100 * row['weight_fraction']:>10.1f}%{-100 * wgt:>8.1f}%"
            f"{row['events_per_image']:>11.0f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"float_accuracy": float_accuracy, "rows": rows}, f, indent=1)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for row in rows:
        ax.scatter(100 * row["activation_fraction"], 100 * row["akida_accuracy"])
        ax.annotate(row["setting"], (100 * row["activation_fraction"], 100 * row["akida_accuracy"]),
                    fontsize=7, xytext=(3, 3), textcoords="offset points")  # fmt: skip
    ax.axhline(100 * float_accuracy, color="grey", lw=0.8, ls="--", label="float network")
    ax.set_xlabel("non-zero activations (% of neurons, test set)")
    ax.set_ylabel("Akida-emulated accuracy (%)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.plot, dpi=120)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
