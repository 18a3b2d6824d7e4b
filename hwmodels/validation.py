"""Published silicon figures against the models: one row per figure, calibration or held out."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import numpy as np

from . import akida, akida_constants, loihi, ncs2, ncs2_constants, published
from .akida_mapping import map_network
from .calibration import workloads
from .constant import bounded_names
from .constants import Constants
from .estimate import Estimate, with_bounds

__all__ = [
    "ROW_KEYS",
    "NCS2_CALIBRATION",
    "encoder_decoder",
    "rows",
    "table",
    "markdown",
    "write_json",
]

ROW_KEYS = ("chip", "workload", "quantity", "measured", "modelled", "ratio", "role")
# Which of published.ncs2_timings() calibrate the NCS2's layer data rate (the rest: held out).
NCS2_CALIBRATION = (0,)


def _row(chip, workload, quantity, measured, modelled, low, high, role) -> dict:
    return {
        "chip": chip,
        "workload": workload,
        "quantity": quantity,
        "measured": float(measured),
        "modelled": float(modelled),
        "ratio": float(modelled / measured),
        "role": role,
        "low": float(low),
        "high": float(high),
    }


def _est_rows(chip, workload, est, measured: dict[str, tuple[float, str]]) -> list[dict]:
    out = []
    for quantity, (value, role) in measured.items():
        out.append(
            _row(
                chip,
                workload,
                quantity,
                value,
                getattr(est, quantity),
                est.low(quantity),
                est.high(quantity),
                role,
            )  # fmt: skip
        )
    return out


def loihi_rows(c: Constants) -> list[dict]:
    """Keyword spotting and the sweep's N=0 (calibration), the scaled sweep and CarSNN
    (held out); Blouw's figures from his logs (:mod:`hwmodels.published`)."""
    net, traces = workloads.kws()
    point = published.loihi_kws()
    kws = "KWS 390-256-256-29 (Blouw 2019 logs)"
    est = loihi.estimate(net, traces, constants=c)  # back to back, as it ran; all parts
    idle = est.details["parts"]["neurocore_static"] / est.period
    out = [_row("loihi", kws, "power_idle", point.idle_power, idle, idle, idle, "calibration")]
    out += _est_rows("loihi", kws, est, {
        "latency": (1 / point.rate, "calibration"),
        "power": (point.running_power, "calibration"),
    })  # fmt: skip
    blouw = loihi.estimate(net, traces, constants=c, accounting="blouw")
    out += _est_rows("loihi", kws + ", running - idle", blouw, {
        "energy_dynamic": (point.dynamic_energy, "calibration"),
    })  # fmt: skip
    for copies, point in published.loihi_scaled().items():
        net, traces = workloads.blouw_scaled(copies)
        est = loihi.estimate(net, traces, constants=c, rate=point.rate, accounting="blouw")
        role = "calibration" if copies == 0 else "held-out"
        out += _est_rows("loihi", f"scaled sweep N={copies} (Blouw 2019 logs), running - idle",
                         est, {"energy_dynamic": (point.dynamic_energy, role)})  # fmt: skip
    net, traces = workloads.carsnn()
    est = loihi.estimate(net, traces, constants=c)
    out += _est_rows("loihi", "CarSNN, DVS cars (Viale 2021)", est, {
        "latency": (published.measured("carsnn_latency"), "held-out"),
        "power": (published.measured("carsnn_power"), "held-out"),
    })  # fmt: skip
    return out


def encoder_decoder(timing: published.Timing, c: Constants) -> Estimate:
    """The NCS2 model on a published encoder-decoder timing (run over USB 2.0): its input
    and output (4 channels) cross the USB at ``ncs2_usb2_bandwidth``."""
    counts = workloads.encoder_decoder_counts(timing.side, timing.channels, list(timing.filters))
    io_values = timing.side**2 * (timing.channels + 4)
    return ncs2.modelled(counts, io_values, c.replace(ncs2_usb_bandwidth=c["ncs2_usb2_bandwidth"]))


