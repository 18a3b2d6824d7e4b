"""Benchmark exact Loihi and Akida emulators side by side on converted MNIST networks and the same samples.

Loihi (MNIST LeNet-5): neuroemu cpp_standalone (1 and 2 worker processes, and a Dask
LocalCluster of 1 and 2 workers), neuroemu runtime, the batched numpy reference (sparse and
dense) and brian2-loihi; the cost per synaptic event per core and the first build time.
Each engine runs in a fresh process, so its peak memory is its own. brian2-loihi has no bias
and resets to zero only: it runs a variant of the network with biases removed and reset to
zero, on the input spikes of our input layer, and is checked against the numpy reference of
that variant. Slow engines run fewer samples; rates are per sample, so ratios stay fair.

nengo-loihi (part ``nengo``): the same bias-free, reset-to-zero variant in nengo-loihi 1.1's
emulator (integer LoihiBlocks, one core), checked against the numpy reference of the variant.
nengo-loihi needs ``numpy<2``, so scripts/nengo_loihi_engine.py runs it in its own virtual
environment (``--nengo-python``, default ``$NEUROEMU_NENGO_PYTHON`` or
/opt/nengo-loihi-venv/bin/python; the row is skipped, saying why, where it is missing)::

    python -m venv /opt/nengo-loihi-venv
    /opt/nengo-loihi-venv/bin/pip install nengo-loihi==1.1.0 nengo==3.2.0 "numpy<2" scipy

Akida (the 4-bit 2-conv + 2-FC MNIST network): BrainChip's ``akida.Model.forward`` against
neuroemu's ``tensor`` device (its fastest exact path), on one core and on every core, the
numpy reference and the cpp_standalone build (with its first build time, ``akida.first_build_s``);
every output is checked equal to the engine's and every layer to the ``tensor`` device's.
The ``tensor`` device builds nothing: ``akida.tensor.ready_s`` is the time from
``Emulation()`` of a never-seen topology (other layer widths, ``--akida-new-widths``) to
its first output, in a fresh process.

Native (``--parts native``): the Loihi C++ engine of device "native" on the same LeNet-5, one
core and thread: ns per synaptic event, its compile-once seconds in an empty cache and the
seconds until a second topology runs; every spike count checked against the numpy reference.

    python scripts/bench.py [--samples 500] [--timesteps 128] [--steady 1000] [--memory-samples 10000]
    python scripts/bench.py --parts akida --json akida.json
    python scripts/bench.py --parts nengo [--nengo-samples 2]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def lenet_net(timesteps: int, model_path: Path):
    """The LeNet-5 trained on the MNIST training split (cached in ``model_path``), converted."""
    import torch

    import converters
    from converters import datasets, models, training

    data = datasets.mnist()
    model = models.lenet5()
    if model_path.exists():
        model.load_state_dict(torch.load(model_path))
    else:
        torch.manual_seed(0)
        model = training.train(model, data.x_train, data.y_train, epochs=3, lr=2e-3)
        model_path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), model_path)
    graph = converters.load(model.eval(), data.x_train[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = converters.normalize(graph, data.x_train[:2000])
    return converters.to_loihi(graph, timesteps=timesteps), data


def bias_free(net):
    """``net`` without biases and with reset to zero: what brian2-loihi can express."""
    layers = [replace(layer, bias_mant=None, reset="zero") for layer in net.layers]
    return replace(net, layers=layers)


# --- engines (each runs in its own process) ----------------------------------------------


def _peak_mb() -> dict:
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
    out = {"seconds": seconds, "counts": counts, "compile_s": compile_s, **_peak_mb()}
    if compile_s is not None:
        out["compiled"] = compiled
    return out


def cold_run(net, x, cache: str, workers: int, batch: int, out: str | None = None) -> dict:
    """Time everything a user's script pays once the build is cached: Emulation() to traces."""
    from emu import Emulation

    start = time.perf_counter()
    Emulation(net, batch_size=batch, cache_dir=cache).run(x, workers=workers, out=out)
    return {"seconds": time.perf_counter() - start, **_peak_mb()}


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
    return {"cold_seconds": seconds[0], "seconds": seconds[1], "counts": counts[1], **_peak_mb()}


def numpy_run(net, levels, kind: str) -> dict:
    """The batched numpy reference: scipy sparse (``emu.engines.loihi_reference``) or dense matrices."""
    from emu.engines import loihi_reference as ref

    start = time.perf_counter()
    simulate = dense_simulate if kind == "dense" else (lambda n, lv: ref.simulate(n, lv).counts)
    counts = simulate(net, levels)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "counts": counts, **_peak_mb()}


