"""Fit the Akida model's fixed and event-driven constants to named measurements.

Calibration points (all measured on AKD1000 boards):

- MNIST template CNN, a university course's measurement (not a BrainChip publication):
  Rescaling, Conv 16 3x3 + ReLU + MaxPool, Conv 16 3x3 + ReLU + MaxPool, Flatten,
  Dense 10, 8-bit input weights; 10,000 test images, 770 fps, 936.8 mW over a 894.26 mW
  floor. The script builds that network, trains it, converts it for Akida and runs the
  emulator on real MNIST images to count its events and synaptic ops.
- AkidaNet 0.5 224x224 (BrainChip docs: 1 frame 10.99 fps, 10 frames 51.28 fps; user
  guide: 10 frames 43.48 fps, 1021 mW over a 912.23 mW floor): the per-call and per-frame
  fixed costs; its synaptic ops are dense MACs (counted from the architecture) times
  ``akidanet_event_fraction`` (an assumption with a range).

Solved, with ``S`` synaptic ops and ``F`` fires per frame, ``B`` and ``L`` the busiest
and the summed NP loads (synaptic ops per neural processor), ``N`` = 10,000 frames per
call of the template, for call time ``c``, frame time ``f`` and synop time ``s``::

    1 / fps_1    = c +      f + s * L_AN                         (AkidaNet, 1 frame)
    10 / fps_10  = c + 10 * f + s * (L_AN + 9 * B_AN)            (AkidaNet, 10 frames)
    1 / 770      = c / N + 2 f + s * (B_T + (L_T - B_T) / N) + H_T   (template; H_T its host time)
    akida_frame_energy + akida_synop_energy * (S + F) = (P - P_floor) / fps   (both points)

Host layers (those BrainChip's mapper leaves to the host, such as the template's second
convolution, whose max pooling feeds a fully connected layer) run in BrainChip's software
engine; ``--host`` times that engine on such convolutions over a grid of input densities
and fits ``time per frame = akida_host_output_time * outputs + akida_host_synop_time *
synaptic ops`` (outputs: positions x filters before pooling), relative least squares. The
template's host time enters the template's equation (its right side less that time), and
the template passes two hardware sequences (``2 f`` in place of ``f``).

Ranges: the extremes of the fits over the event fraction at its low and high ends, the
user guide's 43.48 fps or the docs' 51.28 fps for 10 frames, and the host constants at
their low and high ends. ``scripts/calibrate_akida.py`` prints the fit.
"""

from __future__ import annotations

import time

import numpy as np

from emu.traces.stats import accuracy

from .. import akida
from ..akida_mapping import map_network
from ..constants import REGISTRY, Constants
from ..published import measured
from . import workloads
from .workloads import akidanet_counts, akidanet_np_loads

__all__ = [
    "FITTED",
    "HOST_SHAPES",
    "HOST_DENSITIES",
    "template_counts",
    "template_summary",
    "host_times",
    "solve",
    "fit",
    "residuals",
]

FITTED = (
    "akida_call_time",
    "akida_frame_time",
    "akida_synop_time",
    "akida_frame_energy",
    "akida_synop_energy",
)
# host-run convolutions timed by --host: (side, input channels, filters), 3x3, max pool 2
HOST_SHAPES = ((14, 16, 16), (14, 16, 32), (14, 16, 64), (7, 32, 32), (7, 32, 64))
HOST_DENSITIES = (1.0, 0.6, 0.3, 0.1, 0.0)


def template_counts(samples: int = 1000, epochs: int = 2, seed: int = 0) -> dict:
    """Train, convert and emulate the template; its frame's counts as BrainChip maps it."""
    net, traces = workloads.template_akida(samples, epochs, seed)
    mapping = map_network(net)
    load = akida.frame_load(akida.layer_counts(net, traces)[0], mapping)
    return {"load": load, "accuracy": accuracy(traces), "host_layers": mapping.host_layers}


def _host_conv(side: int, channels: int, filters: int, rng):
    import akida as engine

    model = engine.Model()
    model.add(engine.InputData((side, side, channels), input_bits=4, name="in"))
    conv = engine.Convolutional(
        kernel_size=(3, 3), filters=filters, padding=engine.Padding.Same, weights_bits=4,
        pool_type=engine.PoolType.Max, pool_size=(2, 2), pool_stride=(2, 2), act_bits=4,
        name="conv",
    )  # fmt: skip
    model.add(conv)
    conv.set_variable("weights", rng.integers(1, 8, (3, 3, channels, filters)).astype(np.int8))
    conv.set_variable("threshold", np.zeros(filters, np.int32))
    conv.set_variable("act_step", np.full(filters, 8, np.float32))
    return model


