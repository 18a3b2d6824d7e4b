"""The embedded demo: a small CNN on scikit-learn's digits, converted for Loihi, emulated, estimated."""

from __future__ import annotations

import json
import time
from pathlib import Path

import xarray as xr

import hwmodels
from converters import datasets, models, pipeline, training
from converters.chips.files import save_net
from emu import Emulation, analysis
from emu.traces.stats import accuracy, spikes_per_sample

__all__ = ["run_demo", "demo_model"]

SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "data" / "digits_cnn.pt"
CURVE_STEPS = (8, 16, 32, 64, 128, 256)


def demo_model(out_dir: Path):
    """The demo CNN: the shipped weights when present, else trained now (seconds) and saved."""
    import torch

    model = models.digits_cnn(16)
    for path in (SHIPPED_MODEL, out_dir / "digits_cnn.pt"):
        if path.exists():
            model.load_state_dict(torch.load(path, weights_only=True))
            print(f"model: the trained weights in {path} (loaded, not trained now)")
            return model.eval()
    data = datasets.digits()
    print("training the digits CNN (30 epochs)...")
    training.train(model, data.x_train, data.y_train, epochs=30, lr=3e-3, batch_size=32)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out_dir / "digits_cnn.pt")
    return model.eval()


def _convert(model, data: datasets.Dataset, timesteps: int, out_dir: Path):
    net = pipeline.loihi_net(
        model,
        data.x_train,
        percentile=99.9,
        timesteps=timesteps,
        reset="subtract",
        input_encoding="bias",
    )
    save_net(net, out_dir / "digits_loihi.npz")
    compartments = sum(layer.size for layer in net.layers)
    print(f"converted: {len(net.layers)} Loihi layers, {compartments} compartments")
    return net


def _report(traces: xr.Dataset, dnn_acc: float, timesteps: int, device: str) -> dict:
    curve = analysis.accuracy_vs_steps(traces)
    saturation = traces["saturation"].sum("layer").values
    return {
        "dnn_accuracy": dnn_acc,
        "snn_accuracy": accuracy(traces),
        "snn_accuracy_by_steps": {
            s: float(curve.sel(steps=s)) for s in CURVE_STEPS if s <= timesteps
        },
        "spikes_per_image": spikes_per_sample(traces),
        "saturation": dict(
            zip(("u_wrap", "v_clip", "input_overflow"), map(int, saturation), strict=True)
        ),
        "test_images": int(traces.sizes["sample"]),
        "timesteps": timesteps,
        "device": device,
    }


def _text(report: dict, comparison: str) -> str:
    spikes = report["spikes_per_image"]
    n, seconds = report["test_images"], report["emulation_seconds"]
    steps = "  ".join(f"{s}: {100 * a:.1f}%" for s, a in report["snn_accuracy_by_steps"].items())
    lines = [
        f"digits demo: {n} test images, {report['timesteps']} Loihi steps, "
        f"device {report['device']}",
        f"DNN accuracy        {100 * report['dnn_accuracy']:6.2f} %",
        f"Loihi SNN accuracy  {100 * report['snn_accuracy']:6.2f} %",
        f"accuracy by steps   {steps}",
        f"spikes per image    {sum(spikes.values()):.0f} ("
        + ", ".join(f"{k} {v:.0f}" for k, v in spikes.items())
        + ")",
        f"emulation           {seconds:.1f} s ({n / seconds:.0f} images/s, includes the build)",
        "",
        comparison,
    ]
    return "\n".join(lines)


def _headline(loihi, ncs2) -> str:
    """Loihi against the NCS2: the parts, the convention used, and every convention's ratios."""
    accounting = loihi.details["accounting"]
    lines = [
        f"Loihi vs NCS2, accounting {accounting!r} "
        f"({hwmodels.accounting.DESCRIPTION[accounting]}): "
        f"power {ncs2.power / loihi.power:.3g}x less, energy {ncs2.energy / loihi.energy:.3g}x "
        "less per inference",
        *hwmodels.report.parts_lines(loihi),
        *hwmodels.report.parts_lines(ncs2),
        "under each convention:",
        *(f"  {line}" for line in hwmodels.report.by_convention(loihi, ncs2)),
    ]
    return "\n".join(lines)


def run_demo(
    out_dir: Path,
    device: str = "cpp_standalone",
    timesteps: int = 128,
    workers: int = 1,
    accounting: str = "all",
) -> dict:
    """Train or load the demo CNN, convert it, emulate the test split, write traces and a report.

    ``accounting`` is the convention of the comparison's main table (see
    :mod:`hwmodels.accounting`); the report also compares under every convention.
    """
    hwmodels.accounting.check(accounting)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = datasets.digits()
    model = demo_model(out_dir)
    dnn_acc = training.accuracy(model, data.x_test, data.y_test)
    net = _convert(model, data, timesteps, out_dir)
    trace_path = out_dir / "digits_traces.h5"
    t1 = time.perf_counter()
    sim = Emulation(net, device=device, batch_size=128)
    traces = sim.run(data.x_test, data.y_test, workers=workers, out=trace_path)
    emulate_s = time.perf_counter() - t1
    loihi = hwmodels.loihi.estimate(net, traces, accounting=accounting)
    ncs2 = hwmodels.ncs2.baseline(model, data.x_test, data.y_test, accounting=accounting)
    comparison = hwmodels.report.compare([loihi, ncs2], out_dir, traces=trace_path)
    report = _report(traces, dnn_acc, timesteps, device)
    report["accounting"] = accounting
    report["loihi_parts_mj"] = {k: 1e3 * v for k, v in loihi.details["parts"].items()}
    report["ncs2_parts_mj"] = {k: 1e3 * v for k, v in ncs2.details["parts"].items()}
    report["emulation_seconds"] = emulate_s
    report["total_seconds"] = time.perf_counter() - t0
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    text = _text(report, _headline(loihi, ncs2) + "\n\n" + comparison.text)
    (out_dir / "report.txt").write_text(text + "\n")
    print(text)
    written = sorted(p.name for p in out_dir.iterdir() if p.is_file())
    print(f"outputs in {out_dir.resolve()}: {', '.join(written)}")
    return report