def dense_simulate(net, levels: np.ndarray) -> dict[str, np.ndarray]:
    """Spike counts of a bias-encoded ``net``, with dense float64 weight matrices (exact below 2**53)."""
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
    return {"seconds": seconds, "counts": counts, **_peak_mb()}


def in_process(function, *args) -> dict:
    """Run ``function(*args)`` in a fresh spawned process (own peak memory, own Brian2 device)."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


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


# --- the benchmark ------------------------------------------------------------------------


def _samples(data, n: int) -> np.ndarray:
    """The first ``n`` test images, the test set repeated where ``n`` exceeds it."""
    x = data.x_test
    return x[:n] if n <= len(x) else np.resize(x, (n, *x.shape[1:]))


def same_counts(a: dict, b: dict) -> bool:
    """Whether ``b``'s counts equal the counts of ``a`` on ``b``'s samples, every layer."""
    return all(np.array_equal(a[k][: len(b[k])], b[k]) for k in b)


# --- nengo-loihi's emulator, in its own environment (numpy<2) ----------------------------

NENGO_ENGINE = ROOT / "scripts" / "nengo_loihi_engine.py"


def export_for_nengo(net, levels, path: Path) -> dict:
    """Write ``net`` (bias-free, reset to zero) and its input spikes for scripts/nengo_loihi_engine.py.

    The input spikes are those of our input layer (numpy reference); returns the reference's
    spike counts of the layers.
    """
    from emu.engines import loihi_reference as ref

    if any(layer.bias_mant.any() or layer.reset != "zero" for layer in net.layers):
        raise ValueError("nengo-loihi's row runs bias-free, reset-to-zero networks (bias_free)")
    rec = ref.simulate(net, levels, record_events=True)
    smp, step, layer_index, neuron = rec.events
    keep = layer_index == 0
    layers = [
        {
            "name": layer.name,
            "size": int(layer.size),
            "vth": int(layer.vth),
            "decay_u": int(layer.decay_u),
            "decay_v": int(layer.decay_v),
            "refractory": int(layer.refractory),
            "reset": layer.reset,
        }
        for layer in net.layers
    ]
    sizes = {layer.name: layer.size for layer in net.all_layers()}
    arrays, projections = {}, []
    for layer in net.layers:
        for p in layer.projections:
            w = _csr(p.weight_eff, p.pre, p.post, (sizes[p.source], layer.size))
            k = len(projections)
            projections.append((layer.name, p.source))
            arrays |= {f"w{k}_data": w.data, f"w{k}_indices": w.indices, f"w{k}_indptr": w.indptr}
    meta = {
        "timesteps": net.timesteps,
        "samples": len(levels),
        "input": {"name": net.input.name, "size": net.input.size},
        "layers": layers,
        "projections": projections,
    }
    np.savez(
        path,
        meta=json.dumps(meta),
        input_sample=smp[keep],
        input_step=step[keep],
        input_neuron=neuron[keep],
        **arrays,
    )
    return {layer.name: rec.counts[layer.name] for layer in net.layers}


def _csr(data, rows, cols, shape):
    """An int32 CSR matrix with duplicate entries summed and indices sorted."""
    import scipy.sparse as sp

    w = sp.csr_matrix((np.asarray(data, np.int32), (rows, cols)), shape=shape)
    w.sum_duplicates()
    return w


def _one_core_env() -> dict:
    """This environment with one BLAS/OpenMP thread."""
    threads = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    return os.environ | dict.fromkeys(threads, "1")


def nengo_bench(args) -> dict:
    """nengo-loihi's emulator on the bias-free, reset-to-zero LeNet-5, checked against numpy."""
    python = Path(args.nengo_python) if args.nengo_python else None
    n = args.nengo_samples
    print(f"\nnengo-loihi 1.1 emulator (bias-free, reset-to-zero LeNet-5), {n} samples, one core")
    if python is None or not python.exists():
        reason = (
            f"no python at {python} (--nengo-python or NEUROEMU_NENGO_PYTHON; recreate with "
            "python -m venv /opt/nengo-loihi-venv && /opt/nengo-loihi-venv/bin/pip install "
            "nengo-loihi==1.1.0 nengo==3.2.0 'numpy<2' scipy)"
        )
        print(f"  skipped: {reason}")
        return {"skipped": reason, "checks": {}}
    net, data = lenet_net(args.timesteps, Path(args.model))
    variant = bias_free(net)
    with tempfile.TemporaryDirectory(prefix="neuroemu-nengo-") as tmp:
        reference = export_for_nengo(
            variant, net.input.levels(data.x_test[:n]), Path(tmp) / "net.npz"
        )
        cpu = sorted(os.sched_getaffinity(0))[0]
        proc = subprocess.run(
            [str(python), str(NENGO_ENGINE), f"{tmp}/net.npz", f"{tmp}/out.npz"],
            capture_output=True,
            text=True,
            env=_one_core_env(),
            preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
        )
        if proc.returncode:
            reason = f"{NENGO_ENGINE.name} failed: {proc.stderr.strip().splitlines()[-1:]}"
            print(f"  skipped: {reason}")
            return {"skipped": reason, "checks": {}}
        with np.load(f"{tmp}/out.npz") as out:
            result = {k: out[k] for k in out.files}
    return nengo_figures(result, reference, n)


