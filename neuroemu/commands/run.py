"""The ``neuroemu run`` subcommand: emulate a converted network on samples, write its traces."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from converters.training import datasets
from emu.engines.registry import device_names, registered_targets
from emu.engines.run_budget import MAX_BATCH_SIZE, MAX_SEED
from emu.traces.stats import accuracy, spikes_per_sample

from .arguments import int_range, output_file
from .traces import out_of_range_line

__all__ = ["register", "cmd_run", "run_summary", "sample_shape", "parse_probe"]


def register(subparsers) -> None:
    """Add ``run`` to the ``neuroemu`` subcommands."""
    run = subparsers.add_parser(
        "run", help="emulate a converted network on samples and write HDF5 traces"
    )
    run.add_argument("net", help="converted network (.npz from 'neuroemu convert')")
    run.add_argument(
        "--data",
        help="'digits', 'mnist' (test split) or an .npy/.npz file "
        "(default: mnist when the network reads (1, 28, 28) images, else digits)",
    )
    run.add_argument("--samples", type=int_range(1), help="only the first N samples")
    run.add_argument(
        "--out", default="traces.h5", type=output_file, help="trace file (default: %(default)s)"
    )
    run.add_argument(
        "--device",
        default="cpp_standalone",
        choices=device_names(),
        help="Brian2 device, tensor (Akida networks: exact BLAS products, no build) or "
        "native (Loihi networks: a C++ engine compiled once per machine; "
        "default: %(default)s)",
    )
    run.add_argument(
        "--workers", type=int_range(1), default=1, help="worker processes (default: %(default)s)"
    )
    run.add_argument(
        "--scheduler",
        help="Dask scheduler address (tcp://HOST:PORT): run the batches on that cluster",
    )
    run.add_argument(
        "--batch-size",
        type=int_range(1, MAX_BATCH_SIZE),
        default=128,
        help="samples per simulation run (at most 2**20, and what fits in memory)",
    )
    run.add_argument("--events", action="store_true", help="store the sparse spike raster")
    run.add_argument(
        "--seed", type=int_range(0, MAX_SEED), default=0, help="seed of rate-coded inputs (32 bits)"
    )
    run.add_argument(
        "--probe",
        action="append",
        metavar="LAYER:I,J",
        help="record u and v of these neurons every step (repeatable), e.g. --probe layer0:0,17",
    )
    run.add_argument("--mnist-dir", help="directory of the MNIST idx files")
    run.set_defaults(func=cmd_run)


def sample_shape(net) -> tuple[int, ...]:
    """The shape of one input sample of a Loihi or Akida network, (C, H, W) for images."""
    if net.target == "akida":
        h, w, c = net.input_shape
        return (c, h, w)
    return tuple(net.input.shape)


def _classes(net) -> int:
    if net.target == "akida":
        return int(np.prod(net.layers[-1].output_shape))
    return int(net.output.size)


def parse_probe(specs: list[str] | None, layers: list[str]) -> dict[str, list[int]] | None:
    """``["conv1:0,5,9", ...]`` to ``{"conv1": [0, 5, 9]}``, checked against the layer names."""
    if not specs:
        return None
    probe = {}
    for spec in specs:
        layer, _, indices = spec.partition(":")
        try:
            probe[layer] = [int(i) for i in indices.split(",")]
        except ValueError:
            raise ValueError(f"--probe {spec!r} is not LAYER:I,J,K (neuron indices)") from None
        if layer not in layers or min(probe[layer]) < 0:
            raise ValueError(
                f"--probe {spec!r}: the layer must be one of {layers} and the indices >= 0"
            )
    return probe


def cmd_run(args: argparse.Namespace) -> None:
    """Emulate a saved network on checked samples and print the run summary."""
    from converters.chips.files import load_net
    from converters.chips.loihi_limits import enforce_limits
    from emu.emulation import Emulation

    if not Path(args.net).is_file():
        raise FileNotFoundError(
            f"network file {args.net} does not exist (write one with 'neuroemu convert')"
        )
    net = load_net(args.net)
    accepted = device_names(net.target)
    if args.device not in accepted:
        served = [t for t in registered_targets() if args.device in device_names(t)]
        chips = sorted({t.split("_")[0].capitalize() for t in served})
        raise ValueError(
            f"--device {args.device} runs {' and '.join(chips)} networks; {args.net} is a "
            f"{net.target} network (accepted for it: {', '.join(accepted)})"
        )
    if net.target == "loihi":
        enforce_limits(net)  # what Loihi cannot hold is refused, multi-chip noted
    x, y = datasets.load_samples(
        args.data, "test", args.samples, args.mnist_dir, sample_shape(net), _classes(net)
    )
    sim = Emulation(
        net,
        device=args.device,
        batch_size=args.batch_size,
        record_events=args.events,
        probe=parse_probe(args.probe, net.layer_names),
        seed=args.seed,
    )
    start = time.perf_counter()
    traces = sim.run(x, y, workers=args.workers, out=args.out, scheduler=args.scheduler)
    print(run_summary(traces, time.perf_counter() - start))
    print(f"traces: {Path(args.out).resolve()}")


def run_summary(traces, elapsed: float) -> str:
    """Samples per second, accuracy, spikes per sample and saturation of a finished run."""
    n = traces.sizes["sample"]
    lines = [f"{n} samples in {elapsed:.1f} s ({n / elapsed:.1f} samples/s)"]
    acc = accuracy(traces)
    if acc is not None:
        lines.append(f"accuracy: {100 * acc:.2f} %")
    spikes = spikes_per_sample(traces)
    lines.append("spikes per sample: " + ", ".join(f"{k} {v:.0f}" for k, v in spikes.items()))
    outside = out_of_range_line(traces)
    if outside:
        lines.append(outside)
    sat = traces["saturation"].sum(dim="layer").values
    if sat.any():
        lines.append(
            "saturation (u wraps, v clips, input overflows): " + ", ".join(str(int(s)) for s in sat)
        )
    return "\n".join(lines)