def ncs2_rows(c: Constants) -> list[dict]:
    """The NCS2 on the keyword spotter (Blouw 2019 logs): the calibration of its floor; on
    prg_prgncs's encoder-decoders: the first calibrates the layers' data rate, the rest are held out."""
    import converters

    graph = converters.load(workloads.kws_model(), np.zeros((1, 390), np.float32))
    est = with_bounds(lambda k: ncs2.modelled(graph, 390 + 29, k), c, ncs2_constants.BOUNDED)
    point = published.ncs2_kws()
    out = _est_rows("ncs2", "KWS 390-256-256-29, FP16, batch 1 (Blouw 2019 logs)", est, {
        "latency": (1 / point.rate, "calibration"),
        "power": (point.running_power, "calibration"),
        "power_static": (point.idle_power, "calibration"),
    })  # fmt: skip
    ranged = [*ncs2_constants.BOUNDED, *bounded_names(ncs2_constants.WORKLOAD_CONSTANTS)]
    for i, timing in enumerate(published.ncs2_timings()):
        est = with_bounds(lambda k, t=timing: encoder_decoder(t, k), c, ranged)
        role = "calibration" if i in NCS2_CALIBRATION else "held-out"
        workload = f"enc-dec {timing.name}, USB 2 (prg_prgncs)"
        out += _est_rows("ncs2", workload, est, {"latency": (1 / timing.fps, role)})
    return out


def ratio_rows(c: Constants, samples: int = 100) -> list[dict]:
    """Loihi against the NCS2 on MNIST LeNet-5, beside Chandarana 2022's ratios (held out)."""
    _, graph, net, traces, (x, _) = workloads.lenet5_mnist(samples)
    lo = loihi.estimate(net, traces, constants=c)
    io_values = int(x[0].size + 10)
    nc = with_bounds(lambda k: ncs2.modelled(graph, io_values, k), c, ncs2_constants.BOUNDED)
    note = _ratio_note(lo, nc, c)
    out = []
    for quantity, key in (("power", "published_power_ratio"), ("energy", "published_energy_ratio")):
        ratio = getattr(nc, quantity) / getattr(lo, quantity)
        low = nc.low(quantity) / lo.high(quantity)
        high = nc.high(quantity) / lo.low(quantity)
        out.append(_row("loihi/ncs2", "MNIST LeNet-5 T=64, all parts (Chandarana 2022 up to)",
                        f"{quantity} ratio", c[key], ratio, low, high, "held-out"))  # fmt: skip
        out[-1]["note"] = note
    return out


def _ratio_note(lo, nc, c: Constants) -> str:
    """What the published ratios ask of Loihi's latency, from the modelled energies."""
    ops = lo.details["parts"]["neurocore_dynamic"]
    system = lo.energy_dynamic - ops
    p_static = lo.power_static
    target = nc.power / (
        published.measured("published_power_ratio") / 2
    )  # the 2x band's upper Loihi power
    text = (
        f"Loihi (model, all parts): {1e3 * lo.latency:.3g} ms per inference, {1e3 * ops:.3g} mJ "
        f"neuro-core dynamic, {1e3 * system:.3g} mJ x86 dynamic and host I/O, "
        f"{1e3 * lo.energy_static:.3g} mJ static ({1e3 * p_static:.3g} mW: idle from boot and "
        f"the x86 cores' active power); NCS2 (measured power and floor): "
        f"{1e3 * nc.latency:.3g} ms at {nc.power:.3g} W, {1e3 * nc.energy:.3g} mJ. "
        f"A power ratio of at least {c['published_power_ratio'] / 2:.3g} needs Loihi at "
        f"{1e3 * target:.3g} mW or less"
    )
    if target <= p_static:
        return text + ", below its static floor: ruled out under this convention."
    needed = lo.energy_dynamic / (target - p_static)
    energy = lo.energy_dynamic + p_static * needed
    alone = ops / (target - p_static)
    ncs2_energy = published.measured("published_energy_ratio") / 2 * (ops + p_static * alone)
    return text + (
        f": with this dynamic energy, {1e3 * needed:.3g} ms per inference or longer "
        f"({needed / lo.latency:.3g}x the modelled latency), where the energy ratio would be "
        f"{nc.energy / energy:.3g}; with the per-op energy alone, {1e3 * alone:.3g} ms, and "
        f"an energy ratio of {c['published_energy_ratio'] / 2:.3g} as well would need the NCS2 "
        f"to spend {1e3 * ncs2_energy:.3g} mJ per inference ({1e3 * ncs2_energy / nc.power:.3g} "
        f"ms at {nc.power:.3g} W)."
    )