def nengo_figures(result: dict, reference: dict, n: int) -> dict:
    """Print the nengo-loihi row and its check; the figures."""
    counts = {k.removeprefix("counts_"): v for k, v in result.items() if k.startswith("counts_")}
    differing = [k for k in reference if not np.array_equal(counts.get(k), reference[k])]
    seconds, build_s = float(result["seconds"]), float(result["build_s"])
    notes = json.loads(str(result["warnings"]))
    print(f"{'engine':44s} {'samples':>7s} {'samples/s':>10s} {'build s':>8s}")
    print(f"{'nengo-loihi emulator, 1 core':44s} {n:7d} {n / seconds:10.2f} {build_s:8.1f}")
    print(
        f"counts equal to the numpy reference of the variant: {not differing}"
        + (f" (differing layers: {', '.join(differing)})" if differing else "")
    )
    for note in notes:
        print(f"  the emulator warned: {note}")
    return {
        "samples": n,
        "seconds": seconds,
        "samples_per_s": n / seconds,
        "build_s": build_s,
        "differing_layers": differing,
        "warnings": notes,
        "checks": {"nengo-loihi emulator = numpy (bias-free variant)": not differing},
    }


# --- Akida: the 2-conv + 2-FC MNIST network ----------------------------------------------


def akida_net(path: Path):
    """The 2-conv + 2-FC MNIST network, 4-bit quantization-aware training (4 epochs, seed 0, as
    scripts/akida_qat_mnist.py), converted to Akida and cached in ``path``; and the data."""
    import converters

    data = converters.training.datasets.mnist()
    if path.exists():
        return pickle.loads(path.read_bytes()), data
    import torch

    from converters.chips.akida import AkidaBits
    from converters.targets.akida import to_akida
    from converters.training import train
    from converters.training.models import two_conv_two_fc

    torch.manual_seed(0)
    model = train(two_conv_two_fc(), data, epochs=4, seed=0, quantization=AkidaBits())
    graph = converters.load(model, torch.zeros(1, *data.sample_shape))
    net = to_akida(graph, data.x_train[:1000])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(net))
    return net, data


def _on_cores(cores: int):
    """Pin this process to its first ``cores`` CPUs with as many BLAS threads (kept alive)."""
    from threadpoolctl import threadpool_limits

    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])
    return threadpool_limits(cores)


def akida_engine_run(net, levels, cores: int) -> dict:
    """``akida.Model.forward`` on all ``levels`` in one call (after a warm-up call)."""
    limits = _on_cores(cores)
    from converters.exports.akida_export import akida_forward, to_akida_model

    model = to_akida_model(net)
    akida_forward(net, levels[:8], model)
    start = time.perf_counter()
    out = akida_forward(net, levels, model)
    seconds = time.perf_counter() - start
    del limits
    return {"seconds": seconds, "output": out.reshape(len(out), -1), **_peak_mb()}


def pinned(cores: int, function, *args) -> dict:
    """``function(*args)`` on this process's first ``cores`` CPUs, one BLAS thread each worker."""
    limits = _on_cores(1)
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])
    try:
        return function(*args)
    finally:
        limits.restore_original_limits()


def akida_reference_run(net, levels) -> dict:
    """The numpy reference (``emu.engines.akida_reference.simulate``) on all ``levels``."""
    from emu.engines.akida_reference import simulate

    start = time.perf_counter()
    counts = simulate(net, levels).counts
    return {"seconds": time.perf_counter() - start, "counts": counts, **_peak_mb()}


def akida_widths_net(data, widths: tuple[int, int, int], seed: int = 1):
    """A never-seen topology: the 2-conv + 2-FC network with other widths (conv, conv, FC),
    random weights (torch seed ``seed``), converted to Akida."""
    import torch
    from torch import nn

    import converters
    from converters.targets.akida import to_akida

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
    graph = converters.load(model.eval(), torch.zeros(1, *data.sample_shape))
    return to_akida(graph, data.x_train[:200])


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
    return {"ready_s": ready_s, "import_s": import_s, "equal": equal, **_peak_mb()}


