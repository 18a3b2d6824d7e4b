"""Measure each Loihi conversion knob's effect on accuracy, latency, power and energy, for the docs.

Starts from one base conversion (the demo's: percentile 99.9, reset by subtraction, bias
input, 128 steps, fewest cores) and varies one knob at a time: normalization percentile,
reset mode, input encoding, timesteps, cores per layer. Every setting is emulated (the
numpy reference by default, Brian2's cpp_standalone device with ``--engine brian2``, the same
integers) and estimated with :func:`hwmodels.loihi.estimate`; the NCS2 baseline of the same network gives the ratios. Writes one PNG per knob, a markdown
table per knob and a JSON file of every figure::

    python scripts/knob_sweep.py --dataset digits --samples 300 --out docs/figures
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

import converters
import hwmodels
from converters import datasets, models, training
from emu import Emulation, loihi_reference

BASE = {"percentile": 99.9, "reset": "subtract", "encoding": "bias", "timesteps": 128, "cores": 1}
KNOBS = {
    "percentile": [99.0, 99.9, 99.99, 100.0],
    "reset": ["subtract", "zero"],
    "encoding": ["bias", "rate"],
    "timesteps": [16, 32, 64, 128, 256],
    "cores": [1, 2, 4],
}
METRICS = (
    ("accuracy", "accuracy (%)", 100.0),
    ("latency", "latency (ms)", 1e3),
    ("power", "power (mW)", 1e3),
    ("energy", "energy (uJ)", 1e6),
)


def trained_model(dataset: str, data: datasets.Dataset, epochs: int | None):
    """The demo's shipped digits CNN, or LeNet-5 trained now on the MNIST split."""
    if dataset == "digits":
        from neuroemu.demo import demo_model

        return demo_model(Path("neuroemu-out"))
    model = models.lenet5()
    training.train(model, data.x_train, data.y_train, epochs=epochs or 10, lr=1e-3, batch_size=32)
    return model.eval()


