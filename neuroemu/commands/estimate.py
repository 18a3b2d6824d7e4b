"""The ``neuroemu estimate``, ``compare`` and ``validate-models`` subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from converters.training import datasets
from hwmodels.accounting import DEFAULT

from .arguments import add_accounting, float_range, int_range, output_file

__all__ = ["register", "cmd_estimate", "cmd_compare", "cmd_validate_models"]


def register(subparsers) -> None:
    """Add ``estimate``, ``compare`` and ``validate-models`` to the ``neuroemu`` subcommands."""
    est = subparsers.add_parser(
        "estimate", help="energy, power and latency per inference from a trace file"
    )
    est.add_argument("traces", help="trace file (.h5) recorded by 'neuroemu run'")
    est.add_argument("--net", required=True, help="the network it was recorded from (.npz)")
    est.add_argument("--constants", help="JSON or TOML file overriding hardware constants")
    est.add_argument(
        "--cores",
        action="append",
        default=[],
        metavar="LAYER=N",
        help="Loihi cores for a layer (repeatable; default: the fewest that fit)",
    )
    est.add_argument(
        "--rate",
        type=float_range(0, low_open=True),
        help="inferences per second, > 0 (default: back to back)",
    )
    est.add_argument("--label", help="name in reports (default: the target chip)")
    add_accounting(est)
    est.add_argument(
        "--out", type=output_file, help="write the estimate as JSON (input to 'neuroemu compare')"
    )
    est.set_defaults(func=cmd_estimate)

    cmp = subparsers.add_parser(
        "compare", help="table and plots of estimates, with ratios against an NCS2 baseline"
    )
    cmp.add_argument("estimates", nargs="*", help="estimate JSON files from 'neuroemu estimate'")
    cmp.add_argument("--out", required=True, help="output directory")
    cmp.add_argument("--traces", help="trace file for a spike raster and per-layer activity")
    cmp.add_argument("--ncs2-model", help="run this model (.onnx, .xml) as the NCS2 baseline")
    cmp.add_argument(
        "--data",
        help="'digits', 'mnist' or an .npz of x, y (default: mnist when the model reads "
        "(1, 28, 28) images, else digits)",
    )
    cmp.add_argument("--mnist-dir", help="directory of the MNIST idx files")
    cmp.add_argument(
        "--samples", type=int_range(1), default=500, help="images for the NCS2 baseline"
    )
    cmp.add_argument("--measured", help="JSON file of measured NCS2 latency and power")
    cmp.add_argument("--constants", help="JSON or TOML file overriding hardware constants")
    add_accounting(cmp)
    cmp.set_defaults(func=cmd_compare)

    val = subparsers.add_parser(
        "validate-models", help="the models against published silicon figures, one table"
    )
    val.add_argument("--json", type=output_file, help="also write the rows as a JSON list")
    val.set_defaults(func=cmd_validate_models)


def _parse_cores(items: list[str]) -> dict[str, int]:
    cores = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not value.isdigit() or int(value) < 1:
            raise ValueError(f"--cores takes LAYER=N with N >= 1, got {item!r}")
        cores[name] = int(value)
    return cores


def _model_options(args: argparse.Namespace, model) -> dict:
    """The Loihi-only options given, refused for a model that does not take them."""
    options = {"cores_per_layer": _parse_cores(args.cores)} if args.cores else {}
    if args.accounting != DEFAULT:
        options["accounting"] = args.accounting
    if set(options) - set(model.options):
        raise ValueError("--cores and --accounting apply to Loihi traces only")
    return options


def _baseline_samples(args: argparse.Namespace, model: Path):
    from .convert import model_sample_shape

    shape = model_sample_shape(model) if model.suffix in (".onnx", ".xml") else None
    x, y = datasets.load_samples(args.data, "test", args.samples, args.mnist_dir, shape)
    if y is None:
        raise ValueError(f"--data {args.data}: the NCS2 baseline needs labels ('y')")
    return x, y


def cmd_estimate(args: argparse.Namespace) -> None:
    """Estimate one trace file and print (and optionally save) the result."""
    from converters.chips.files import load_net
    from emu import load_traces
    from emu.neurobench_metrics import neurobench_metrics
    from hwmodels.constants import load_constants
    from hwmodels.models import models_for

    constants = load_constants(args.constants)
    traces = load_traces(args.traces)
    net = load_net(args.net)
    target = traces.attrs.get("target")
    model = models_for(target)
    result = model.estimate(
        net,
        traces,
        constants=constants,
        rate=args.rate,
        label=args.label or str(target),
        **_model_options(args, model),
    )
    result.details["neurobench"] = neurobench_metrics(traces, net).to_dict()
    print(result.summary())
    if args.out:
        print(f"wrote {result.save(args.out)}")


def cmd_compare(args: argparse.Namespace) -> None:
    """Write the comparison report of saved estimates (and an NCS2 baseline run)."""
    from hwmodels import ncs2, report
    from hwmodels.constants import load_constants
    from hwmodels.estimate import load_estimate

    estimates = [load_estimate(path) for path in args.estimates]
    if args.ncs2_model:
        model = Path(args.ncs2_model)
        if not model.is_file():
            raise FileNotFoundError(f"model file {model} does not exist")
        x, y = _baseline_samples(args, model)
        constants = load_constants(args.constants)
        baseline = ncs2.baseline(
            model, x, y, measured=args.measured, constants=constants, accounting=args.accounting
        )
        estimates.append(baseline)
    if not estimates:
        raise ValueError("give estimate files and/or --ncs2-model")
    result = report.compare(estimates, args.out, traces=args.traces)
    print(result.text)
    print("wrote " + ", ".join(str(p) for p in result.files))


def cmd_validate_models(args: argparse.Namespace) -> None:
    """Print the validation table (and write it as JSON)."""
    from hwmodels import validation

    rows = validation.rows()
    print(validation.table(rows))
    if args.json:
        validation.write_json(rows, args.json)
        print(f"wrote {args.json}")