def akida_new_topology(args, data) -> dict:
    """The tensor device on a fresh topology in a fresh process, one core: its ready time."""
    widths = tuple(int(w) for w in args.akida_new_widths.split(","))
    net = akida_widths_net(data, widths)
    row = in_process(pinned, 1, tensor_ready_run, net, _samples(data, 1))
    print(
        f"Akida tensor, a new topology (widths {widths}): first output {row['ready_s']:.2f} s "
        f"after Emulation() (target < 5 s; imports {row['import_s']:.1f} s before)"
    )
    return {k: row[k] for k in ("ready_s", "import_s")} | {"widths": widths, "check": row["equal"]}


def akida_bench(args, cache: str) -> dict:
    """Akida rows (each engine in its own process, pinned), printed, with the checks."""
    net, data = akida_net(Path(args.akida_model))
    x = _samples(data, args.akida_samples)
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


# --- the native Loihi engine (device "native"): compiled once per machine ----------------


def vgg_net(timesteps: int, data):
    """A second topology for the native engine's warm start: an untrained VGG-style net, converted."""
    import torch

    import converters
    from converters.training import models

    torch.manual_seed(1)
    graph = converters.load(models.vgg((8, 16)).eval(), data.x_train[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = converters.normalize(graph, data.x_train[:500])
    return converters.to_loihi(graph, timesteps=timesteps)


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
    return {"seconds": seconds, "cpu_seconds": cpu, "counts": counts, **_peak_mb()}


def native_bench(args, cache: str) -> dict:
    """The native engine on MNIST LeNet-5, one core: ns per synaptic event, compile, warm start."""
    net, data = lenet_net(args.timesteps, Path(args.model))
    x = _samples(data, args.native_samples)
    cold = str(Path(cache) / "native-cold")  # an empty cache: the engine compiles here
    first = in_process(pinned, 1, native_ready, net, x[:1], cold)
    other = in_process(pinned, 1, native_ready, vgg_net(args.timesteps, data), x[:1], cold)
    row = in_process(pinned, 1, native_run, net, x, cold, 1, args.batch_size)
    reference = in_process(pinned, 1, numpy_run, net, net.input.levels(x), "sparse")
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


def synaptic_events(net, counts: dict) -> float:
    """Synaptic events per sample: every spike times the synapses of its source neuron."""
    total = 0.0
    for layer in net.layers:
        for p in layer.projections:
            source = counts[p.source]
            fan_out = p.fan_out(source.shape[1])
            total += float(source.astype(np.float64).sum(axis=0) @ fan_out)
    return total / len(next(iter(counts.values())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500, help="samples of the main engines")
    parser.add_argument("--timesteps", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=128)
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
    parser.add_argument("--model", default=str(Path.home() / ".cache/neuroemu/lenet5_mnist.pt"))
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument(
        "--parts",
        default="loihi,native,nengo,akida",
        help="comma-separated: loihi, native, nengo, akida",
    )
    parser.add_argument(
        "--nengo-python",
        default=os.environ.get("NEUROEMU_NENGO_PYTHON", "/opt/nengo-loihi-venv/bin/python"),
        help="python of the nengo-loihi environment (default $NEUROEMU_NENGO_PYTHON)",
    )
    parser.add_argument("--nengo-samples", type=int, default=2)
    parser.add_argument(
        "--native-samples", type=int, default=500, help="samples of the native engine"
    )
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
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="neuroemu-bench-")
    parts = set(args.parts.split(","))
    figures = loihi_bench(args, cache) if "loihi" in parts else {"checks": {}}
    if "nengo" in parts:
        figures["nengo_loihi"] = nengo_bench(args)
        figures["checks"] |= figures["nengo_loihi"].pop("checks")
    if "akida" in parts:
        figures["akida"] = akida_bench(args, cache)
        figures["checks"] |= figures["akida"]["checks"]
    if "native" in parts:
        figures["native"] = native_bench(args, cache)
        figures["checks"] |= figures["native"]["checks"]
    print("\nagreement of outputs (spike counts, activations), every layer:")
    for name, ok in figures["checks"].items():
        print(f"  {name}: {'yes' if ok else 'NO'}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, default=float))
    if not all(figures["checks"].values()):
        raise SystemExit("engines disagree")


def loihi_bench(args, cache: str) -> dict:
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
    for kind in ("sparse", "dense"):
        rows[f"numpy reference, {kind}"] = in_process(numpy_run, net, levels[: n_np[kind]], kind)
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

    reference_variant = in_process(numpy_run, variant, levels[:n_bl], "sparse")
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
            seconds[n] = in_process(cold_run, net, _samples(data, n), cache, 1, bs)["seconds"]
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
        row = in_process(cold_run, net, _samples(data, n), cache, 2, bs, out)
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
    main()
