"""Benchmark nengo-loihi 1.1's emulator on the bias-free, reset-to-zero MNIST LeNet-5.

The network runs as integer LoihiBlocks on one core and is checked against the numpy
reference of the same variant. nengo-loihi needs ``numpy<2``, so
scripts/nengo_loihi_engine.py runs it in its own virtual environment (``--nengo-python``,
default ``$NEUROEMU_NENGO_PYTHON`` or /opt/nengo-loihi-venv/bin/python; the row is skipped,
saying why, where it is missing)::

    python -m venv /opt/nengo-loihi-venv
    /opt/nengo-loihi-venv/bin/pip install nengo-loihi==1.1.0 nengo==3.2.0 "numpy<2" scipy

    python scripts/bench_nengo.py [--nengo-samples 2]   (or python scripts/bench.py --parts nengo)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from bench_common import ROOT, bench_main, bias_free, lenet_net

__all__ = ["add_arguments", "run", "export_for_nengo", "nengo_figures"]

NENGO_ENGINE = ROOT / "scripts" / "nengo_loihi_engine.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The nengo-loihi benchmark's options: its Python and its samples."""
    parser.add_argument(
        "--nengo-python",
        default=os.environ.get("NEUROEMU_NENGO_PYTHON", "/opt/nengo-loihi-venv/bin/python"),
        help="python of the nengo-loihi environment (default $NEUROEMU_NENGO_PYTHON)",
    )
    parser.add_argument("--nengo-samples", type=int, default=2)


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


def run(args, cache: str | None = None) -> dict:
    """nengo-loihi's emulator on the bias-free, reset-to-zero LeNet-5, checked against numpy
    (it builds nothing cached: ``cache`` is unused)."""
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


if __name__ == "__main__":
    bench_main(__doc__, add_arguments, run)
