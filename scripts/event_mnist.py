"""An N-MNIST-style event dataset from MNIST, a network trained on it, run spiking on Loihi.

Each image sits on a 34 x 34 sensor that moves over it in three saccades (a triangle, as
in N-MNIST); every pixel keeps a reference log intensity and emits an ON (OFF) event each
time its log intensity rises (falls) by ``--threshold`` from it. The events are written to
an .npz (sample offsets, time in microseconds, x, y, polarity, labels). A float MLP is
trained on the per-pixel event rates binned into ``--steps`` steps, converted with
``converters.to_loihi(..., input_encoding="spikes")`` and emulated on the binned events
themselves; the traces go to HDF5 and into ``hwmodels.loihi.estimate``.

    python scripts/event_mnist.py --train 4000 --test 300 --out /tmp/event_mnist
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

SENSOR = 34  # N-MNIST's sensor is 34 x 34 pixels
SACCADE_US = 100_000  # each saccade lasts 100 ms
# sensor offsets (row, column) at the corners of the saccade triangle, in pixels
CORNERS = np.array([[0.0, 0.0], [6.0, 3.0], [0.0, 6.0], [0.0, 0.0]])


def sensor_frames(images: np.ndarray, frames_per_saccade: int) -> np.ndarray:
    """The 34 x 34 sensor's view (N, frames, 34, 34) as it moves over each 28 x 28 image."""
    n, h, w = images.shape
    pad = np.zeros((n, SENSOR + 8, SENSOR + 8), np.float32)
    pad[:, 4 : 4 + h, 4 : 4 + w] = images  # the image centered with room to move
    path = [
        CORNERS[k] + (CORNERS[k + 1] - CORNERS[k]) * f / frames_per_saccade
        for k in range(3)
        for f in range(frames_per_saccade)
    ]
    frames = np.empty((n, len(path), SENSOR, SENSOR), np.float32)
    for j, (dy, dx) in enumerate(path):
        y0, x0 = int(np.floor(dy)), int(np.floor(dx))
        fy, fx = dy - y0, dx - x0
        frames[:, j] = sum(
            wy * wx * pad[:, y0 + a : y0 + a + SENSOR, x0 + b : x0 + b + SENSOR]
            for a, wy in ((0, 1 - fy), (1, fy))
            for b, wx in ((0, 1 - fx), (1, fx))
        )
    return frames


def dvs_events(frames: np.ndarray, threshold: float, seed: int = 0) -> dict[str, np.ndarray]:
    """ON/OFF events of every pixel from its log-intensity change against a reference level.

    Returns per event its sample, time (us, uniform within its frame), x, y and polarity
    (1 ON, 0 OFF), sorted by sample and time.
    """
    rng = np.random.default_rng(seed)
    n, n_frames = frames.shape[:2]
    frame_us = 3 * SACCADE_US // n_frames
    log = np.log(frames + 0.1)
    ref = log[:, 0].copy()
    parts = []
    for f in range(1, n_frames):
        diff = log[:, f] - ref
        count = np.floor(np.abs(diff) / threshold).astype(np.int64)
        ref += np.sign(diff) * count * threshold
        idx = np.flatnonzero(count)
        idx = np.repeat(idx, count.ravel()[idx])
        sample, y, x = np.unravel_index(idx, count.shape)
        polarity = (diff.ravel()[idx] > 0).astype(np.uint8)
        t = f * frame_us + rng.integers(0, frame_us, len(idx))
        parts.append((sample, t, x, y, polarity))
    sample, t, x, y, p = (np.concatenate(c) for c in zip(*parts, strict=True))
    order = np.lexsort((t, sample))
    return {
        "sample": sample[order].astype(np.int32),
        "t": t[order].astype(np.int32),
        "x": x[order].astype(np.uint8),
        "y": y[order].astype(np.uint8),
        "p": p[order],
    }


def save_events(path: Path, events: dict[str, np.ndarray], labels: np.ndarray) -> None:
    """Write events as N-MNIST-like records: per-sample offsets into t, x, y, p."""
    offsets = np.searchsorted(events["sample"], np.arange(len(labels) + 1))
    np.savez_compressed(
        path, offsets=offsets, t=events["t"], x=events["x"], y=events["y"], p=events["p"],
        labels=labels,
    )  # fmt: skip


