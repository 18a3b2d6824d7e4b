"""Zero-aware against plain quantization-aware training of a 2-conv + 2-FC MNIST network for Akida.

Trains, with the same seed and epochs: the float network, the plain 4-bit QAT network and
one zero-aware network per penalty setting λa:λw; converts each QAT network to Akida,
emulates it (numpy reference of the engine's integers) on the test split, estimates its
AKD1000 energy per image (``hwmodels.akida``, with the range from the constants' ranges)
and prints one table, with the energy saved against plain QAT beside the chip's measured
saving (Habara et al. 2024: 12.2% for 70.1% fewer activations, 14.2% fewer weights);
writes a plot of Akida accuracy against non-zero activations (events) per image.

    python scripts/zero_aware_sweep.py --epochs 6 --plot zero_aware_sweep.png
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import torch

import converters
from converters.chips.akida import AkidaBits
from converters.pipeline import akida_net
from converters.training import accuracy, train
from converters.training.models import two_conv_two_fc
from converters.training.zero_aware import ZeroAware
from emu.engines.akida_reference import simulate
from hwmodels import Constants, akida, akida_constants
from hwmodels.calibration import workloads
from hwmodels.published import measured

CORNERS = (None, "low", "high")  # the registry's values, then every ranged constant at an end


def energies(net, data) -> list[float]:
    """AKD1000 energy per image (J) at the registry's constants and at both corners."""
    traces = workloads.akida_traces(net, data.x_test, data.y_test)
    c = Constants()
    return [
        akida.estimate(
            net, traces, constants=c if side is None else c.corner(side, akida_constants.BOUNDED)
        ).energy
        for side in CORNERS
    ]


def akida_figures(model: torch.nn.Module, data, bits: AkidaBits) -> dict:
    """Akida-emulated accuracy, events (non-zero activations) per image, non-zero weights."""
    net = akida_net(
        model, data.x_train[:1000], example=torch.zeros(1, *data.sample_shape), bits=bits
    )
    record = simulate(net, net.levels(data.x_test))
    prediction = record.counts[net.layer_names[-1]].argmax(1)
    hidden = [layer.name for layer in net.layers[:-1]]
    neurons = sum(record.counts[name].shape[1] for name in hidden)
    events = sum(np.count_nonzero(record.counts[name], axis=1) for name in hidden)
    weights = np.concatenate([layer.weights.reshape(-1) for layer in net.layers])
    return {
        "energy_per_image": energies(net, data),
        "akida_accuracy": float(np.mean(prediction == data.y_test)),
        "events_per_image": float(events.mean()),
        "akida_activation_fraction": float(events.mean() / neurons),
        "akida_weight_fraction": float(np.count_nonzero(weights) / weights.size),
    }


