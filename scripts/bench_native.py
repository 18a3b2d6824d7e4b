"""Benchmark the native Loihi engine (device "native") on MNIST LeNet-5, one core and thread.

ns per synaptic event, its compile-once seconds in an empty cache and the seconds until a
second topology runs; every spike count checked against the numpy reference.

    python scripts/bench_native.py --json native.json   (or python scripts/bench.py --parts native)
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench_common import (
    bench_main,
    first_samples,
    in_process,
    lenet_net,
    numpy_run,
    peak_mb,
    pinned,
    same_counts,
    synaptic_events,
)

__all__ = ["add_arguments", "run", "vgg_net", "native_ready", "native_run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The native benchmark's options: its samples."""
    parser.add_argument(
        "--native-samples", type=int, default=500, help="samples of the native engine"
    )


def vgg_net(timesteps: int, data):
    """A second topology for the native engine's warm start: an untrained VGG-style net, converted."""
    import torch

    from converters import models, pipeline

    torch.manual_seed(1)
    model = models.vgg((8, 16)).eval()
    return pipeline.loihi_net(model, data.x_train[:500], warn_dead=False, timesteps=timesteps)


def native_ready(net, x, cache: str) -> dict:
    """Seconds from a converted network to its first sample's traces, and the engine's compile."""
    from emu import Emulation

    start = time.perf_counter()
    sim = Emulation(net, "native", batch_size=len(x), cache_dir=cache)
    sim.run(x, progress=False)
    engine = sim.backend.engine
    return {"ready_s": time.perf_counter() - start, "compiled": engine.compiled,
            "compile_s": engine.seconds, "flags": " ".join(engine.flags)}  # fmt: skip


def native_run(net, x, cache: str, threads: int, batch: int) -> dict:
    """``Emulation.run`` on the native engine with ``threads`` OpenMP threads: wall and CPU seconds."""
    os.environ["NEUROEMU_NATIVE_THREADS"] = str(threads)
    from emu import Emulation

    sim = Emulation(net, "native", batch_size=batch, cache_dir=cache)
    sim.run(x[:1], progress=False)  # warm: library loaded, pages touched
    start, cpu = time.perf_counter(), time.process_time()
    traces = sim.run(x, progress=False)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    counts = {str(k): traces[f"spike_count_{k}"].values for k in traces["layer"].values}
    return {"seconds": seconds, "cpu_seconds": cpu, "counts": counts, **peak_mb()}


def run(args, cache: str) -> dict:
    """The native engine on MNIST LeNet-5, one core: ns per synaptic event, compile, warm start."""
    net, data = lenet_net(args.timesteps, Path(args.model))
    x = first_samples(data, args.native_samples)
    cold = str(Path(cache) / "native-cold")  # an empty cache: the engine compiles here
    first = in_process(pinned, 1, native_ready, net, x[:1], cold)
    other = in_process(pinned, 1, native_ready, vgg_net(args.timesteps, data), x[:1], cold)
    row = in_process(pinned, 1, native_run, net, x, cold, 1, args.batch_size)
    reference = in_process(pinned, 1, numpy_run, net, net.input.levels(x))
    events = synaptic_events(net, row["counts"])
    n = len(x)
    ns, ns_cpu = (row[k] / (n * events) * 1e9 for k in ("seconds", "cpu_seconds"))
    print(
        f"\nnative engine (LeNet-5, {n} samples, 1 core, 1 thread): {n / row['seconds']:.1f} "
        f"samples/s, {ns:.3f} ns per synaptic event per core ({ns_cpu:.3f} in CPU time; "
        f"target <= 0.6); compiled once in {first['compile_s']:.1f} s ({first['flags']}); "
        f"a new topology ready in {other['ready_s']:.2f} s (target < 5; LeNet-5 cold "
        f"{first['ready_s']:.1f} s, compile included)"
    )
    checks = {
        "native = numpy reference, every layer": same_counts(reference["counts"], row["counts"]),
        "native engine compiled once": first["compiled"] and not other["compiled"],
    }
    return {
        "ns_per_synaptic_event": ns,
        "ns_per_synaptic_event_cpu": ns_cpu,
        "samples_per_s": n / row["seconds"],
        "samples": n,
        "compile_s": first["compile_s"],
        "first_build_s": first["ready_s"],
        "new_topology_ready_s": other["ready_s"],
        "peak_mb": row["peak_mb"],
        "checks": checks,
    }


if __name__ == "__main__":
    bench_main(__doc__, add_arguments, run)