def akida_rows(c: Constants, samples: int = 1000) -> list[dict]:
    """The template CNN and AkidaNet 0.5 (calibration and held out), zero-aware savings."""
    net, traces = workloads.template_akida(samples)
    est = akida.estimate(net, traces, constants=c)
    out = _est_rows("akida", "MNIST template CNN (course)", est, {
        "latency": (1 / published.measured("akida_calibration_fps"), "calibration"),
        "power": (published.measured("akida_calibration_power"), "calibration"),
        "energy": (published.measured("akida_calibration_power") / published.measured("akida_calibration_fps"), "calibration"),
    })  # fmt: skip
    out += _akidanet_rows(c)
    out += _sparsity_rows(c)
    return out


def _akidanet_rows(c: Constants) -> list[dict]:
    macs, outputs = workloads.akidanet_counts()
    loads = workloads.akidanet_np_loads()

    def frame(k: Constants, frames: int) -> tuple[float, float, float]:
        f = k["akidanet_event_fraction"]
        load = akida.FrameLoad(macs * f, outputs * f, *(f * v for v in loads))
        t, e = akida.frame_figures(load, k, frames)
        floor = published.measured("akidanet_guide_floor")
        return t, floor + e / t, floor * t + e

    out = []
    for workload, frames, fps, power, energy, role in (
        ("AkidaNet 0.5 224, 1 frame (docs)", 1, published.measured("akidanet_docs_fps_1"), None, None, "calibration"),
        ("AkidaNet 0.5 224, 10 frames (docs)", 10, published.measured("akidanet_docs_fps_10"),
         published.measured("akidanet_docs_power"), published.measured("akidanet_docs_energy"), "held-out"),
        ("AkidaNet 0.5 224, 10 frames (guide)", 10, published.measured("akidanet_guide_fps"),
         published.measured("akidanet_guide_power"), published.measured("akidanet_guide_energy"), "held-out"),
    ):  # fmt: skip
        central, *ends = (frame(k, frames) for k in _corners(c, akida_constants.BOUNDED))
        for i, (quantity, value) in enumerate((("latency", 1 / fps), ("power", power),
                                                ("energy", energy))):  # fmt: skip
            if value is None:
                continue
            vals = [central[i], *(e[i] for e in ends)]
            r = (
                "calibration"
                if frames == 1 or (quantity == "latency" and "docs" in workload)
                else role
            )
            out.append(
                _row("akida", workload, quantity, value, central[i], min(vals), max(vals), r)
            )
    return out


def _corners(c: Constants, names: list[str]) -> list[Constants]:
    names = [*names, *bounded_names(akida_constants.WORKLOAD_CONSTANTS)]
    return [c, c.corner("low", names), c.corner("high", names)]


def _frame_energy(load: akida.FrameLoad, k: Constants) -> float:
    t, e = akida.frame_figures(load, k)
    return k["akida_floor_power"] * t + e


def _sparsity_rows(c: Constants) -> list[dict]:
    net, traces = workloads.two_conv_two_fc_akida()
    load = akida.frame_load(akida.layer_counts(net, traces)[0], map_network(net, c))
    out = []
    for name, key in (
        ("2-conv + 2-FC (Habara 2024)", "habara"),
        ("same, ISCAS 2025 change", "iscas"),
    ):
        act, wt = (
            published.measured(f"{key}_activation_reduction"),
            published.measured(f"{key}_weight_reduction"),
        )
        sparse = load.sparser(1 - act, 1 - wt)
        vals = [1 - _frame_energy(sparse, k) / _frame_energy(load, k)
                for k in _corners(c, akida_constants.BOUNDED)[:3]]  # fmt: skip
        out.append(_row("akida", f"{name}: {100 * act:.1f}% / {100 * wt:.1f}% sparser",
                        "energy reduction", published.measured(f"{key}_energy_reduction"), vals[0], min(vals),
                        max(vals), "held-out"))  # fmt: skip
        out[-1]["note"] = _sparsity_note(
            c, load, published.measured(f"{key}_energy_reduction"), act, wt
        )
    return out