def host_times(frames: int = 1000, repeats: int = 3, seed: int = 0) -> tuple[float, float]:
    """Seconds per output and per synaptic op of BrainChip's software engine on this host.

    Times ``akida.Model.forward`` (the best of ``repeats``) on 3x3 max-pooled convolutions
    of HOST_SHAPES at HOST_DENSITIES and fits both constants by relative least squares.
    """
    rng = np.random.default_rng(seed)
    rows, seconds = [], []
    for side, channels, filters in HOST_SHAPES:
        model = _host_conv(side, channels, filters, rng)
        for density in HOST_DENSITIES:
            shape = (frames, side, side, channels)
            x = rng.integers(1, 16, shape) * (rng.random(shape) < density)
            x = x.astype(np.uint8)
            model.forward(x[:50])
            best = np.inf
            for _ in range(repeats):
                start = time.perf_counter()
                model.forward(x)
                best = min(best, (time.perf_counter() - start) / frames)
            events = np.count_nonzero(x) / frames
            rows.append((side * side * filters, events * 9 * filters))
            seconds.append(best)
    a = np.asarray(rows, float) / np.asarray(seconds)[:, None]
    (per_output, per_synop), *_ = np.linalg.lstsq(a, np.ones(len(seconds)), rcond=None)
    return float(per_output), float(per_synop)


def solve(template: dict, fraction: float, fps_10: float, c: Constants | None = None) -> dict:
    """The five constants from the template's frame, AkidaNet's event fraction and ``c``'s
    host constants."""
    c = c or Constants()
    macs, outputs = akidanet_counts()
    s_an, f_an = macs * fraction, outputs * fraction
    b_an, l_an = (fraction * v for v in akidanet_np_loads())
    n = c["akida_frames_per_call"]
    t = template["load"]
    host = c["akida_host_output_time"] * t.host_outputs + c["akida_host_synop_time"] * t.host_synops
    lhs = [
        [1, 1, l_an],
        [1, 10, l_an + 9 * b_an],
        [1 / n, t.sequences, t.busiest + (t.serial - t.busiest) / n],
    ]
    rhs = [
        1 / measured("akidanet_docs_fps_1"),
        10 / fps_10,
        1 / measured("akida_calibration_fps") - host,
    ]
    call, frame, synop_time = np.linalg.solve(lhs, rhs)
    dyn_mn = (measured("akida_calibration_power") - c["akida_floor_power"]) / measured(
        "akida_calibration_fps"
    )
    dyn_an = (measured("akidanet_guide_power") - measured("akidanet_guide_floor")) / measured(
        "akidanet_guide_fps"
    )
    synop_energy = (dyn_an - dyn_mn) / (s_an + f_an - t.synops - t.fires)
    return {
        "akida_call_time": call,
        "akida_frame_time": frame,
        "akida_synop_time": synop_time,
        "akida_frame_energy": dyn_mn - synop_energy * (t.synops + t.fires),
        "akida_synop_energy": synop_energy,
    }


def template_summary(template: dict, samples: int) -> str:
    """One line: the template's accuracy and its frame's counts on the chip and the host."""
    load = template["load"]
    return (
        f"template CNN: accuracy {100 * template['accuracy']:.2f}% on {samples} images; per "
        f"frame {load.synops:.0f} synaptic ops and {load.fires:.0f} fires on the chip, "
        f"{load.host_synops:.0f} synaptic ops on the host (layers {template['host_layers']}), "
        f"{load.sequences} hardware sequences"
    )


def fit(
    samples: int = 1000, epochs: int = 2, seed: int = 0, *, template: dict | None = None
) -> dict[str, tuple]:
    """Fitted constants: name -> (value, low, high); ``template`` as :func:`template_counts`
    returns it (trained here when None)."""
    c = Constants()
    template = template or template_counts(samples, epochs, seed)
    central = solve(template, c["akidanet_event_fraction"], measured("akidanet_docs_fps_10"))
    host = ["akida_host_output_time", "akida_host_synop_time"]
    fps_10 = (measured("akidanet_guide_fps"), measured("akidanet_docs_fps_10"))
    ends = [
        solve(template, f, fps, c.corner(side, host))
        for f in REGISTRY["akidanet_event_fraction"].range
        for fps in fps_10
        for side in ("low", "high")
    ]
    return {
        n: (
            central[n],
            min(central[n], *(e[n] for e in ends)),
            max(central[n], *(e[n] for e in ends)),
        )
        for n in FITTED
    }


def residuals(values: dict[str, float], template: dict) -> dict[str, float]:
    """Modelled over measured for each calibration figure, with the fitted values."""
    c = Constants().replace(**values)
    t_mn, e_mn = akida.frame_figures(template["load"], c)
    macs, outputs = akidanet_counts()
    f = c["akidanet_event_fraction"]
    b, serial = (f * v for v in akidanet_np_loads())
    an = akida.FrameLoad(macs * f, outputs * f, b, serial)
    t1, _ = akida.frame_figures(an, c, 1)
    t10, _ = akida.frame_figures(an, c, 10)
    return {
        "template fps": 1 / t_mn / measured("akida_calibration_fps"),
        "template power": (c["akida_floor_power"] + e_mn / t_mn)
        / measured("akida_calibration_power"),
        "AkidaNet 1-frame fps": 1 / t1 / measured("akidanet_docs_fps_1"),
        "AkidaNet 10-frame fps": 1 / t10 / measured("akidanet_docs_fps_10"),
    }
