"""Calibrate the Akida model's per-op energy and time against BrainChip's MNIST CNN figures.

BrainChip publishes, for a small MNIST CNN on the AKD1000, 770 frames/s at 936.8 mW over an
894 mW floor (1.22 mJ per frame). This script trains a 2-conv + 2-FC MNIST CNN, converts it
for Akida, runs the Akida reference on test images, counts synaptic ops (events x non-zero
weights) and fires per frame, and solves::

    akida_synop_energy = (P - P_floor) / fps / (synops + fires * fire_ratio)
    akida_fire_energy  = fire_ratio * akida_synop_energy
    akida_synop_time   = 1 / fps / synops

It prints the values and writes them as a TOML override file (``--out``) that
``hwmodels.load_constants`` and ``neuroemu estimate --constants`` accept.

Run: ``python scripts/calibrate_akida.py [--samples 1000] [--epochs 2] [--out akida.toml]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

import converters
from converters import datasets, training
from converters.akida import to_akida
from emu import akida_reference, make_traces
from hwmodels import akida
from hwmodels.constants import Constants


def calibration_network(seed: int = 0) -> nn.Module:
    """The calibration CNN: two 3x3 convolutions with 2x2 max pooling, two dense layers."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def calibrate(samples: int = 1000, epochs: int = 2, seed: int = 0) -> dict[str, float]:
    """Calibrated constants (name -> value) from the MNIST calibration network."""
    c = Constants()
    data = datasets.mnist()
    model = training.train(calibration_network(seed), data.x_train, data.y_train, epochs=epochs)
    graph = converters.load(model, data.x_train[:1])
    net = to_akida(graph, data.x_train[:1000], drop_output_bias=True)
    x, y = data.x_test[:samples], data.y_test[:samples]
    record = akida_reference.simulate(net, net.levels(x))
    out = record.counts[net.layers[-1].name]
    traces = make_traces(
        layers=net.layer_names,
        counts=record.counts,
        spikes_per_step=record.spikes_per_step,
        output_per_step=record.output_per_step,
        predictions=out.argmax(1),
        labels=y,
        saturation=record.saturation,
        attrs={"target": "akida", "net_digest": net.digest(), "timesteps": 1, "dt": 1.0},
    )
    counted = akida.estimate(net, traces, c)
    synops = counted.details["synaptic_ops_per_frame"]
    fires = counted.details["events_per_frame"]
    fps = c["akida_calibration_fps"]
    ratio = c["akida_fire_energy"] / c["akida_synop_energy"]
    dynamic = (c["akida_calibration_power"] - c["akida_floor_power"]) / fps
    energy = dynamic / (synops + ratio * fires)
    print(
        f"calibration network: accuracy {100 * counted.accuracy:.2f}% on {samples} images; "
        f"{synops:.0f} synaptic ops and {fires:.0f} fires per frame"
    )
    return {
        "akida_synop_energy": energy,
        "akida_fire_energy": ratio * energy,
        "akida_synop_time": 1.0 / fps / synops,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000, help="test images (default 1000)")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the values as a TOML override file")
    args = parser.parse_args()
    values = calibrate(args.samples, args.epochs, args.seed)
    lines = [f"{name} = {value:.4e}" for name, value in values.items()]
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
