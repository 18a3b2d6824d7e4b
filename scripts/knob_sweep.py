"""Measure each Loihi conversion knob's effect on accuracy, latency, power and energy, for the docs.

Starts from one base conversion (the demo's: percentile 99.9, reset by subtraction, bias
input, 128 steps, fewest cores) and varies one knob at a time: normalization percentile,
reset mode, input encoding, timesteps, cores per layer. The network is the demo's digits
CNN, or on MNIST one of ``converters.training.models.ARCHITECTURES`` trained now. Every setting is
emulated (the numpy reference by default, Brian2's cpp_standalone device with ``--engine
brian2``, the same integers) and estimated with :func:`hwmodels.loihi.estimate`; the NCS2
baseline of the same network gives the ratios. A setting the converter or the core mapper
refuses is recorded with the reason. Writes one PNG per knob, a markdown table per knob and
a JSON file of every figure, named ``knob_<dataset>`` (LeNet-5 on MNIST: ``knob_mnist``,
the others ``knob_mnist-<architecture>``); on MNIST it also rewrites the tables across the
architectures swept so far (``knob_mnist-all*.md``)::

    python scripts/knob_sweep.py --dataset digits --samples 300 --out docs/figures
    python scripts/knob_sweep.py --dataset mnist --architecture vgg --samples 200 --epochs 5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import hwmodels
from converters import datasets, models, pipeline, training
from emu import Emulation

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


def sweep_name(dataset: str, architecture: str) -> str:
    """The stem of a sweep's files: the dataset, with the architecture unless it is LeNet-5."""
    return (
        dataset if dataset == "digits" or architecture == "lenet5" else f"{dataset}-{architecture}"
    )


def standard_error(accuracy: float, samples: int) -> float:
    """The binomial standard error of an accuracy measured on ``samples`` images."""
    return float(np.sqrt(accuracy * (1.0 - accuracy) / samples))


def trained_model(dataset: str, architecture: str, data: datasets.Dataset, epochs: int):
    """The demo's shipped digits CNN, or ``architecture`` trained now on the MNIST split."""
    if dataset == "digits":
        from neuroemu.demo import demo_model

        return demo_model(Path("neuroemu-out"))
    model = models.ARCHITECTURES[architecture]()
    training.train(model, data.x_train, data.y_train, epochs=epochs, lr=1e-3, batch_size=32)
    return model.eval()


