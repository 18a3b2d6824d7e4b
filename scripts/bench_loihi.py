"""Benchmark the exact Loihi emulators side by side on MNIST LeNet-5 and the same samples.

neuroemu cpp_standalone (1 and 2 worker processes, and a Dask LocalCluster of 1 and 2
workers), neuroemu runtime, the batched numpy reference (sparse, and with dense matrices as
a comparison point) and brian2-loihi; the cost per synaptic event per core and the first
build time. Each engine runs in a fresh process, so its peak memory is its own. brian2-loihi
has no bias and resets to zero only: it runs a variant of the network with biases removed
and reset to zero, on the input spikes of our input layer, and is checked against the numpy
reference of that variant. Slow engines run fewer samples; rates are per sample, so ratios
stay fair. ``python scripts/bench.py --parts loihi`` runs the same.

    python scripts/bench_loihi.py [--samples 500] [--timesteps 128] [--steady 1000] [--memory-samples 10000]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from bench_common import (
    bench_main,
    bias_free,
    first_samples,
    in_process,
    lenet_net,
    neuroemu_run,
    numpy_run,
    parallel_capacity,
    peak_mb,
    same_counts,
    synaptic_events,
)

__all__ = ["add_arguments", "run", "dense_simulate"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The Loihi benchmark's options: samples per engine, steady-state and memory runs."""
    parser.add_argument("--samples", type=int, default=500, help="samples of the main engines")
    parser.add_argument("--numpy-samples", type=int, default=100)
    parser.add_argument(
        "--dense-samples", type=int, default=20, help="samples of the (slow) dense reference"
    )
    parser.add_argument("--runtime-samples", type=int, default=4)
    parser.add_argument("--brian2-loihi-samples", type=int, default=2)
    parser.add_argument("--dask-samples", type=int, default=500)
    parser.add_argument(
        "--steady",
        type=int,
        default=0,
        help="also time fresh runs of 100 and this many samples (e.g. 1000), start-up included",
    )
    parser.add_argument(
        "--memory-samples",
        type=int,
        default=0,
        help="also run this many samples (e.g. 10000) to an HDF5 file with 2 workers, peak memory",
    )


def cold_run(net, x, cache: str, workers: int, batch: int, out: str | None = None) -> dict:
    """Time everything a user's script pays once the build is cached: Emulation() to traces."""
    from emu import Emulation

    start = time.perf_counter()
    Emulation(net, batch_size=batch, cache_dir=cache).run(x, workers=workers, out=out)
    return {"seconds": time.perf_counter() - start, **peak_mb()}


def dask_run(net, x, cache: str, workers: int, batch: int) -> dict:
    """Time two runs on a fresh LocalCluster of ``workers`` single-threaded worker processes.

    The first run pays each worker's start-up (imports, Brian2 code generation of the cached
    build); the second finds the workers ready, as a long-lived cluster would be.
    """
    from distributed import Client, LocalCluster

    from emu import Emulation

    sim = Emulation(net, batch_size=batch, cache_dir=cache)
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        seconds, counts = [], []
        for _ in range(2):
            start = time.perf_counter()
            traces = sim.run(x, scheduler=client, progress=False)
            seconds.append(time.perf_counter() - start)
            counts.append(
                {str(k): traces[f"spike_count_{k}"].values for k in traces["layer"].values}
            )
    if not same_counts(counts[0], counts[1]):
        raise RuntimeError("two Dask runs of the same samples disagree")
    return {"cold_seconds": seconds[0], "seconds": seconds[1], "counts": counts[1], **peak_mb()}


def dense_simulate(net, levels: np.ndarray) -> dict[str, np.ndarray]:
    """Spike counts of a bias-encoded ``net``, with dense float64 weight matrices (exact below 2**53).

    Not a second reference: ``emu.engines.loihi_reference`` is the reference (its counts are checked
    equal to this). This is the row "numpy reference, dense" of the table, a comparison point:
    how fast plain numpy gets with dense BLAS products in place of scipy's sparse ones.
    """
    from converters.chips import loihi as chip

    if net.input.encoding != "bias":
        raise ValueError("the dense reference handles bias-encoded inputs only")
    batch = len(levels)
    layers = net.all_layers()
    index = {layer.name: k for k, layer in enumerate(layers)}
    weights = []
    for layer in layers:
        mats = []
        for p in layer.projections:
            w = np.zeros((layers[index[p.source]].size, layer.size))
            np.add.at(w, (p.pre, p.post), p.weight_eff.astype(np.float64))
            mats.append((index[p.source], w))
        weights.append(mats)
    states = [chip.LayerState.zeros(batch, layer.size) for layer in layers]
    biases = [np.broadcast_to(layer.bias, (batch, layer.size)) for layer in layers]
    biases[0] = np.asarray(levels, np.int64) << chip.MANT_SHIFT
    inputs = [np.zeros((batch, layer.size), np.int64) for layer in layers]
    counts = [np.zeros((batch, layer.size), np.int32) for layer in layers]
    for _ in range(net.timesteps):
        spikes = [
            chip.step_layer(states[k], layers[k], inputs[k], biases[k]) for k in index.values()
        ]
        for k in range(len(layers)):
            acc = np.zeros((batch, layers[k].size))
            for src, w in weights[k]:
                acc += spikes[src].astype(np.float64) @ w
            inputs[k] = acc.astype(np.int64)
            counts[k] += spikes[k]
    return {layer.name: c for layer, c in zip(layers, counts, strict=True)}


