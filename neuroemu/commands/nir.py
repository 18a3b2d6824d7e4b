"""The ``neuroemu nir export`` and ``neuroemu nir import`` subcommands."""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from converters.chips.files import load_net, save_net
from converters.chips.loihi import RESETS
from converters.exports.nir_activity import silence_warning
from converters.exports.nir_export import DEFAULT_EXPORT_DT, NEURONS, NIRExportError, write_nir
from converters.frontends.nir_import import (
    LIBRARY_IMPORT_DT,
    NIRImportError,
    read_nir,
    saturation_risks,
)

from .arguments import float_range, int_range, output_file

__all__ = ["register", "cmd_export", "cmd_import"]


def register(subparsers) -> None:
    """Add ``nir export`` and ``nir import`` to the ``neuroemu`` argument parser's subcommands."""
    nir = subparsers.add_parser("nir", help="NIR graphs: export a Loihi network, import a graph")
    commands = nir.add_subparsers(dest="nir_command", metavar="{export,import}", required=True)
    export = commands.add_parser("export", help="write a saved LoihiNet as a NIR file")
    export.add_argument("net", help="network saved by neuroemu (.npz)")
    export.add_argument("out", type=output_file, help="NIR file to write (.nir, HDF5)")
    export.add_argument(
        "--neuron",
        choices=NEURONS,
        default="IF",
        help="IF: IF and CubaLIF nodes (sinabs, Norse); LIF: LIF nodes (snntorch)",
    )
    export.add_argument(
        "--dt",
        type=float_range(0, low_open=True),
        help="seconds per step in the time constants, finite and > 0; default: the step the "
        f"target library runs, {DEFAULT_EXPORT_DT['IF']:g} for IF (sinabs, Norse), "
        f"{DEFAULT_EXPORT_DT['LIF']:g} for LIF (snntorch, silent at 1)",
    )
    export.add_argument(
        "--spike-input",
        action="store_true",
        help="leave out the input population: the graph's Input takes its spike trains",
    )
    export.add_argument(
        "--strict", action="store_true", help="refuse what only neuroemu's metadata keeps"
    )
    export.add_argument(
        "--calibration",
        metavar="NPY",
        help="inputs in [0, 1], (samples, *input shape), on which the exported graph must spike "
        f"where its library runs it (default: {CHECK_SAMPLES} random inputs)",
    )
    export.set_defaults(func=cmd_export)
    imp = commands.add_parser("import", help="read a NIR file into a LoihiNet and save it")
    imp.add_argument("graph", help="NIR file (.nir, HDF5)")
    imp.add_argument("--out", required=True, type=output_file, help="network file to write (.npz)")
    imp.add_argument(
        "--timesteps", type=int_range(1), help="steps per sample, >= 1 (default: the graph's)"
    )
    imp.add_argument(
        "--dt",
        type=float_range(0, low_open=True),
        help="the graph's time per step in seconds, > 0 (default: the graph's dt metadata): "
        + ", ".join(f"{lib} {dt:g}" for lib, dt in LIBRARY_IMPORT_DT.items()),
    )
    imp.add_argument(
        "--reset",
        choices=RESETS,
        help="reset of every layer of another tool's graph (default zero, NIR's; sinabs' IAF "
        "subtracts); neuroemu's own graphs keep theirs",
    )
    imp.set_defaults(func=cmd_import)


CHECK_SAMPLES = 8  # random inputs the export is checked on without --calibration
SATURATION_REMEDY = (
    "the emulation will count these saturations (neuroemu inspect); remedy: rescale the "
    "source network's weights against its thresholds, give the weights more bits (a larger "
    "weight exponent), or normalize the source with a lower percentile before exporting it"
)


def _cli_words(message: str) -> str:
    """A library message in the command's flags: ``pass dt=`` becomes ``pass --dt``."""
    for python, flag in (
        ("pass timesteps=", "pass --timesteps N"),
        ("pass dt=", "pass --dt SECONDS"),
        ("pass reset='subtract'", "pass --reset subtract"),
    ):
        message = message.replace(python, flag)
    return message


def cmd_export(args: argparse.Namespace) -> None:
    try:
        net = load_net(args.net)
    except (OSError, ValueError, KeyError) as err:
        raise SystemExit(f"error: cannot load {args.net}: {err}") from err
    style = {"neuron": args.neuron, "dt": args.dt, "input_population": not args.spike_input}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            path = write_nir(net, args.out, args.strict, **style)
        except NIRExportError as err:
            raise SystemExit(f"error: {err}") from err
    for w in caught:
        print(f"note: {w.message}")
    dt = DEFAULT_EXPORT_DT[args.neuron] if args.dt is None else args.dt
    print(
        f"wrote {path}: {len(net.layers)} layers, {net.timesteps} steps, neuron {args.neuron}, "
        f"dt {dt:g} s"
    )
    import nir

    x, what = _check_inputs(args.calibration, tuple(net.input.shape))
    silent = silence_warning(nir.read(path), args.neuron, x, net.timesteps, what)
    if silent:
        print(f"warning: {silent}")


def _check_inputs(calibration: str | None, shape: tuple[int, ...]) -> tuple[np.ndarray, str]:
    """The inputs the export is checked on, and their description."""
    if calibration is None:
        return np.random.default_rng(0).random((CHECK_SAMPLES, *shape)), (
            f"{CHECK_SAMPLES} random inputs"
        )
    try:
        x = np.load(calibration)
    except (OSError, ValueError) as err:
        raise SystemExit(f"error: cannot load --calibration {calibration}: {err}") from err
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != int(np.prod(shape)):
        raise SystemExit(
            f"error: --calibration {calibration} has shape {x.shape}; expected "
            f"(samples, *{shape}) with values in [0, 1]"
        )
    return x, f"{len(x)} calibration samples"


def cmd_import(args: argparse.Namespace) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            net = read_nir(args.graph, args.timesteps, args.dt, args.reset)
        except NIRImportError as err:
            raise SystemExit(f"error: {_cli_words(str(err))}") from err
        except (OSError, KeyError, ValueError) as err:
            raise SystemExit(f"error: cannot read {args.graph} as a NIR file: {err}") from err
    for w in caught:
        print(f"note: {_cli_words(str(w.message))}")
    path = save_net(net, args.out)
    print(f"wrote {path}: {net.timesteps} steps, input {net.input.shape}")
    report = net.report
    for layer in net.layers:
        clipped = report.clipped_weights.get(layer.name, 0)
        zeroed = report.zeroed_weights.get(layer.name, 0)
        print(
            f"  {layer.name}: {layer.size} neurons, vth {layer.vth}, decay_u {layer.decay_u}, "
            f"decay_v {layer.decay_v}, reset {layer.reset}; weights clipped {clipped}, "
            f"rounded to zero {zeroed}"
        )
    risks = saturation_risks(net)
    for line in risks:
        print(f"warning: saturation: {line}")
    if risks:
        print(f"warning: {SATURATION_REMEDY}")
