"""The comparison report: one table (text, CSV, JSON) of estimates and PNG plots.

Ratios are taken against the NCS2 estimate in the list: ``power ratio = P_ncs2 / P`` and
``energy ratio = E_ncs2 / E`` (how many times less the platform draws or spends).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import accounting as conventions
from .estimate import Estimate
from .published import measured

__all__ = [
    "Report",
    "compare",
    "table_rows",
    "against_published",
    "parts_lines",
    "by_convention",
    "format_cell",
]

COLUMNS = (
    "label",
    "platform",
    "accuracy_pct",
    "latency_ms",
    "power_w",
    "power_static_w",
    "power_dynamic_w",
    "energy_mj",
    "energy_static_mj",
    "energy_dynamic_mj",
    "latency_ms_low",
    "latency_ms_high",
    "power_w_low",
    "power_w_high",
    "energy_mj_low",
    "energy_mj_high",
    "power_ratio_vs_ncs2",
    "energy_ratio_vs_ncs2",
    "model",
)


@dataclass
class Report:
    """What :func:`compare` wrote and the table it holds."""

    text: str
    rows: list[dict]
    files: list[Path] = field(default_factory=list)


def _reference(estimates: Sequence[Estimate]) -> Estimate | None:
    return next((e for e in estimates if e.platform == "ncs2"), None)


def table_rows(estimates: Sequence[Estimate]) -> list[dict]:
    """One dict per estimate with the report's columns (ratios None without an NCS2 estimate)."""
    ref = _reference(estimates)
    rows = []
    for e in estimates:
        rows.append(
            {
                "label": e.label,
                "platform": e.platform,
                "accuracy_pct": None if e.accuracy is None else 100 * e.accuracy,
                "latency_ms": 1e3 * e.latency,
                "power_w": e.power,
                "power_static_w": e.power_static,
                "power_dynamic_w": e.power_dynamic,
                "energy_mj": 1e3 * e.energy,
                "energy_static_mj": 1e3 * e.energy_static,
                "energy_dynamic_mj": 1e3 * e.energy_dynamic,
                "latency_ms_low": 1e3 * e.low("latency"),
                "latency_ms_high": 1e3 * e.high("latency"),
                "power_w_low": e.low("power"),
                "power_w_high": e.high("power"),
                "energy_mj_low": 1e3 * e.low("energy"),
                "energy_mj_high": 1e3 * e.high("energy"),
                "power_ratio_vs_ncs2": None if ref is None else ref.power / e.power,
                "energy_ratio_vs_ncs2": None if ref is None else ref.energy / e.energy,
                "model": e.model,
            }
        )
    return rows


def against_published(loihi: Estimate, ncs2: Estimate) -> list[str]:
    """How far a Loihi estimate's ratios against the NCS2 lie from the published ones
    (:data:`hwmodels.published.MEASUREMENTS`), and why."""
    power, energy = ncs2.power / loihi.power, ncs2.energy / loihi.energy
    pub_p, pub_e = measured("published_power_ratio"), measured("published_energy_ratio")
    p_lo, p_hi = ncs2.low("power") / loihi.high("power"), ncs2.high("power") / loihi.low("power")
    e_lo = ncs2.low("energy") / loihi.high("energy")
    e_hi = ncs2.high("energy") / loihi.low("energy")
    accounting = loihi.details.get("accounting", conventions.DEFAULT)
    return [
        f"power ratio {power:.3g}x against the published up to {pub_p:g}x "
        f"(range {p_lo:.3g}-{p_hi:.3g}x; a factor {pub_p / power:.3g} apart)",
        f"energy ratio {energy:.3g}x against the published up to {pub_e:g}x "
        f"(range {e_lo:.3g}-{e_hi:.3g}x; a factor {pub_e / energy:.3g} apart)",
        f"counted: {conventions.DESCRIPTION.get(accounting, accounting)}; Loihi "
        f"{loihi.power_static:.3g} W static + {loihi.power_dynamic:.3g} W dynamic, "
        f"{1e3 * loihi.latency:.3g} ms per inference; NCS2 {ncs2.power:.3g} W, "
        f"{1e3 * ncs2.latency:.3g} ms ({ncs2.model}); a power ratio above the energy ratio "
        "needs Loihi slower per inference than the NCS2",
    ]