def emulate(model, data, x, y, setting: dict, args: argparse.Namespace):
    """Convert and emulate one setting: the LoihiNet, its traces and the seconds the run took.

    ``--engine reference`` runs the numpy reference, ``brian2`` Brian2's cpp_standalone
    device (one C++ build per topology): the two give the same integers.
    """
    net = pipeline.loihi_net(
        model,
        data.x_train[:2000],
        percentile=setting["percentile"],
        warn_dead=False,
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
        traces = Emulation(net, device="reference").run(x, y)
    return net, traces, time.perf_counter() - start


def figures_of(net, traces, seconds: float, setting: dict) -> dict:
    """Estimate one setting (its cores: the fewest that fit, times the knob) per inference."""
    cores = {  # at most one neuron per core
        m.layer: min(m.cores * setting["cores"], len(m.core)) for m in hwmodels.loihi.map_cores(net)
    }
    est = hwmodels.loihi.estimate(net, traces, cores_per_layer=cores)
    return {
        "setting": setting,
        "accuracy": est.accuracy,
        "latency": est.latency,
        "power": est.power,
        "energy": est.energy,
        "spikes_per_image": float(traces["spikes_per_step"].sum().values) / traces.sizes["sample"],
        "cores": int(sum(cores.values())),
        "chips": int(est.details["chips"]),
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


def _cell(text: str, limit: int = 160) -> str:
    """One line of ``text`` for a markdown table cell, at most ``limit`` characters."""
    line = " ".join(str(text).split()).replace("|", "\\|")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def accuracy_cell(accuracy: float, samples: int) -> str:
    """An accuracy in percent with its binomial standard error."""
    return f"{100 * accuracy:.2f} ± {100 * standard_error(accuracy, samples):.2f}%"


def table(rows: list[dict], knob: str, ncs2: dict, samples: int) -> str:
    """A markdown table of one knob's rows, with ratios against the NCS2 and refusals' reasons."""
    lines = [
        f"| {knob} | accuracy (± s.e.) | latency (ms) | power (mW) | energy (uJ) | spikes/image "
        "| cores | power vs NCS2 | energy vs NCS2 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mark = " (base)" if r["setting"][knob] == BASE[knob] else ""
        if "error" in r:
            lines.append(
                f"| {r['setting'][knob]}{mark} | not run: {_cell(r['error'])} |" + 7 * " |"
            )
            continue
        chips = f" ({r['chips']} chips)" if r["chips"] > 1 else ""
        lines.append(
            f"| {r['setting'][knob]}{mark} | {accuracy_cell(r['accuracy'], samples)} "
            f"| {1e3 * r['latency']:.3f} | {1e3 * r['power']:.2f} | {1e6 * r['energy']:.2f} "
            f"| {r['spikes_per_image']:,.0f} | {r['cores']}{chips} "
            f"| {ncs2['power'] / r['power']:.1f}x | {ncs2['energy'] / r['energy']:.1f}x |"
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
        ax.plot(labels, [scale * r[key] if key in r else np.nan for r in rows], "o-")
        if key == "accuracy":
            ax.axhline(100 * dnn, color="grey", ls="--", label="DNN")
            ax.legend(loc="lower right")
        ax.set_xlabel(knob)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def measure(model, data, x, y, setting: dict, args, runs: dict) -> dict:
    """One setting's figures, or the setting and why the converter or the mapper refused it.

    ``runs`` caches emulations by setting less the cores, which change the estimate only.
    """
    emulated = setting | {"cores": BASE["cores"]}
    key = json.dumps(emulated, sort_keys=True)
    try:
        if key not in runs:
            runs[key] = emulate(model, data, x, y, emulated, args)
        return figures_of(*runs[key], setting)
    except ValueError as err:  # every refusal of the converter, emulator and mapper is one
        return {"setting": setting, "error": f"{type(err).__name__}: {err}"}


def command(args: argparse.Namespace) -> str:
    """The command line that reruns this sweep."""
    parts = ["python scripts/knob_sweep.py", f"--dataset {args.dataset}"]
    if args.dataset == "mnist":
        parts += [f"--architecture {args.architecture}", f"--epochs {args.epochs}"]
    parts += [f"--samples {args.samples}", f"--engine {args.engine}"]
    if args.engine == "brian2":
        parts.append(f"--workers {args.workers}")
    return " ".join(parts + [f"--out {args.out}"])


def parse_args() -> argparse.Namespace:
    """The command line: the dataset, the architecture, the samples and the engine."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    parser.add_argument(
        "--architecture", choices=tuple(models.ARCHITECTURES), default="lenet5", help="(mnist)"
    )
    parser.add_argument("--mnist-dir", help="directory of the MNIST idx files")
    parser.add_argument("--samples", type=int, default=300, help="test samples (default 300)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (mnist)")
    parser.add_argument("--engine", choices=("reference", "brian2"), default="reference")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (brian2)")
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    args = parser.parse_args()
    if args.dataset == "digits" and args.architecture != "lenet5":
        parser.error("--architecture picks an MNIST network; digits runs the demo's CNN")
    return args


def main() -> None:
    """Train or load the network, measure every setting, write the figures and tables."""
    args = parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    data = datasets.digits() if args.dataset == "digits" else datasets.mnist(args.mnist_dir)
    model = trained_model(args.dataset, args.architecture, data, args.epochs)
    x, y = data.x_test[: args.samples], data.y_test[: args.samples]
    ncs2 = hwmodels.ncs2.baseline(model, x, y, label="NCS2 (DNN)")
    print(ncs2.summary(), flush=True)
    results, runs = [], {}
    for setting in settings():
        r = measure(model, data, x, y, setting, args, runs)
        results.append(r)
        if "error" in r:
            print(f"{setting}: not run, {r['error']}", flush=True)
            continue
        print(
            f"{setting}: acc {100 * r['accuracy']:.2f}% energy {1e6 * r['energy']:.2f} uJ "
            f"({r['emulation_seconds']:.0f} s)",
            flush=True,
        )
    write_outputs(args, len(x), results, ncs2, time.perf_counter() - start)
    if args.dataset == "mnist":
        write_summary(args.out, args.dataset)


def write_outputs(
    args, samples: int, results: list[dict], ncs2: hwmodels.Estimate, seconds: float
) -> None:
    """The figures, the markdown tables and the JSON record of the run."""
    name = sweep_name(args.dataset, args.architecture)
    baseline = {"latency": ncs2.latency, "power": ncs2.power, "energy": ncs2.energy}
    args.out.mkdir(parents=True, exist_ok=True)
    for knob in KNOBS:
        rows = knob_rows(results, knob)
        title = f"{name}: {knob}, {samples} test samples, Loihi estimates"
        figure(rows, knob, ncs2.accuracy, args.out / f"knob_{name}_{knob}.png", title)
        (args.out / f"knob_{name}_{knob}.md").write_text(table(rows, knob, baseline, samples))
    record = {
        "command": command(args),
        "dataset": args.dataset,
        "architecture": args.architecture if args.dataset == "mnist" else "digits_cnn",
        "epochs": args.epochs if args.dataset == "mnist" else None,
        "samples": samples,
        "dnn_accuracy": ncs2.accuracy,
        "ncs2": baseline,
        "results": results,
        "seconds": seconds,
        "numpy": np.__version__,
    }
    (args.out / f"knob_{name}.json").write_text(json.dumps(record, indent=1))
    print(f"wrote {args.out}/knob_{name}_*.png, *.md and .json in {seconds:.0f} s")


def write_summary(out: Path, dataset: str) -> None:
    """The tables across the architectures swept on ``dataset`` so far (their JSON records)."""
    records = {}
    for arch in models.ARCHITECTURES:
        path = out / f"knob_{sweep_name(dataset, arch)}.json"
        if path.exists():
            records[arch] = json.loads(path.read_text())
    lines = [
        "| architecture | epochs | test samples | DNN accuracy (± s.e.) | NCS2 latency (ms) "
        "| NCS2 energy (uJ) | sweep (s) | command |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for arch, rec in records.items():
        lines.append(
            f"| {arch} | {rec['epochs']} | {rec['samples']} "
            f"| {accuracy_cell(rec['dnn_accuracy'], rec['samples'])} "
            f"| {1e3 * rec['ncs2']['latency']:.3f} | {1e6 * rec['ncs2']['energy']:.1f} "
            f"| {rec['seconds']:.0f} | `{rec['command']}` |"
        )
    (out / f"knob_{dataset}-all.md").write_text("\n".join(lines) + "\n")
    for knob in KNOBS:
        (out / f"knob_{dataset}-all_{knob}.md").write_text(summary_table(records, knob))


def summary_table(records: dict[str, dict], knob: str) -> str:
    """One knob across architectures: accuracy, latency, power, energy and energy vs the base."""
    lines = [
        f"| architecture | {knob} | accuracy (± s.e.) | latency (ms) | power (mW) | energy (uJ) "
        "| energy vs base |",
        "|---|---|---|---|---|---|---|",
    ]
    for arch, rec in records.items():
        rows = knob_rows(rec["results"], knob)
        base = next(r for r in rows if r["setting"][knob] == BASE[knob])
        for r in rows:
            value = r["setting"][knob]
            if "error" in r:
                lines.append(f"| {arch} | {value} | not run: {_cell(r['error'], 100)} |" + 4 * " |")
                continue
            change = f"{100 * (r['energy'] / base['energy'] - 1):+.1f}%" if "energy" in base else ""
            lines.append(
                f"| {arch} | {value}{' (base)' if value == BASE[knob] else ''} "
                f"| {accuracy_cell(r['accuracy'], rec['samples'])} | {1e3 * r['latency']:.3f} "
                f"| {1e3 * r['power']:.2f} | {1e6 * r['energy']:.2f} | {change} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