def _saving(r: dict) -> str:
    text = f"{-100 * r['value']:.1f}% [{-100 * r['high']:.1f} .. {-100 * r['low']:.1f}]"
    return f"{text:>25}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mnist", default=None, help="MNIST idx directory")
    parser.add_argument("--train", type=int, default=8000, help="MNIST training images")
    parser.add_argument("--test", type=int, default=None, help="test images (default: the rest)")
    parser.add_argument(
        "--settings",
        default="0.3:0.02,1:0.02,2:0.02,4:0.02,1:0.05",
        help="penalty settings λa:λw, comma-separated (at least 4)",
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="penalty warm-up (epochs)")
    parser.add_argument("--plot", default="zero_aware_sweep.png")
    parser.add_argument("--json", default=None, help="also write the rows as JSON")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = converters.training.datasets.mnist(args.mnist, n_train=args.train)
    data = dataclasses.replace(
        data, x_test=data.x_test[: args.test], y_test=data.y_test[: args.test]
    )
    bits = AkidaBits(weights=4, activations=4)
    settings = [tuple(float(v) for v in s.split(":")) for s in args.settings.split(",")]
    if len(settings) < 4 or any(len(s) != 2 for s in settings):
        parser.error("--settings needs at least 4 comma-separated λa:λw pairs")
    rows = []
    start = time.perf_counter()
    torch.manual_seed(args.seed)
    float_model = train(two_conv_two_fc(), data, epochs=args.epochs, seed=args.seed)
    float_accuracy = accuracy(float_model, data.x_test, data.y_test)
    for label, zero_aware in [("plain QAT", None)] + [
        (f"zero-aware {a:g}/{w:g}", ZeroAware(a, w, args.warmup)) for a, w in settings
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
            f"events/image {row['events_per_image']:.0f}, non-zero weights "
            f"{100 * row['akida_weight_fraction']:.1f}% ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    plain = rows[0]
    for row in rows:
        row["activation_reduction"] = 1 - row["events_per_image"] / plain["events_per_image"]
        row["weight_reduction"] = 1 - row["akida_weight_fraction"] / plain["akida_weight_fraction"]
        saved = [
            1 - e / p
            for e, p in zip(row["energy_per_image"], plain["energy_per_image"], strict=True)
        ]
        row["energy_reduction"] = {"value": saved[0], "low": min(saved), "high": max(saved)}
        row["meets_targets"] = bool(
            row["activation_reduction"] >= 0.5
            and row["weight_reduction"] >= 0.1
            and row["akida_accuracy"] >= plain["akida_accuracy"] - 0.01 - 1e-9
        )
    print(
        f"\nMNIST 8000/2000, {args.epochs} epochs, seed {args.seed}, 4-bit weights/activations; "
        "activations and weights counted in the Akida-emulated network (hidden layers' events "
        "per test image; all layers' weights)"
    )
    header = (
        f"{'setting':<24}{'QAT acc':>9}{'Akida acc':>10}{'events/img':>11}{'non-zero act':>13}"
        f"{'vs plain':>9}{'non-zero w':>11}{'vs plain':>9}{'targets':>9}{'mJ/img':>8}"
        f"{'energy vs plain [range]':>25}"
    )
    print(header)
    print("-" * len(header))
    print(f"{'float (no quantization)':<24}{100 * float_accuracy:>8.2f}%")
    for row in rows:
        print(
            f"{row['setting']:<24}{100 * row['qat_accuracy']:>8.2f}%{100 * row['akida_accuracy']:>9.2f}%"
            f"{row['events_per_image']:>11.0f}{100 * row['akida_activation_fraction']:>12.1f}%"
            + (f"{-100 * row['activation_reduction']:>8.1f}%" if row is not plain else " " * 9)
            + f"{100 * row['akida_weight_fraction']:>10.1f}%"
            + (f"{-100 * row['weight_reduction']:>8.1f}%" if row is not plain else " " * 9)
            + f"{('met' if row['meets_targets'] else '-') if row is not plain else '':>9}"
            + f"{1e3 * row['energy_per_image'][0]:>8.3f}"
            + (_saving(row["energy_reduction"]) if row is not plain else "")
        )
    print(
        "targets (vs plain QAT): >= 50% fewer non-zero activations, >= 10% fewer non-zero "
        "weights, Akida accuracy at most 1 point lower"
    )
    print(
        f"measured on an AKD1000 (Habara et al. 2024): {100 * measured('habara_energy_reduction'):.1f}% "
        f"less energy per frame for {100 * measured('habara_activation_reduction'):.1f}% fewer "
        f"non-zero activations and {100 * measured('habara_weight_reduction'):.1f}% fewer non-zero "
        f"weights (ISCAS 2025: {100 * measured('iscas_energy_reduction'):.1f}% for "
        f"{100 * measured('iscas_activation_reduction'):.1f}% / {100 * measured('iscas_weight_reduction'):.1f}%)"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"float_accuracy": float_accuracy, "rows": rows}, f, indent=1)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for row in rows:
        x, y = row["events_per_image"], 100 * row["akida_accuracy"]
        ax.scatter(x, y, marker="s" if row is plain else "o")
        ax.annotate(row["setting"], (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.axhline(100 * float_accuracy, color="grey", lw=0.8, ls="--", label="float network")
    ax.axhline(100 * plain["akida_accuracy"] - 1, color="grey", lw=0.8, ls=":",
               label="plain QAT - 1 point")  # fmt: skip
    ax.axvline(plain["events_per_image"] / 2, color="grey", lw=0.8, ls="-.",
               label="half the plain events")  # fmt: skip
    ax.set_xlabel("non-zero activations per test image (Akida events, hidden layers)")
    ax.set_ylabel("Akida-emulated accuracy (%)")
    ax.set_title(f"Zero-aware training, MNIST, {args.epochs} epochs", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(args.plot, dpi=120)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
