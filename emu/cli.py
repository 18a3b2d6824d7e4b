"""The ``neuroemu`` command line: demo, convert, run, and the commands other packages add."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser"]

# modules that contribute subcommands through ``add_commands(subparsers)``
COMMAND_MODULES = ("converters.akida_commands", "emu.trace_commands", "hwmodels.commands")


def _load_samples(
    spec: str, split: str = "test", limit: int | None = None, mnist_dir: str | None = None
):
    """Samples and labels from ``digits``, ``mnist`` or an .npy/.npz file."""
    from converters import datasets

    if spec in ("digits", "mnist"):
        data = datasets.digits() if spec == "digits" else datasets.mnist(mnist_dir)
        x, y = (data.x_test, data.y_test) if split == "test" else (data.x_train, data.y_train)
    else:
        path = Path(spec)
        if not path.exists():
            raise SystemExit(
                f"error: {spec!r} is neither 'digits', 'mnist' nor an existing .npy/.npz file"
            )
        if path.suffix == ".npz":
            archive = np.load(path)
            if "x" not in archive:
                raise SystemExit(f"error: {path} must hold an array 'x' (and optionally 'y')")
            x, y = archive["x"], archive.get("y")
        else:
            x, y = np.load(path), None
    if limit is not None:
        x = x[:limit]
        y = None if y is None else y[:limit]
    return x, y


def _load_model(path: str, example):
    """A torch model (.pt: TorchScript or pickled module), .onnx or OpenVINO .xml, as a Graph."""
    import converters

    p = Path(path)
    if not p.exists():
        raise SystemExit(f"error: model file {p} does not exist")
    if p.suffix in (".pt", ".pth"):
        import torch

        try:
            model = torch.jit.load(str(p))
        except RuntimeError:
            model = torch.load(str(p), weights_only=False)
        if not isinstance(model, torch.nn.Module):
            raise SystemExit(
                f"error: {p} holds a {type(model).__name__}, not a torch module (save the whole model)"
            )
        return converters.load(model, example)
    if p.suffix in (".onnx", ".xml"):
        return converters.load(p, example)
    raise SystemExit(
        f"error: unknown model format {p.suffix!r}; accepted: .pt/.pth (torch), .onnx, .xml (OpenVINO)"
    )


def cmd_convert(args: argparse.Namespace) -> None:
    import converters
    from converters.net_io import save_net

    calib, _ = _load_samples(args.calibration, "train", args.calibration_samples, args.mnist_dir)
    graph = _load_model(args.model, calib[:1])
    if args.target == "akida":
        net = converters.to_akida(graph, calib)
    else:
        graph = converters.normalize(graph, calib, percentile=args.percentile)
        net = converters.to_loihi(
            graph,
            timesteps=args.timesteps,
            reset=args.reset,
            input_encoding=args.encoding,
            threshold_mant=args.threshold_mant,
        )
    save_net(net, args.out)
    print(f"wrote {args.target} network ({len(net.layers)} layers) to {args.out}")


def cmd_run(args: argparse.Namespace) -> None:
    from converters.net_io import load_net

    from .emulation import Emulation

    if not Path(args.net).exists():
        raise SystemExit(
            f"error: network file {args.net} does not exist (write one with 'neuroemu convert')"
        )
    try:
        net = load_net(args.net)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from err
    x, y = _load_samples(args.data, "test", args.samples, args.mnist_dir)
    sim = Emulation(
        net,
        device=args.device,
        batch_size=args.batch_size,
        record_events=args.events,
        seed=args.seed,
    )
    start = time.perf_counter()
    traces = sim.run(x, y, workers=args.workers, out=args.out, scheduler=args.scheduler)
    elapsed = time.perf_counter() - start
    print(_run_summary(traces, elapsed))
    print(f"traces: {Path(args.out).resolve()}")


def _parse_probe(specs: list[str] | None) -> dict[str, list[int]] | None:
    """``["conv1:0,5,9", ...]`` to ``{"conv1": [0, 5, 9]}``."""
    if not specs:
        return None
    probe = {}
    for spec in specs:
        layer, _, indices = spec.partition(":")
        try:
            probe[layer] = [int(i) for i in indices.split(",")]
        except ValueError:
            raise SystemExit(
                f"error: --probe {spec!r} is not LAYER:I,J,K (neuron indices)"
            ) from None
    return probe


def _run_summary(traces, elapsed: float) -> str:
    n = traces.sizes["sample"]
    lines = [f"{n} samples in {elapsed:.1f} s ({n / elapsed:.1f} samples/s)"]
    labels = traces["label"].values
    if (labels >= 0).all():
        acc = float(np.mean(traces["prediction"].values == labels))
        lines.append(f"accuracy: {100 * acc:.2f} %")
    per_layer = traces["spikes_per_step"].sum(dim=("sample", "step")).values / n
    lines.append(
        "spikes per sample: "
        + ", ".join(f"{k} {v:.0f}" for k, v in zip(traces["layer"].values, per_layer, strict=True))
    )
    sat = traces["saturation"].sum(dim="layer").values
    if sat.any():
        lines.append(
            "saturation (u wraps, v clips, input overflows): " + ", ".join(str(int(s)) for s in sat)
        )
    return "\n".join(lines)


def cmd_demo(args: argparse.Namespace) -> None:
    from .demo import run_demo

    run_demo(Path(args.out), device=args.device, timesteps=args.timesteps, workers=args.workers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neuroemu",
        description="Convert DNNs to spiking networks, emulate Loihi and Akida exactly in Brian2, "
        "and estimate energy, power and latency.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo", help="train, convert and emulate a small CNN on scikit-learn's digits"
    )
    demo.add_argument(
        "--out", default="neuroemu-out", help="output directory (default: %(default)s)"
    )
    demo.add_argument("--device", default="cpp_standalone", choices=("cpp_standalone", "runtime"))
    demo.add_argument(
        "--timesteps", type=int, default=128, help="steps per sample (default: %(default)s)"
    )
    demo.add_argument(
        "--workers", type=int, default=1, help="worker processes (default: %(default)s)"
    )
    demo.set_defaults(func=cmd_demo)

    conv = sub.add_parser(
        "convert", help="convert a trained model into a Loihi or Akida network (.npz)"
    )
    conv.add_argument(
        "model", help="trained model: .pt/.pth (torch module), .onnx or OpenVINO .xml"
    )
    conv.add_argument("--out", required=True, help="where to write the converted network (.npz)")
    conv.add_argument("--target", default="loihi", choices=("loihi", "akida"))
    conv.add_argument(
        "--calibration",
        default="digits",
        help="calibration inputs: 'digits', 'mnist' or an .npy/.npz file (training split; default: %(default)s)",
    )
    conv.add_argument(
        "--calibration-samples", type=int, default=1000, help="calibration samples used"
    )
    conv.add_argument(
        "--percentile", type=float, default=99.9, help="normalization percentile (100 = max)"
    )
    conv.add_argument("--timesteps", type=int, default=128, help="Loihi steps per sample")
    conv.add_argument(
        "--reset", default="subtract", choices=("subtract", "zero"), help="Loihi reset mode"
    )
    conv.add_argument(
        "--encoding", default="bias", choices=("bias", "rate"), help="Loihi input encoding"
    )
    conv.add_argument(
        "--threshold-mant", type=int, default=1024, help="Loihi vth mantissa of every layer"
    )
    conv.add_argument("--mnist-dir", help="directory of the MNIST idx files")
    conv.set_defaults(func=cmd_convert)

    run = sub.add_parser("run", help="emulate a converted network on samples and write HDF5 traces")
    run.add_argument("net", help="converted network (.npz from 'neuroemu convert')")
    run.add_argument(
        "--data", default="digits", help="'digits', 'mnist' (test split) or an .npy/.npz file"
    )
    run.add_argument("--samples", type=int, help="only the first N samples")
    run.add_argument("--out", default="traces.h5", help="trace file (default: %(default)s)")
    run.add_argument(
        "--device",
        default="cpp_standalone",
        choices=("cpp_standalone", "runtime", "cuda_standalone"),
    )
    run.add_argument(
        "--workers", type=int, default=1, help="worker processes (default: %(default)s)"
    )
    run.add_argument(
        "--scheduler",
        help="Dask scheduler address (tcp://HOST:PORT): run the batches on that cluster",
    )
    run.add_argument("--batch-size", type=int, default=128, help="samples per simulation run")
    run.add_argument("--events", action="store_true", help="store the sparse spike raster")
    run.add_argument("--seed", type=int, default=0, help="seed of rate-coded inputs")
    run.add_argument(
        "--probe",
        action="append",
        metavar="LAYER:I,J",
        help="record u and v of these neurons every step (repeatable), e.g. --probe conv2d0:0,17",
    )
    run.add_argument("--mnist-dir", help="directory of the MNIST idx files")
    run.set_defaults(func=cmd_run)

    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
