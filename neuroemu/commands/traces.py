"""The ``neuroemu inspect`` and ``neuroemu diff`` subcommands: trace summaries as tables or JSON."""

from __future__ import annotations

import argparse
import json
import warnings
from collections.abc import Sequence

import numpy as np

from emu.neurobench_metrics import NeuroBenchMetrics, neurobench_metrics
from emu.traces import analysis
from emu.traces.access import PartialRunWarning, open_traces
from emu.traces.stats import saturation_lines
from hwmodels.report import format_cell

from .arguments import int_range

__all__ = [
    "register",
    "format_summary",
    "format_comparison",
    "format_neurobench",
    "out_of_range_line",
]


def register(subparsers) -> None:
    """Add ``inspect`` and ``diff`` to the ``neuroemu`` argument parser's subcommands."""
    inspect = subparsers.add_parser(
        "inspect", help="summarize a trace file (or a run's shard directory) per layer"
    )
    inspect.add_argument("traces", help="trace file (.h5) or <run>.h5.shards directory")
    inspect.add_argument("--plots", metavar="DIR", help="also write PNG plots into DIR")
    inspect.add_argument(
        "--sample", type=int_range(0), help="sample of the raster plot (default: the first)"
    )
    inspect.add_argument(
        "--net",
        metavar="NET",
        help="the network the traces were recorded from (.npz): adds NeuroBench's metrics "
        "that need the weights (Footprint, ConnectionSparsity, SynapticOperations, "
        "NeuronOperations)",
    )
    inspect.add_argument("--json", action="store_true", help="print JSON instead of a table")
    inspect.set_defaults(func=cmd_inspect)
    diff = subparsers.add_parser("diff", help="compare two trace files of one network")
    diff.add_argument("a", help="first trace file")
    diff.add_argument("b", help="second trace file")
    diff.add_argument("--json", action="store_true", help="print JSON instead of a table")
    diff.set_defaults(func=cmd_diff)


def _open(path: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PartialRunWarning)
        return open_traces(path)


def cmd_inspect(args: argparse.Namespace) -> None:
    tr = _open(args.traces)
    result = analysis.summary(tr)
    net = None
    if args.net:
        from converters.chips.files import load_net

        net = load_net(args.net)
    bench = neurobench_metrics(tr, net)
    plots = []
    if args.plots:
        from emu.traces.plot import all_plots

        plots = [str(p) for p in all_plots(tr, args.plots, args.sample)]
    outside = tr["input_out_of_range"].values if "input_out_of_range" in tr else None
    if args.json:
        extra = {"plots": plots, "neurobench": bench.to_dict()}
        if outside is not None:
            extra["input_out_of_range"] = {
                "range": json.loads(tr.attrs.get("input_range", "[0, 1]")),
                "samples": int(np.count_nonzero(outside)),
                "values": int(outside.sum()),
            }
        print(json.dumps(result.to_dict() | extra, indent=2))
        return
    print(format_summary(result, args.traces))
    for line in saturation_lines(tr):
        print(line)
    line = out_of_range_line(tr)
    if line:
        print(line)
    print()
    print(format_neurobench(bench))
    for p in plots:
        print(f"plot: {p}")


def cmd_diff(args: argparse.Namespace) -> None:
    a, b = _open(args.a), _open(args.b)
    result = analysis.compare(a, b)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(format_comparison(result, args.a, args.b))


def out_of_range_line(traces) -> str | None:
    """``inputs outside the calibrated range ...`` when any sample had such values, else None."""
    if "input_out_of_range" not in traces:
        return None
    counts = traces["input_out_of_range"].values
    if not counts.any():
        return None
    low, high = json.loads(traces.attrs.get("input_range", "[0, 1]"))
    return (
        f"inputs outside the calibrated range [{low:g}, {high:g}] (clipped): "
        f"{np.count_nonzero(counts)} of {len(counts)} samples, {int(counts.sum())} values"
    )


