"""The first paper's headline: Loihi against the NCS2 under each accounting convention.

For MNIST LeNet-5 and the demo's digits CNN, every deployment knob the paper's techniques
move (normalization percentile, reset mode, input encoding, timesteps, cores per layer) is
swept one at a time from the demo's base (``scripts/knob_sweep.py``'s settings), each
setting emulated by the numpy reference (the same integers as Brian2) on a small test
sample and estimated once; its energy under each convention comes from the estimate's
parts (:func:`hwmodels.accounting.energy_under`). The published "up to" ratios are taken
as the best setting within 1 point of the DNN's accuracy. Writes ``headline.md`` and
``headline.json``::

    python scripts/headline.py --samples 100 --out docs/figures
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import knob_sweep  # scripts/ is on the path when run as a script
import torch

import hwmodels
from converters.training import datasets
from hwmodels.headline import markdown, ratios

NETWORKS = {"MNIST LeNet-5": ("mnist", "lenet5"), "digits CNN (demo)": ("digits", "lenet5")}


def sweep(label: str, args: argparse.Namespace) -> dict:
    """Every setting of one network: accuracy, latency, parts and ratios."""
    dataset, architecture = NETWORKS[label]
    data = datasets.digits() if dataset == "digits" else datasets.mnist(args.mnist_dir)
    model = knob_sweep.trained_model(dataset, architecture, data, args.epochs)
    x, y = data.x_test[: args.samples], data.y_test[: args.samples]
    ncs2 = hwmodels.ncs2.baseline(model, x, y, label="NCS2")
    runs, settings = {}, []
    emulate_args = argparse.Namespace(engine="reference", workers=1)
    for setting in knob_sweep.settings():
        emulated = setting | {"cores": knob_sweep.BASE["cores"]}
        key = json.dumps(emulated, sort_keys=True)
        try:
            if key not in runs:
                runs[key] = knob_sweep.emulate(model, data, x, y, emulated, emulate_args)
            net, traces, _ = runs[key]
            cores = {
                m.layer: min(m.cores * setting["cores"], len(m.core))
                for m in hwmodels.loihi.map_cores(net)
            }
            est = hwmodels.loihi.estimate(net, traces, cores_per_layer=cores)
        except ValueError as err:
            settings.append({"setting": setting, "error": f"{type(err).__name__}: {err}"})
            continue
        settings.append(
            {
                "setting": setting,
                "accuracy": est.accuracy,
                "latency": est.latency,
                "parts": est.details["parts"],
                "ratios": ratios(est, ncs2),
            }
        )
        print(f"{label} {setting}: acc {100 * est.accuracy:.1f}%", flush=True)
    return {
        "samples": len(x),
        "dnn_accuracy": ncs2.accuracy,
        "ncs2": {"latency": ncs2.latency, "parts": ncs2.details["parts"], "power": ncs2.power},
        "settings": settings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100, help="test images per setting")
    parser.add_argument("--epochs", type=int, default=2, help="LeNet-5 training epochs")
    parser.add_argument("--mnist-dir", help="directory of the MNIST idx files")
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    records = {label: sweep(label, args) for label in NETWORKS}
    command = (
        f"python scripts/headline.py --samples {args.samples} --epochs {args.epochs} "
        f"--out {args.out}"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "headline.md").write_text(markdown(records, command, knob_sweep.BASE))
    record = {"command": command, "seconds": time.perf_counter() - start, "networks": records}
    (args.out / "headline.json").write_text(json.dumps(record, indent=1))
    print(markdown(records, command, knob_sweep.BASE))


if __name__ == "__main__":
    main()
