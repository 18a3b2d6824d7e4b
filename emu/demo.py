"""The embedded demo: a small CNN on scikit-learn's digits, converted for Loihi and emulated."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

__all__ = ["run_demo", "demo_model"]

SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "data" / "digits_cnn.pt"


def demo_model(out_dir: Path, log=print):
    """The demo CNN: the shipped weights when present, else trained now (seconds) and saved."""
    import torch

    from converters import datasets, models, training

    model = models.digits_cnn(16)
    for path in (SHIPPED_MODEL, out_dir / "digits_cnn.pt"):
        if path.exists():
            model.load_state_dict(torch.load(path, weights_only=True))
            log(f"model: {path}")
            return model.eval()
    data = datasets.digits()
    log("training the digits CNN (30 epochs)...")
    training.train(model, data.x_train, data.y_train, epochs=30, lr=3e-3, batch_size=32)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out_dir / "digits_cnn.pt")
    return model.eval()


def run_demo(
    out_dir: Path, device: str = "cpp_standalone", timesteps: int = 128, workers: int = 1
) -> dict:
    """Train or load the demo CNN, convert it, emulate the test split, write traces and a report."""
    import converters
    from converters import datasets, training

    from .emulation import Emulation

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = datasets.digits()
    model = demo_model(out_dir)
    dnn_acc = training.accuracy(model, data.x_test, data.y_test)
    graph = converters.load(model, data.x_train[:1])
    graph = converters.normalize(graph, data.x_train, percentile=99.9)
    net = converters.to_loihi(graph, timesteps=timesteps, reset="subtract", input_encoding="bias")
    from converters.net_io import save_net

    save_net(net, out_dir / "digits_loihi.npz")
    print(
        f"converted: {len(net.layers)} Loihi layers, {sum(layer.size for layer in net.layers)} compartments"
    )
    sim = Emulation(net, device=device, batch_size=128)
    t1 = time.perf_counter()
    traces = sim.run(data.x_test, data.y_test, workers=workers, out=out_dir / "digits_traces.h5")
    emulate_s = time.perf_counter() - t1
    import hwmodels

    loihi = hwmodels.loihi.estimate(net, traces)
    ncs2 = hwmodels.ncs2.baseline(model, data.x_test, data.y_test)
    comparison = hwmodels.report.compare(
        [loihi, ncs2], out_dir, traces=out_dir / "digits_traces.h5"
    )
    cumulative = np.cumsum(traces["output_per_step"].values, axis=1)
    curve = {
        int(s): float(np.mean(cumulative[:, s - 1].argmax(axis=1) == data.y_test))
        for s in (8, 16, 32, 64, 128, 256)
        if s <= timesteps
    }
    spikes = traces["spikes_per_step"].sum(dim=("sample", "step")).values / len(data.x_test)
    report = {
        "dnn_accuracy": dnn_acc,
        "snn_accuracy": float(np.mean(traces["prediction"].values == data.y_test)),
        "snn_accuracy_by_steps": curve,
        "spikes_per_image": dict(zip(net.layer_names, map(float, spikes), strict=True)),
        "saturation": dict(
            zip(
                ("u_wrap", "v_clip", "input_overflow"),
                map(int, traces["saturation"].sum("layer").values),
                strict=True,
            )
        ),
        "test_images": len(data.x_test),
        "timesteps": timesteps,
        "device": device,
        "emulation_seconds": emulate_s,
        "total_seconds": time.perf_counter() - t0,
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    lines = [
        f"digits demo: {len(data.x_test)} test images, {timesteps} Loihi steps, device {device}",
        f"DNN accuracy        {100 * dnn_acc:6.2f} %",
        f"Loihi SNN accuracy  {100 * report['snn_accuracy']:6.2f} %",
        "accuracy by steps   " + "  ".join(f"{s}: {100 * a:.1f}%" for s, a in curve.items()),
        f"spikes per image    {sum(spikes):.0f} ("
        + ", ".join(f"{k} {v:.0f}" for k, v in report["spikes_per_image"].items())
        + ")",
        f"emulation           {emulate_s:.1f} s ({len(data.x_test) / emulate_s:.0f} images/s, includes the build)",
        "",
        comparison.text,
    ]
    text = "\n".join(lines)
    (out_dir / "report.txt").write_text(text + "\n")
    print(text)
    written = sorted(p.name for p in out_dir.iterdir() if p.is_file())
    print(f"outputs in {out_dir.resolve()}: {', '.join(written)}")
    return report