def _table(header: Sequence[str], rows: list[Sequence[object]]) -> str:
    cells = [[format_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[k]) for r in cells)) for k, h in enumerate(header)]
    lines = [
        "  ".join(
            h.rjust(w) if k else h.ljust(w)
            for k, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    ]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(
                c.rjust(w) if k else c.ljust(w)
                for k, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


def format_summary(s: analysis.RunSummary, name: str = "") -> str:
    """A human-readable table of :func:`emu.traces.analysis.summary`."""
    head = [
        f"traces      {name}",
        f"target      {s.target}   network {s.net_digest}",
        f"samples     {s.samples}   timesteps {s.timesteps}",
        f"accuracy    {_percent(s.accuracy)} ({s.labelled} labelled)",
    ]
    if s.missing_samples:
        head.append(
            "missing     " + ", ".join(f"{a}..{b}" for a, b in s.missing_samples) + " (partial run)"
        )
    if s.target == "akida":
        return "\n".join(head) + "\n\n" + _akida_table(s)
    rows = [
        (
            layer.name,
            layer.neurons,
            layer.spikes_per_sample,
            layer.nonzero_per_sample,
            layer.firing_rate,
            _percent(layer.silent_fraction),
            layer.first_step,
            layer.first_spike_latency,
            "/".join(str(v) for v in layer.saturation.values()),
        )
        for layer in s.layers
    ]
    header = (
        "layer",
        "neurons",
        "spikes/sample",
        "nonzero/sample",
        "rate/step",
        "silent",
        "first step",
        "first-spike lat.",
        "sat. u/v/in",
    )
    return "\n".join(head) + "\n\n" + _table(header, rows)


def _akida_table(s: analysis.RunSummary) -> str:
    """Akida's columns: events (non-zero activations) and activation sums, one frame."""
    rows = [
        (
            layer.name,
            layer.neurons,
            layer.nonzero_per_sample,
            _percent(layer.nonzero_per_sample / layer.neurons),
            layer.spikes_per_sample,
            _percent(layer.silent_fraction),
            layer.saturation.get("v_clip", 0),
        )
        for layer in s.layers
    ]
    header = (
        "layer",
        "neurons",
        "events/sample",
        "active",
        "activation sum/sample",
        "silent",
        "potential saturations",
    )
    return _table(header, rows)


def format_neurobench(m: NeuroBenchMetrics) -> str:
    """NeuroBench's metrics under its names, per sample, then the chip's own counts."""
    rows = []
    for name, value in m.metrics.items():
        if isinstance(value, dict):
            rows += [(f"{name} {k}", v) for k, v in value.items()]
        else:
            rows.append((name, _percent(value) if "Sparsity" in name else value))
    rows += [(f"{m.target} {k}", v) for k, v in m.chip.items()]
    text = _table(("NeuroBench metric (per sample)", "value"), rows)
    return "\n".join([text, *(f"note: {n}" for n in m.notes)])


def format_comparison(c: analysis.Comparison, name_a: str = "a", name_b: str = "b") -> str:
    """A human-readable table of :func:`emu.traces.analysis.compare`."""
    head = [
        f"a           {name_a}",
        f"b           {name_b}",
        f"samples     {c.samples} in common   same network: {'yes' if c.same_network else 'no'}",
        f"predictions {_percent(c.prediction_agreement)} agree",
        f"accuracy    a {_percent(c.accuracy_a)}   b {_percent(c.accuracy_b)}",
    ]
    akida = c.target == "akida"
    rows = [
        (
            layer.name,
            layer.spikes_per_sample_a,
            layer.spikes_per_sample_b,
            layer.spikes_per_sample_b - layer.spikes_per_sample_a,
            *(() if akida else (layer.rate_a, layer.rate_b)),
            layer.mean_abs_count_diff,
            _percent(layer.identical_fraction),
        )
        for layer in c.layers
    ]
    amount = "activation sum/sample" if akida else "spikes/sample"
    header = (
        "layer",
        f"{amount} a",
        f"{amount} b",
        "b - a",
        *(() if akida else ("rate a", "rate b")),
        "mean |diff|" if not akida else "mean |activation diff|",
        "identical",
    )
    return "\n".join(head) + "\n\n" + _table(header, rows)