def emulate(model, data, x, y, setting: dict, args: argparse.Namespace):
    """Convert and emulate one setting: the LoihiNet, its traces and the seconds the run took.

    ``--engine reference`` runs the numpy reference, ``brian2`` Brian2's cpp_standalone
    device (one C++ build per topology): the two give the same integers.
    """
    graph = converters.load(model, data.x_train[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = converters.normalize(graph, data.x_train[:2000], percentile=setting["percentile"])
    net = converters.to_loihi(
        graph,
        timesteps=setting["timesteps"],
        reset=setting["reset"],
        input_encoding=setting["encoding"],
    )
    start = time.perf_counter()
    if args.engine == "brian2":
        traces = Emulation(net, device="cpp_standalone", batch_size=128).run(
            x, y, workers=args.workers
        )
    else:
        traces = loihi_reference.reference_traces(net, x, y)
    return net, traces, time.perf_counter() - start


def figures_of(net, traces, seconds: float, setting: dict) -> dict:
    """Estimate one setting (its cores: the fewest that fit, times the knob) per inference."""
    cores = {  # at most one neuron per core
        m.layer: min(m.cores * setting["cores"], len(m.core)) for m in hwmodels.loihi.map_cores(net)
    }
    est = hwmodels.loihi.estimate(net, traces, cores)
    return {
        "setting": setting,
        "accuracy": est.accuracy,
        "latency": est.latency,
        "power": est.power,
        "energy": est.energy,
        "spikes_per_image": float(traces["spikes_per_step"].sum().values) / traces.sizes["sample"],
        "cores": int(sum(cores.values())),
        "saturation": int(traces["saturation"].sum().values),
        "emulation_seconds": seconds,
    }


def settings() -> list[dict]:
    """The base setting, then one knob changed at a time (no setting twice)."""
    out = [dict(BASE)]
    for knob, values in KNOBS.items():
        out += [BASE | {knob: v} for v in values if v != BASE[knob]]
    return out


def knob_rows(results: list[dict], knob: str) -> list[dict]:
    """The results that differ from the base in ``knob`` only (the base included), in order."""
    rows = [r for r in results if all(r["setting"][k] == BASE[k] for k in BASE if k != knob)]
    return sorted(rows, key=lambda r: KNOBS[knob].index(r["setting"][knob]))


def table(rows: list[dict], knob: str, ncs2: hwmodels.Estimate) -> str:
    """A markdown table of one knob's rows, with ratios against the NCS2."""
    lines = [
        f"| {knob} | accuracy | latency (ms) | power (mW) | energy (uJ) | spikes/image "
        "| cores | power vs NCS2 | energy vs NCS2 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mark = " (base)" if r["setting"][knob] == BASE[knob] else ""
        lines.append(
            f"| {r['setting'][knob]}{mark} | {100 * r['accuracy']:.2f}% | {1e3 * r['latency']:.3f} "
            f"| {1e3 * r['power']:.2f} | {1e6 * r['energy']:.2f} | {r['spikes_per_image']:,.0f} "
            f"| {r['cores']} | {ncs2.power / r['power']:.1f}x | {ncs2.energy / r['energy']:.1f}x |"
        )
    return "\n".join(lines) + "\n"


def figure(rows: list[dict], knob: str, dnn: float, path: Path, title: str) -> None:
    """Four panels: accuracy (with the DNN's), latency, power and energy against the knob."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [str(r["setting"][knob]) for r in rows]
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.0), layout="constrained")
    for ax, (key, name, scale) in zip(axes, METRICS, strict=True):
        ax.plot(labels, [scale * r[key] for r in rows], "o-")
        if key == "accuracy":
            ax.axhline(100 * dnn, color="grey", ls="--", label="DNN")
            ax.legend(loc="lower right")
        ax.set_xlabel(knob)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    parser.add_argument("--mnist-dir", help="directory of the MNIST idx files")
    parser.add_argument("--samples", type=int, default=300, help="test samples (default 300)")
    parser.add_argument("--epochs", type=int, help="LeNet-5 training epochs (mnist)")
    parser.add_argument("--engine", choices=("reference", "brian2"), default="reference")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (brian2)")
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    args = parser.parse_args()

    start = time.perf_counter()
    data = datasets.digits() if args.dataset == "digits" else datasets.mnist(args.mnist_dir)
    model = trained_model(args.dataset, data, args.epochs)
    x, y = data.x_test[: args.samples], data.y_test[: args.samples]
    ncs2 = hwmodels.ncs2.baseline(model, x, y, label="NCS2 (DNN)")
    print(ncs2.summary(), flush=True)
    results, runs = [], {}
    for setting in settings():
        emulated = setting | {"cores": BASE["cores"]}  # cores change the estimate, not the run
        key = json.dumps(emulated, sort_keys=True)
        if key not in runs:
            runs[key] = emulate(model, data, x, y, emulated, args)
        results.append(figures_of(*runs[key], setting))
        r = results[-1]
        print(
            f"{setting}: acc {100 * r['accuracy']:.2f}% energy {1e6 * r['energy']:.2f} uJ "
            f"({r['emulation_seconds']:.0f} s)",
            flush=True,
        )
    write_outputs(args, len(x), results, ncs2, time.perf_counter() - start)


def write_outputs(
    args, samples: int, results: list[dict], ncs2: hwmodels.Estimate, seconds: float
) -> None:
    """The figures, the markdown tables and the JSON record of the run."""
    args.out.mkdir(parents=True, exist_ok=True)
    for knob in KNOBS:
        rows = knob_rows(results, knob)
        title = f"{args.dataset}: {knob}, {samples} test samples, Loihi estimates"
        figure(rows, knob, ncs2.accuracy, args.out / f"knob_{args.dataset}_{knob}.png", title)
        (args.out / f"knob_{args.dataset}_{knob}.md").write_text(table(rows, knob, ncs2))
    record = {
        "command": f"python scripts/knob_sweep.py --dataset {args.dataset} "
        f"--samples {args.samples} --engine {args.engine} --workers {args.workers} --out {args.out}",
        "samples": samples,
        "dnn_accuracy": ncs2.accuracy,
        "ncs2": {"latency": ncs2.latency, "power": ncs2.power, "energy": ncs2.energy},
        "results": results,
        "seconds": seconds,
        "numpy": np.__version__,
    }
    (args.out / f"knob_{args.dataset}.json").write_text(json.dumps(record, indent=1))
    print(f"wrote {args.out}/knob_{args.dataset}_*.png, *.md and .json in {seconds:.0f} s")


if __name__ == "__main__":
    main()
