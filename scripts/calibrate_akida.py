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
    1 / 770      = c / N +  f + s * (B_T + (L_T - B_T) / N)      (template)
    akida_frame_energy + akida_synop_energy * (S + F) = (P - P_floor) / fps   (both points)

Ranges: the fits with the event fraction at its low and high ends, and with the user
guide's 43.48 fps in place of the docs' 10-frame rate for the call time.

Run: ``python scripts/calibrate_akida.py [--samples 1000] [--epochs 2]``
"""

from __future__ import annotations

import argparse

import numpy as np

from hwmodels import Constants, akida, workloads
from hwmodels.workloads import akidanet_counts, akidanet_np_loads

FITTED = (
    "akida_call_time",
    "akida_frame_time",
    "akida_synop_time",
    "akida_frame_energy",
    "akida_synop_energy",
)


def template_counts(samples: int = 1000, epochs: int = 2, seed: int = 0) -> dict[str, float]:
    """Train, convert and emulate the template; its synaptic ops and fires per frame."""
    net, traces = workloads.template_akida(samples, epochs, seed)
    counted = akida.estimate(net, traces)
    return {
        "synops": counted.details["synaptic_ops_per_frame"],
        "fires": counted.details["events_per_frame"],
        "busiest": counted.details["busiest_np_ops_per_frame"],
        "serial": counted.details["serial_np_ops_per_frame"],
        "accuracy": counted.accuracy,
    }


def solve(template: dict[str, float], fraction: float, fps_10: float) -> dict[str, float]:
    """The five constants from the template's counts and AkidaNet's event fraction."""
    c = Constants()
    macs, outputs = akidanet_counts()
    s_an, f_an = macs * fraction, outputs * fraction
    b_an, l_an = (fraction * v for v in akidanet_np_loads(c["akida_filters_per_np"]))
    n = c["akida_frames_per_call"]
    b_t, l_t = template["busiest"], template["serial"]
    lhs = [[1, 1, l_an], [1, 10, l_an + 9 * b_an], [1 / n, 1, b_t + (l_t - b_t) / n]]
    rhs = [1 / c["akidanet_docs_fps_1"], 10 / fps_10, 1 / c["akida_calibration_fps"]]
    call, frame, synop_time = np.linalg.solve(lhs, rhs)
    s_mn, f_mn = template["synops"], template["fires"]
    dyn_mn = (c["akida_calibration_power"] - c["akida_floor_power"]) / c["akida_calibration_fps"]
    dyn_an = (c["akidanet_guide_power"] - c["akidanet_guide_floor"]) / c["akidanet_guide_fps"]
    synop_energy = (dyn_an - dyn_mn) / (s_an + f_an - s_mn - f_mn)
    return {
        "akida_call_time": call,
        "akida_frame_time": frame,
        "akida_synop_time": synop_time,
        "akida_frame_energy": dyn_mn - synop_energy * (s_mn + f_mn),
        "akida_synop_energy": synop_energy,
    }


def fit(samples: int = 1000, epochs: int = 2, seed: int = 0) -> dict[str, tuple]:
    """Fitted constants: name -> (value, low, high); also prints the template's counts."""
    c = Constants()
    template = template_counts(samples, epochs, seed)
    print(
        f"template CNN: accuracy {100 * template['accuracy']:.2f}% on {samples} images; "
        f"{template['synops']:.0f} synaptic ops and {template['fires']:.0f} fires per frame"
    )
    central = solve(template, c["akidanet_event_fraction"], c["akidanet_docs_fps_10"])
    low, high = (
        solve(template, f, fps)
        for f, fps in (
            (REGISTRY_RANGE[0], c["akidanet_guide_fps"]),
            (REGISTRY_RANGE[1], c["akidanet_docs_fps_10"]),
        )
    )
    return {n: (central[n], min(low[n], high[n]), max(low[n], high[n])) for n in FITTED}


REGISTRY_RANGE = Constants().record(["akidanet_event_fraction"])["akidanet_event_fraction"]
REGISTRY_RANGE = (REGISTRY_RANGE["low"], REGISTRY_RANGE["high"])


def residuals(values: dict[str, float], template: dict[str, float]) -> dict[str, float]:
    """Modelled over measured for each calibration figure, with the fitted values."""
    c = Constants().replace(**values)
    t_mn, e_mn = akida.frame_figures(template["synops"], template["fires"], c, None,
                                     template["busiest"], template["serial"])  # fmt: skip
    macs, outputs = akidanet_counts()
    f = c["akidanet_event_fraction"]
    b, serial = (f * v for v in akidanet_np_loads(c["akida_filters_per_np"]))
    t1, _ = akida.frame_figures(macs * f, outputs * f, c, 1, b, serial)
    t10, _ = akida.frame_figures(macs * f, outputs * f, c, 10, b, serial)
    return {
        "template fps": 1 / t_mn / c["akida_calibration_fps"],
        "template power": (c["akida_floor_power"] + e_mn / t_mn) / c["akida_calibration_power"],
        "AkidaNet 1-frame fps": 1 / t1 / c["akidanet_docs_fps_1"],
        "AkidaNet 10-frame fps": 1 / t10 / c["akidanet_docs_fps_10"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000, help="test images (default 1000)")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    values = fit(args.samples, args.epochs, args.seed)
    for name, (value, low, high) in values.items():
        print(f"{name} = {value:.4e}  # range {low:.3e} .. {high:.3e}")
    template = template_counts(args.samples, args.epochs, args.seed)
    res = residuals({n: v[0] for n, v in values.items()}, template)
    print("residuals (modelled / measured): " + ", ".join(f"{k} {v:.4f}" for k, v in res.items()))


if __name__ == "__main__":
    main()