def brian2_loihi_run(net, levels) -> dict:
    """brian2-loihi on ``net`` (bias-free, reset to zero), one network per sample.

    The input spikes are those of our input layer (numpy reference); a brian2-loihi generator
    spike at step t + 1 is the input of step t.
    """
    import brian2
    from brian2_loihi import (
        LoihiNetwork,
        LoihiNeuronGroup,
        LoihiSpikeGeneratorGroup,
        LoihiSpikeMonitor,
        LoihiSynapses,
    )

    from emu.engines import loihi_reference as ref

    if any(layer.bias_mant.any() or layer.reset != "zero" for layer in net.layers):
        raise ValueError("nengo-loihi's row runs bias-free, reset-to-zero networks (bias_free)")
    rec = ref.simulate(net, levels, record_events=True)
    smp, step, layer_index, neuron = rec.events
    brian2.prefs.codegen.target = "numpy"
    counts = {layer.name: np.zeros((len(levels), layer.size), np.int32) for layer in net.layers}
    seconds = 0.0
    for s in range(len(levels)):
        keep = (smp == s) & (layer_index == 0)
        start = time.perf_counter()
        brian2.start_scope()
        groups = {"input": LoihiSpikeGeneratorGroup(net.input.size, neuron[keep], step[keep] + 1)}
        objects, monitors = [groups["input"]], {}
        for layer in net.layers:
            g = LoihiNeuronGroup(
                layer.size,
                refractory=layer.refractory,
                threshold_v_mant=layer.vth_mant,
                decay_v=layer.decay_v,
                decay_I=layer.decay_u,
            )
            groups[layer.name] = g
            for p in layer.projections:
                syn = LoihiSynapses(groups[p.source], g, w_exp=p.weight_exp, sign_mode=1)
                syn.connect(i=p.pre, j=p.post)
                syn.w = p.weight_mant.astype(np.int64)
                objects.append(syn)
            monitors[layer.name] = LoihiSpikeMonitor(g)
            objects += [g, monitors[layer.name]]
        LoihiNetwork(*objects).run(net.timesteps)
        seconds += time.perf_counter() - start
        for name, mon in monitors.items():
            counts[name][s] = np.bincount(np.asarray(mon.i, int), minlength=counts[name].shape[1])
    return {"seconds": seconds, "counts": counts, **peak_mb()}