def load_events(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Per sample an (E, 4) array of (t us, x, y, p), and the labels."""
    with np.load(path) as f:
        columns = np.stack([f["t"], f["x"], f["y"], f["p"]], axis=1).astype(np.int64)
        offsets, labels = f["offsets"], f["labels"]
    return [columns[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)], labels


def to_step_events(samples: list[np.ndarray], steps: int) -> list[np.ndarray]:
    """Per sample (step, neuron) pairs for an input of shape (2, 34, 34): neuron = p, y, x."""
    step_us = 3 * SACCADE_US / steps
    out = []
    for ev in samples:
        t, x, y, p = ev.T
        step = np.minimum((t / step_us).astype(np.int64), steps - 1)
        out.append(np.stack([step, (p * SENSOR + y) * SENSOR + x], axis=1))
    return out


def rates(step_events: list[np.ndarray], steps: int) -> np.ndarray:
    """Fraction of steps in which each input neuron spikes, (N, 2, 34, 34): the float net's input."""
    from converters.chips.loihi import LoihiInput

    raster = LoihiInput((2, SENSOR, SENSOR), "spikes").raster(step_events, steps)
    return raster.mean(axis=1).reshape(len(raster), 2, SENSOR, SENSOR).astype(np.float32)


def mlp(hidden: int):
    from torch import nn

    return nn.Sequential(
        nn.Flatten(), nn.Linear(2 * SENSOR * SENSOR, hidden), nn.ReLU(), nn.Linear(hidden, 10)
    )


def make_dataset(args) -> Path:
    from converters.training import datasets

    data = datasets.mnist(args.mnist_dir, n_train=8000, seed=0)
    images = np.concatenate([data.x_train[: args.train], data.x_test[: args.test]])[:, 0]
    labels = np.concatenate([data.y_train[: args.train], data.y_test[: args.test]])
    t0 = time.perf_counter()
    events = dvs_events(sensor_frames(images, args.frames), args.threshold, seed=0)
    path = args.out / "events.npz"
    save_events(path, events, labels)
    n = len(labels)
    print(
        f"events: {n} samples, {len(events['t']) / n:.0f} events per sample "
        f"({100 * events['p'].mean():.0f}% ON), {time.perf_counter() - t0:.0f} s -> {path}"
    )
    return path


def main() -> None:
    from emu.engines.registry import device_names

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mnist-dir", help="directory of the MNIST idx files")
    parser.add_argument("--train", type=int, default=4000, help="training samples")
    parser.add_argument("--test", type=int, default=300, help="samples emulated")
    parser.add_argument("--frames", type=int, default=30, help="sensor frames per saccade")
    parser.add_argument("--threshold", type=float, default=0.5, help="log-intensity step")
    parser.add_argument("--steps", type=int, default=90, help="Loihi steps per sample")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--device", default="cpp_standalone", choices=device_names("loihi"))
    parser.add_argument("--out", type=Path, default=Path("event_mnist"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    samples, labels = load_events(make_dataset(args))
    step_events = to_step_events(samples, args.steps)
    train, test = slice(0, args.train), slice(args.train, None)
    run_pipeline(args, step_events[train], labels[train], step_events[test], labels[test])


def run_pipeline(args, train_events, y_train, test_events, y_test) -> None:
    """Train on event rates, convert for spike-train input, emulate, estimate."""
    import torch

    from converters import pipeline, training
    from emu import Emulation
    from emu.engines import loihi_reference as ref
    from hwmodels import loihi

    torch.manual_seed(0)
    x_train, x_test = rates(train_events, args.steps), rates(test_events, args.steps)
    model = training.train(mlp(args.hidden), x_train, y_train, epochs=args.epochs, lr=1e-3)
    print(
        f"float MLP on binned event rates: {100 * training.accuracy(model, x_test, y_test):.2f} %"
    )
    net = pipeline.loihi_net(
        model, x_train[:1000], warn_dead=False, timesteps=args.steps, input_encoding="spikes"
    )
    t0 = time.perf_counter()
    traces = Emulation(net, args.device, batch_size=100).run(
        test_events, y_test, out=args.out / "traces.h5"
    )
    elapsed = time.perf_counter() - t0
    predictions = traces["prediction"].values
    snn = float(np.mean(predictions == y_test))
    expected = ref.simulate(net, net.input.raster(test_events, args.steps))
    agree = np.mean(expected.counts[net.output.name].argmax(axis=1) == predictions)
    n_events = np.mean([len(e) for e in test_events])
    print(
        f"spiking network ({args.device}, {args.steps} steps): {100 * snn:.2f} % on "
        f"{len(y_test)} samples in {elapsed:.0f} s; {n_events:.0f} input events per sample; "
        f"numpy reference agrees on {100 * agree:.1f} % of predictions"
    )
    estimate = loihi.estimate(net, traces, label="event-mnist")
    print(estimate.summary())
    estimate.save(args.out / "loihi_estimate.json")


if __name__ == "__main__":
    main()