def _sparsity_note(c: Constants, load: akida.FrameLoad, measured: float, act, wt) -> str:
    """Where the frame's time and energy go, and the share the measured saving needs."""
    t, _ = akida.frame_figures(load, c)
    total = _frame_energy(load, c)
    fixed = _frame_energy(load.sparser(0.0), c)
    host = akida.host_time(load, c)
    kept = (1 - act) * (1 - wt)
    return (
        f"frame {1e3 * t:.4g} ms, {1e3 * total:.4g} mJ, {load.sequences} hardware sequences; "
        f"host layers (BrainChip's mapper) take {1e3 * host:.3g} ms; the part that scales "
        f"with events x non-zero weights is {100 * (1 - fixed / total):.3g}% of the frame "
        f"energy (chip and host); a {100 * measured:.3g}% saving at {100 * (1 - kept):.3g}% "
        f"fewer events x weights needs at least {100 * measured / (1 - kept):.3g}%."
    )


def rows(
    constants: Constants | None = None, log: Callable[[str], None] | None = None
) -> list[dict]:
    """Every validation row: Loihi, the NCS2, Loihi against the NCS2, Akida."""
    c = constants or Constants()
    out = []
    for part in (loihi_rows, ncs2_rows, ratio_rows, akida_rows):
        out += part(c)
        if log:
            log(f"{part.__name__}: done")
    return out


def table(rows_: list[dict]) -> str:
    """The rows as a fixed-width text table, modelled value with its range."""
    head = f"{'chip':<11}{'workload':<54}{'quantity':<17}{'measured':>11}{'modelled [low-high]':>30}{'ratio':>7}  role"
    lines = [head, "-" * len(head)]
    for r in rows_:
        model = f"{r['modelled']:.4g} [{r['low']:.3g}-{r['high']:.3g}]"
        lines.append(
            f"{r['chip']:<11}{r['workload'][:53]:<54}{r['quantity']:<17}{r['measured']:>11.4g}"
            f"{model:>30}{r['ratio']:>7.3f}  {r['role']}"
        )
    held = [r for r in rows_ if r["role"] == "held-out"]
    inside = sum(0.5 <= r["ratio"] <= 2 for r in held)
    lines.append(f"held-out figures within 2x: {inside} of {len(held)}")
    lines += dict.fromkeys(f"note, {r['workload']}: {r['note']}" for r in rows_ if r.get("note"))
    return "\n".join(lines)


def markdown(rows_: list[dict], command: str) -> str:
    """The rows as a Markdown table (modelled value with its range), and the command that ran."""
    lines = [
        "| chip | workload | quantity | measured | modelled [low - high] | ratio | role |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for r in rows_:
        lines.append(
            f"| {r['chip']} | {r['workload']} | {r['quantity']} | {r['measured']:.4g} "
            f"| {r['modelled']:.4g} [{r['low']:.3g} - {r['high']:.3g}] | {r['ratio']:.3f} "
            f"| {r['role']} |"
        )
    held = [r for r in rows_ if r["role"] == "held-out"]
    inside = sum(0.5 <= r["ratio"] <= 2 for r in held)
    lines += ["", f"Held-out figures within 2x: {inside} of {len(held)}. Generated by `{command}`."]
    notes = dict.fromkeys(f"- {r['workload']}: {r['note']}" for r in rows_ if r.get("note"))
    lines += ["", *notes]
    return "\n".join(lines) + "\n"


def write_json(rows_: list[dict], path: str | os.PathLike) -> None:
    """The rows as a JSON list (keys ROW_KEYS, plus the range: low, high)."""
    with open(path, "w") as f:
        json.dump(rows_, f, indent=1)