def run(args, cache: str) -> dict:
    """The Loihi rows on MNIST LeNet-5, printed; the figures and checks."""
    net, data = lenet_net(args.timesteps, Path(args.model))
    x = data.x_test[: args.samples]
    levels = net.input.levels(x)
    n_syn = sum(len(p.pre) for layer in net.layers for p in layer.projections)
    print(
        f"LeNet-5 on MNIST: {sum(layer.size for layer in net.all_layers())} compartments, "
        f"{n_syn} synapses, {args.timesteps} steps; {len(x)} samples"
    )
    capacity = parallel_capacity()
    print(
        f"this machine: {os.cpu_count()} CPUs; two compute-bound processes run at {capacity:.2f}x "
        "the throughput of one"
    )
    bs = args.batch_size
    rows: dict[str, dict] = {}

    first = in_process(neuroemu_run, net, x[:bs], cache, "cpp_standalone", 1, bs)
    second = in_process(neuroemu_run, net, x[:bs], cache, "cpp_standalone", 1, bs)
    print(
        f"compile: first build {first['compile_s']:.1f} s (compiled: {first['compiled']}), "
        f"second process {second['compile_s']:.1f} s (compiled: {second['compiled']})"
    )
    rows["neuroemu cpp_standalone, 1 worker"] = r1 = in_process(
        neuroemu_run, net, x, cache, "cpp_standalone", 1, bs
    )
    r1["samples"] = len(x)
    rows["neuroemu cpp_standalone, 2 workers"] = r2 = in_process(
        neuroemu_run, net, x, cache, "cpp_standalone", 2, bs
    )
    r2["samples"] = len(x)
    rows["neuroemu runtime"] = in_process(
        neuroemu_run, net, x[: args.runtime_samples], cache, "runtime", 1, bs
    )
    rows["neuroemu runtime"]["samples"] = args.runtime_samples
    n_np = {"sparse": args.numpy_samples, "dense": args.dense_samples}
    simulators = {"sparse": None, "dense": dense_simulate}
    for kind in ("sparse", "dense"):
        rows[f"numpy reference, {kind}"] = in_process(
            numpy_run, net, levels[: n_np[kind]], simulators[kind]
        )
        rows[f"numpy reference, {kind}"]["samples"] = n_np[kind]
    variant = bias_free(net)
    n_bl = args.brian2_loihi_samples
    theirs = in_process(brian2_loihi_run, variant, levels[:n_bl])
    theirs["samples"] = n_bl
    rows["brian2-loihi (bias-free, reset to zero)"] = theirs
    nd = min(args.dask_samples, len(x))
    for workers in (1, 2):
        row = in_process(dask_run, net, x[:nd], cache, workers, bs)
        row["samples"] = nd
        rows[f"neuroemu on Dask LocalCluster, {workers} worker{'s' * (workers > 1)}, warm"] = row

    base = r2["samples"] / r2["seconds"]
    print(
        f"\n{'engine':44s} {'samples':>7s} {'samples/s':>10s} {'2-worker x':>10s} {'peak MB':>8s} {'child MB':>8s}"
    )
    for name, row in rows.items():
        rate = row["samples"] / row["seconds"]
        print(
            f"{name:44s} {row['samples']:7d} {rate:10.2f} {base / rate:10.2f} {row['peak_mb']:8.0f} {row['child_peak_mb']:8.0f}"
        )
    print("(peak MB: the engine's process; child MB: its largest child, an upper bound)")

    reference_variant = in_process(numpy_run, variant, levels[:n_bl])
    checks = {
        "cpp 2 workers = 1 worker": same_counts(r2["counts"], r1["counts"]),
        "runtime = cpp": same_counts(r1["counts"], rows["neuroemu runtime"]["counts"]),
        "numpy sparse = cpp": same_counts(r1["counts"], rows["numpy reference, sparse"]["counts"]),
        "numpy dense = cpp": same_counts(r1["counts"], rows["numpy reference, dense"]["counts"]),
        "Dask = cpp": all(
            same_counts(r1["counts"], rows[k]["counts"]) for k in rows if "Dask" in k
        ),
        "brian2-loihi = numpy (bias-free variant)": same_counts(
            reference_variant["counts"], theirs["counts"]
        ),
    }
    best_numpy = max(
        rows[f"numpy reference, {k}"]["samples"] / rows[f"numpy reference, {k}"]["seconds"]
        for k in ("sparse", "dense")
    )
    d1, d2 = (rows[k] for k in rows if "Dask" in k)
    print(f"\n2 workers / best numpy: {base / best_numpy:.1f}x (target >= 3)")
    print(f"2 workers / brian2-loihi: {base / (n_bl / theirs['seconds']):.1f}x (target >= 50)")
    print(f"2 workers / 1 worker: {base / (len(x) / r1['seconds']):.2f}x")
    print(
        f"Dask 2 workers / 1 worker: {d1['seconds'] / d2['seconds']:.2f}x on warm workers "
        f"(target >= 1.6); first run on a fresh cluster {d1['cold_seconds'] / d2['cold_seconds']:.2f}x"
    )
    events = synaptic_events(net, r1["counts"])
    ns = r1["seconds"] / (len(x) * events) * 1e9
    print(
        f"cpp_standalone, 1 worker: {events / 1e6:.2f}M synaptic events per sample, "
        f"{ns:.2f} ns per synaptic event per core (target <= 0.6); first build "
        f"{first['compile_s']:.1f} s"
    )
    figures = {
        "ns_per_synaptic_event": ns,
        "synaptic_events_per_sample": events,
        "first_build_s": first["compile_s"],
        "parallel_capacity": capacity,
        "rows": {
            k: {f: v for f, v in r.items() if f != "counts"}
            | {"samples_per_s": r["samples"] / r["seconds"]}
            for k, r in rows.items()
        },
    }
    if args.steady:
        seconds = {}
        for n in (100, args.steady):
            seconds[n] = in_process(cold_run, net, first_samples(data, n), cache, 1, bs)["seconds"]
        marginal = (seconds[args.steady] - seconds[100]) / (args.steady - 100) * 1e3
        total = seconds[args.steady] / args.steady * 1e3
        print(
            f"per-sample cost, 1 worker, fresh process, start-up included: {total:.1f} ms over "
            f"{args.steady} samples; steady state {marginal:.1f} ms "
            f"({total / marginal - 1:+.1%}, target within 10%)"
        )
        figures["ms_per_sample"] = {"total": total, "steady": marginal}
    if args.memory_samples:
        out = str(Path(cache) / "memory_run.h5")
        n = args.memory_samples
        row = in_process(cold_run, net, first_samples(data, n), cache, 2, bs, out)
        size = Path(out).stat().st_size / 2**20
        print(
            f"{n} samples, 2 workers, to HDF5 ({size:.0f} MiB): {n / row['seconds']:.1f} samples/s, "
            f"peak memory {row['peak_mb']:.0f} MB, largest worker {row['child_peak_mb']:.0f} MB "
            "(target < 2 GB)"
        )
        figures["memory_run"] = {"samples": n, **row, "file_mib": size}
    figures |= {
        "checks": checks,
        "compile_s": {"first": first["compile_s"], "second": second["compile_s"]},
    }
    return figures


if __name__ == "__main__":
    bench_main(__doc__, add_arguments, run)