def parts_lines(estimate: Estimate) -> list[str]:
    """The estimate's energy parts per inference (mJ and mW), marking those it counts."""
    parts = estimate.details.get("parts")
    if not parts:
        return []
    accounting = estimate.details.get("accounting", conventions.DEFAULT)
    names = conventions.counted(estimate.platform, accounting)
    cells = [
        f"{name.replace('_', ' ')} {1e3 * value:.4g} mJ ({1e3 * value / estimate.period:.3g} "
        f"mW){'' if name in names else ' [not counted]'}"
        for name, value in parts.items()
    ]
    head = f"{estimate.label} parts, accounting {accounting!r} ({conventions.DESCRIPTION[accounting]}):"
    return [head, *(f"  {cell}" for cell in cells)]


def by_convention(loihi: Estimate, ncs2: Estimate) -> list[str]:
    """Loihi against the NCS2 under every accounting convention, from the estimates' parts."""
    lines = [
        f"{'accounting':<10} {'Loihi mJ':>10} {'Loihi mW':>10} {'NCS2 mJ':>10} {'NCS2 mW':>10}"
        f" {'power ratio':>12} {'energy ratio':>13}"
    ]
    for name in conventions.CONVENTIONS:
        e_l = conventions.energy_under(loihi, name)
        e_n = conventions.energy_under(ncs2, name)
        p_l, p_n = e_l / loihi.period, e_n / ncs2.period
        lines.append(
            f"{name:<10} {1e3 * e_l:>10.4g} {1e3 * p_l:>10.4g} {1e3 * e_n:>10.4g} "
            f"{1e3 * p_n:>10.4g} {p_n / p_l:>11.3g}x {e_n / e_l:>12.3g}x"
        )
    return lines


