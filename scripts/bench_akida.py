"""Benchmark the Akida emulators against BrainChip's engine on the 4-bit 2-conv + 2-FC MNIST network.

BrainChip's ``akida.Model.forward`` against neuroemu's ``tensor`` device (its fastest exact
path), on one core and on every core, the numpy reference and the cpp_standalone build
(with its first build time, ``first_build_s``); every output is checked equal to the
engine's and every layer to the ``tensor`` device's. The ``tensor`` device builds nothing:
``tensor.ready_s`` is the time from ``Emulation()`` of a never-seen topology (other layer
widths, ``--akida-new-widths``) to its first output, in a fresh process.

    python scripts/bench_akida.py --json akida.json   (or python scripts/bench.py --parts akida)
"""

from __future__ import annotations

import argparse
import os
import pickle
import time
from pathlib import Path

import numpy as np
from bench_common import (
    bench_main,
    first_samples,
    in_process,
    neuroemu_run,
    on_cores,
    peak_mb,
    pinned,
    same_counts,
)

__all__ = ["add_arguments", "run", "akida_net", "akida_widths_net"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The Akida benchmark's options: samples per engine, the new topology, the cached network."""
    parser.add_argument("--akida-samples", type=int, default=1000)
    parser.add_argument("--akida-batch-size", type=int, default=500)
    parser.add_argument("--akida-reference-samples", type=int, default=1000)
    parser.add_argument(
        "--akida-brian2-samples",
        type=int,
        default=200,
        help="images through the Akida cpp_standalone build (0: skip its compile)",
    )
    parser.add_argument(
        "--akida-new-widths",
        default="12,24,96",
        help="conv, conv and FC widths of the never-seen topology timed on the tensor device",
    )
    parser.add_argument(
        "--akida-model", default=str(Path.home() / ".cache/neuroemu/akida_2conv2fc_mnist.pkl")
    )


def akida_net(path: Path):
    """The 2-conv + 2-FC MNIST network, 4-bit quantization-aware training (4 epochs, seed 0, as
    scripts/akida_qat_mnist.py), converted to Akida and cached in ``path``; and the data."""
    import converters

    data = converters.training.datasets.mnist()
    if path.exists():
        return pickle.loads(path.read_bytes()), data
    import torch

    from converters import pipeline
    from converters.chips.akida import AkidaBits
    from converters.training import train
    from converters.training.models import two_conv_two_fc

    torch.manual_seed(0)
    model = train(two_conv_two_fc(), data, epochs=4, seed=0, quantization=AkidaBits())
    example = torch.zeros(1, *data.sample_shape)
    net = pipeline.akida_net(model, data.x_train[:1000], example=example)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(net))
    return net, data


def akida_engine_run(net, levels, cores: int) -> dict:
    """``akida.Model.forward`` on all ``levels`` in one call (after a warm-up call)."""
    limits = on_cores(cores)
    from converters.exports.akida_export import akida_forward, to_akida_model

    model = to_akida_model(net)
    akida_forward(net, levels[:8], model)
    start = time.perf_counter()
    out = akida_forward(net, levels, model)
    seconds = time.perf_counter() - start
    del limits
    return {"seconds": seconds, "output": out.reshape(len(out), -1), **peak_mb()}


def akida_reference_run(net, levels) -> dict:
    """The numpy reference (``emu.engines.akida_reference.simulate``) on all ``levels``."""
    from emu.engines.akida_reference import simulate

    start = time.perf_counter()
    counts = simulate(net, levels).counts
    return {"seconds": time.perf_counter() - start, "counts": counts, **peak_mb()}


def akida_widths_net(data, widths: tuple[int, int, int], seed: int = 1):
    """A never-seen topology: the 2-conv + 2-FC network with other widths (conv, conv, FC),
    random weights (torch seed ``seed``), converted to Akida."""
    import torch
    from torch import nn

    from converters import pipeline

    torch.manual_seed(seed)
    c1, c2, fc = widths
    side = data.sample_shape[-1] // 4
    model = nn.Sequential(
        nn.Conv2d(data.sample_shape[0], c1, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c2 * side**2, fc),
        nn.ReLU(),
        nn.Linear(fc, 10, bias=False),
    )
    example = torch.zeros(1, *data.sample_shape)
    return pipeline.akida_net(model.eval(), data.x_train[:200], example=example)


