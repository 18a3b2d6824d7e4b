"""What the benchmarks share: the networks, fresh processes, pinning, peak memory, checks, output.

Each benchmark (``bench_loihi``, ``bench_nengo``, ``bench_akida``, ``bench_native``,
``bench_scale``) runs every engine in its own spawned process (:func:`in_process`), so that
its peak memory is its own, and checks every engine's output against another's
(:func:`same_counts`); :func:`finish` prints the checks and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

__all__ = [
    "ROOT",
    "lenet_net",
    "bias_free",
    "peak_mb",
    "in_process",
    "on_cores",
    "pinned",
    "neuroemu_run",
    "numpy_run",
    "matmul_seconds",
    "parallel_capacity",
    "first_samples",
    "same_counts",
    "synaptic_events",
    "add_shared_arguments",
    "finish",
    "bench_main",
]


def lenet_net(timesteps: int, model_path: Path):
    """The LeNet-5 trained on the MNIST training split (cached in ``model_path``), converted."""
    import torch

    from converters import datasets, models, pipeline, training

    data = datasets.mnist()
    model = models.lenet5()
    if model_path.exists():
        model.load_state_dict(torch.load(model_path))
    else:
        torch.manual_seed(0)
        model = training.train(model, data.x_train, data.y_train, epochs=3, lr=2e-3)
        model_path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), model_path)
    net = pipeline.loihi_net(
        model.eval(), data.x_train[:2000], warn_dead=False, timesteps=timesteps
    )
    return net, data


def bias_free(net):
    """``net`` without biases and with reset to zero: what brian2-loihi can express."""
    layers = [replace(layer, bias_mant=None, reset="zero") for layer in net.layers]
    return replace(net, layers=layers)


def peak_mb() -> dict:
    """This process's peak RSS (VmHWM, reset by exec) and its largest finished child's.

    A child's ru_maxrss counts from the parent's size at fork, so it is an upper bound.
    """
    own = next(
        int(line.split()[1]) / 1024
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmHWM")
    )
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_mb": own, "child_peak_mb": children}


def in_process(function, *args) -> dict:
    """Run ``function(*args)`` in a fresh spawned process (own peak memory, own Brian2 device)."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def on_cores(cores: int):
    """Pin this process to its first ``cores`` CPUs with as many BLAS threads (kept alive)."""
    from threadpoolctl import threadpool_limits

    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])
    return threadpool_limits(cores)


def pinned(cores: int, function, *args) -> dict:
    """``function(*args)`` on this process's first ``cores`` CPUs, one BLAS thread each worker."""
    limits = on_cores(1)
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])
    try:
        return function(*args)
    finally:
        limits.restore_original_limits()


def neuroemu_run(net, x, cache: str, device: str, workers: int, batch: int) -> dict:
    """Time ``Emulation.run``; the build time is measured on a first batch beforehand."""
    from emu import Emulation

    sim = Emulation(net, device, batch_size=batch, cache_dir=cache)
    compile_s = None
    if sim.backend.build is not None:
        start = time.perf_counter()
        sim.backend.build.activate()
        compile_s = time.perf_counter() - start
        compiled = sim.backend.build.compiled
    start = time.perf_counter()
    traces = sim.run(x, workers=workers, progress=False)
    seconds = time.perf_counter() - start
    counts = {str(k): traces[f"spike_count_{k}"].values for k in traces["layer"].values}
    out = {"seconds": seconds, "counts": counts, "compile_s": compile_s, **peak_mb()}
    if compile_s is not None:
        out["compiled"] = compiled
    return out


def numpy_run(net, levels, simulate=None) -> dict:
    """A batched numpy simulation of ``net`` on ``levels``, timed: the reference
    (``emu.engines.loihi_reference``, scipy sparse) unless ``simulate(net, levels) -> counts`` is given."""
    from emu.engines import loihi_reference as ref

    start = time.perf_counter()
    simulate = simulate or (lambda n, lv: ref.simulate(n, lv).counts)
    counts = simulate(net, levels)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "counts": counts, **peak_mb()}


def matmul_seconds(repeats: int = 3000) -> float:
    """Seconds of a fixed single-threaded, cache-resident compute kernel."""
    from threadpoolctl import threadpool_limits

    a = np.ones((200, 200))
    with threadpool_limits(1):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ a
        return time.perf_counter() - start


def parallel_capacity() -> float:
    """Throughput of two concurrent compute-bound processes relative to one.

    2.0 on two independent cores; about 1 where the cores share one physical core or a
    quota: then no engine gains from a second worker, and the ratios say so.
    """
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        list(pool.map(time.sleep, [0.5, 0.5]))  # both workers started and idle
        alone = pool.submit(matmul_seconds).result()
        together = [f.result() for f in [pool.submit(matmul_seconds) for _ in range(2)]]
    return 2 * alone / max(together)


def first_samples(data, n: int) -> np.ndarray:
    """The first ``n`` test images, the test set repeated where ``n`` exceeds it."""
    x = data.x_test
    return x[:n] if n <= len(x) else np.resize(x, (n, *x.shape[1:]))


def same_counts(a: dict, b: dict) -> bool:
    """Whether ``b``'s counts equal the counts of ``a`` on ``b``'s samples, every layer."""
    return all(np.array_equal(a[k][: len(b[k])], b[k]) for k in b)


def synaptic_events(net, counts: dict) -> float:
    """Synaptic events per sample: every spike times the synapses of its source neuron."""
    total = 0.0
    for layer in net.layers:
        for p in layer.projections:
            source = counts[p.source]
            fan_out = p.fan_out(source.shape[1])
            total += float(source.astype(np.float64).sum(axis=0) @ fan_out)
    return total / len(next(iter(counts.values())))


def add_shared_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every benchmark reads: steps, batch size, the cached LeNet-5, JSON output."""
    parser.add_argument("--timesteps", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--model", default=str(Path.home() / ".cache/neuroemu/lenet5_mnist.pt"))
    parser.add_argument("--json", help="write the figures to this file")


def finish(figures: dict, json_path: str | None) -> None:
    """Print the checks, write ``figures`` to ``json_path`` and exit non-zero where engines disagree."""
    print("\nagreement of outputs (spike counts, activations), every layer:")
    for name, ok in figures["checks"].items():
        print(f"  {name}: {'yes' if ok else 'NO'}")
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=1, default=float))
    if not all(figures["checks"].values()):
        raise SystemExit("engines disagree")


def bench_main(
    doc: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace, str], dict],
) -> None:
    """The command line of one benchmark: its options and the shared ones, run, report."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    add_shared_arguments(parser)
    add_arguments(parser)
    args = parser.parse_args()
    finish(run(args, tempfile.mkdtemp(prefix="neuroemu-bench-")), args.json)