def format_cell(value: object) -> str:
    """A table cell: ``-`` for None, 4 significant digits for a float, else ``str``."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _text(rows: list[dict], estimates: Sequence[Estimate], extra: list[str]) -> str:
    shown = COLUMNS[:-1]
    cells = [[format_cell(r[k]) for k in shown] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(shown)]
    lines = ["  ".join(k.ljust(w) for k, w in zip(shown, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells]
    lines.append("")
    for e in estimates:
        over = [k for k, v in e.constants.items() if v["source"] == "override"]
        lines.append(f"{e.label}: {e.model}; constants: {e.constants_origin}")
        if over:
            lines.append(f"  overridden: {', '.join(over)}")
        lines += [f"  assumes: {a}" for a in e.assumptions]
        lines += [f"  {w}" for w in e.warnings]  # saturation counts, in words
    if extra:
        lines.append("")
        lines += extra
    return "\n".join(lines) + "\n"


def _stack(e: Estimate) -> dict[str, float]:
    """Energy per inference (J) by part, the counted ones (static and dynamic without parts)."""
    parts = e.details.get("parts")
    if not parts:
        return {"static": e.energy_static, "dynamic": e.energy_dynamic}
    accounting = e.details.get("accounting", conventions.DEFAULT)
    return {f"{e.platform} {n}": parts[n] for n in conventions.counted(e.platform, accounting)}


def _pyplot():
    """matplotlib's pyplot on the Agg backend (no display), imported on the first plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _bars(estimates: Sequence[Estimate], path: Path) -> Path:
    labels = [e.label for e in estimates]
    stacks = [_stack(e) for e in estimates]
    names = list(dict.fromkeys(n for stack in stacks for n in stack))
    plt = _pyplot()
    fig, (ax_e, ax_p) = plt.subplots(1, 2, figsize=(max(8, 1.2 * len(labels) + 4), 4))
    for ax, scale, unit in (
        (ax_e, [1e3] * len(estimates), "energy per inference (mJ)"),
        (ax_p, [1 / e.period for e in estimates], "power (W)"),
    ):
        bottom = [0.0] * len(estimates)
        for i, name in enumerate(names):
            heights = [k * stack.get(name, 0.0) for k, stack in zip(scale, stacks, strict=True)]
            ax.bar(labels, heights, bottom=bottom, label=name, color=f"C{i % 10}")
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.errorbar(labels, bottom, yerr=_spread(estimates, unit, bottom), fmt="none",
                    ecolor="k", capsize=3, label="range of the constants")  # fmt: skip
        ax.set_ylabel(unit)
        ax.tick_params(axis="x", rotation=45, labelsize="small")
    ax_e.legend(fontsize="x-small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _spread(estimates: Sequence[Estimate], unit: str, total: list[float]) -> list[list[float]]:
    name, scale = ("energy", 1e3) if unit.startswith("energy") else ("power", 1.0)
    low = [t - scale * e.low(name) for e, t in zip(estimates, total, strict=True)]
    high = [scale * e.high(name) - t for e, t in zip(estimates, total, strict=True)]
    return [[max(v, 0.0) for v in low], [max(v, 0.0) for v in high]]


def _accuracy_vs_timesteps(estimates: Sequence[Estimate], path: Path) -> Path | None:
    points = sorted(
        (e.details["timesteps"], 100 * e.accuracy)
        for e in estimates
        if e.platform == "loihi" and e.accuracy is not None and "timesteps" in e.details
    )
    if len({t for t, _ in points}) < 2:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([t for t, _ in points], [a for _, a in points], "o", label="Loihi settings")
    ref = _reference(estimates)
    if ref is not None and ref.accuracy is not None:
        ax.axhline(100 * ref.accuracy, color="C3", ls="--", label="DNN (OpenVINO)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("timesteps")
    ax.set_ylabel("accuracy (%)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def compare(
    estimates: Sequence[Estimate],
    out_dir: str | os.PathLike,
    traces: str | os.PathLike | None = None,
    notes: Sequence[str] = (),
) -> Report:
    """Write the comparison table and plots of ``estimates`` into ``out_dir``.

    Parameters
    ----------
    estimates
        Estimates of any platforms; the NCS2 one (if any) is the ratios' reference.
    out_dir
        Directory for ``comparison.txt``, ``.csv``, ``.json`` and the PNGs; the JSON's
        ``neurobench`` maps each estimate's label to NeuroBench's metrics of its traces.
    traces
        An HDF5 trace file; adds a spike raster (when it holds events) and per-layer activity.
    notes
        Lines appended to the text table; the distance of each Loihi estimate's ratios from
        the published ones is added when an NCS2 estimate is present.
    """
    if not estimates:
        raise ValueError("compare needs at least one estimate")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = table_rows(estimates)
    extra = list(notes)
    for e in estimates:
        extra += parts_lines(e)
    ref = _reference(estimates)
    if ref is not None:
        for e in estimates:
            if e.platform == "loihi":
                extra += [f"{e.label} against the published ratios:"]
                extra += [f"  {line}" for line in against_published(e, ref)]
                if "parts" in e.details and "parts" in ref.details:
                    extra += [f"{e.label} against {ref.label} under each accounting convention:"]
                    extra += [f"  {line}" for line in by_convention(e, ref)]
    text = _text(rows, estimates, extra)
    files = [out / "comparison.txt", out / "comparison.csv", out / "comparison.json"]
    files[0].write_text(text)
    with open(files[1], "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    neurobench = {e.label: e.details["neurobench"] for e in estimates if "neurobench" in e.details}
    files[2].write_text(
        json.dumps(
            {"rows": rows, "estimates": [e.to_dict() for e in estimates], "neurobench": neurobench},
            indent=1,
        )
    )
    files.append(_bars(estimates, out / "energy_power.png"))
    curve = _accuracy_vs_timesteps(estimates, out / "accuracy_vs_timesteps.png")
    if curve is not None:
        files.append(curve)
    if traces is not None:
        from emu import load_traces, plot

        tr = load_traces(traces)
        files.append(plot.activity(tr, out / "layer_activity.png"))
        if "event_sample" in tr:
            first = int(tr["sample"].values[0])
            files.append(plot.raster(tr, first, path=out / "raster.png"))
    return Report(text, rows, files)