def tensor_ready_run(net, x) -> dict:
    """Seconds from ``Emulation(net, "tensor")`` to the first output of one sample (imports
    done before), and that output checked against the numpy reference."""
    start = time.perf_counter()
    from emu import Emulation
    from emu.engines.akida_reference import simulate

    import_s = time.perf_counter() - start
    start = time.perf_counter()
    traces = Emulation(net, "tensor", batch_size=1).run(x[:1], progress=False)
    ready_s = time.perf_counter() - start
    last = net.layer_names[-1]
    ours = traces[f"spike_count_{last}"].values
    equal = np.array_equal(ours, simulate(net, net.levels(x[:1])).counts[last])
    return {"ready_s": ready_s, "import_s": import_s, "equal": equal, **peak_mb()}


def akida_new_topology(args, data) -> dict:
    """The tensor device on a fresh topology in a fresh process, one core: its ready time."""
    widths = tuple(int(w) for w in args.akida_new_widths.split(","))
    net = akida_widths_net(data, widths)
    row = in_process(pinned, 1, tensor_ready_run, net, first_samples(data, 1))
    print(
        f"Akida tensor, a new topology (widths {widths}): first output {row['ready_s']:.2f} s "
        f"after Emulation() (target < 5 s; imports {row['import_s']:.1f} s before)"
    )
    return {k: row[k] for k in ("ready_s", "import_s")} | {"widths": widths, "check": row["equal"]}


def run(args, cache: str) -> dict:
    """Akida rows (each engine in its own process, pinned), printed, with the checks."""
    net, data = akida_net(Path(args.akida_model))
    x = first_samples(data, args.akida_samples)
    levels = net.levels(x)
    n, cores, bs = len(levels), len(os.sched_getaffinity(0)), args.akida_batch_size
    print(f"\nAkida 2-conv + 2-FC MNIST ({len(net.layers)} layers), {n} test images")
    rows = {}
    for c in sorted({1, cores}):
        on = f"{c} core{'s' * (c > 1)}"
        rows[f"akida.Model.forward, {on}"] = in_process(akida_engine_run, net, levels, c)
        rows[f"neuroemu tensor, {on} (Emulation.run)"] = in_process(
            pinned, c, neuroemu_run, net, x, cache, "tensor", c, bs
        )
    n_ref = args.akida_reference_samples
    rows["numpy reference, 1 core"] = in_process(
        pinned, 1, akida_reference_run, net, levels[:n_ref]
    )
    if args.akida_brian2_samples:
        n_b2 = args.akida_brian2_samples
        rows["neuroemu cpp_standalone, 1 core"] = row = in_process(
            pinned, 1, neuroemu_run, net, x[:n_b2], cache, "cpp_standalone", 1, min(bs, n_b2)
        )
        row["build_s"] = row["compile_s"]
    engine = rows["akida.Model.forward, 1 core"]["output"]
    reference = rows["numpy reference, 1 core"]["counts"]
    last = net.layer_names[-1]
    checks = {}
    print(f"{'engine':44s} {'samples':>7s} {'samples/s':>10s} {'peak MB':>8s}")
    for name, row in rows.items():
        out = row["output"] if "output" in row else row["counts"][last]
        row["samples"] = len(out)
        row["samples_per_s"] = row["samples"] / row["seconds"]
        print(f"{name:44s} {row['samples']:7d} {row['samples_per_s']:10.1f} {row['peak_mb']:8.0f}")
        checks[f"Akida {name}: output = 1-core akida.Model.forward"] = np.array_equal(
            out, engine[: len(out)]
        )
        if "counts" in row and row is not rows["numpy reference, 1 core"]:
            longer, shorter = sorted((row["counts"], reference), key=lambda c: -len(c[last]))
            checks[f"Akida {name}: every layer = numpy reference"] = same_counts(longer, shorter)
    build = rows.get("neuroemu cpp_standalone, 1 core", {}).get("build_s")
    if build is not None:
        print(f"Akida cpp_standalone first build: {build:.1f} s")
    tensor = akida_new_topology(args, data)
    checks["Akida tensor, new topology: output = numpy reference"] = tensor.pop("check")
    ours = rows["neuroemu tensor, 1 core (Emulation.run)"]["samples_per_s"]
    theirs = rows["akida.Model.forward, 1 core"]["samples_per_s"]
    print(f"neuroemu tensor / akida.Model.forward, 1 core: {ours / theirs:.2f}x (target >= 1)")
    strip = ("counts", "output")
    return {
        "akida_samples_per_s": ours,
        "akida_engine_samples_per_s": theirs,
        "first_build_s": build,
        "tensor": tensor,
        "rows": {k: {f: v for f, v in r.items() if f not in strip} for k, r in rows.items()},
        "checks": checks,
    }


if __name__ == "__main__":
    bench_main(__doc__, add_arguments, run)
