"""One deployment setting of LeNet-5 on Loihi: convert, emulate, estimate; and how to combine them.

A setting picks the timesteps, normalization percentile, threshold scaling, reset mode,
input encoding and a spread of the cores per layer (:data:`PLAIN`, varied one choice at a
time by :data:`CHOICES`). :func:`run_setting` converts the trained model under it, emulates
the test images (the numpy reference, or Brian2's cpp_standalone device for the engine
"brian2": one build per network) and estimates Loihi's figures; :func:`combine` takes the
best value of each choice. ``scripts/deployment_sweep.py`` runs the sweep against the NCS2.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

import converters
from converters.chips.loihi import LoihiNet
from emu import Emulation

from .. import loihi
from ..constants import Constants
from ..estimate import Estimate

__all__ = [
    "PLAIN",
    "CHOICES",
    "Context",
    "convert",
    "traces_of",
    "name_of",
    "run_setting",
    "settings_one_at_a_time",
    "improves",
    "combine",
]

PLAIN = {
    "timesteps": 64,
    "percentile": 100.0,
    "threshold_scale": 1.0,
    "reset": "zero",
    "encoding": "rate",
    "spread": 1,
}
CHOICES = {
    "timesteps": [16, 32, 128],
    "percentile": [99.0, 99.9, 99.99],
    "threshold_scale": [0.8, 1.25],
    "reset": ["subtract"],
    "encoding": ["bias"],
    "spread": [2],
}


@dataclasses.dataclass
class Context:
    """What every setting shares: the trained model and the data."""

    model: object
    calibration: np.ndarray
    x: np.ndarray
    y: np.ndarray
    engine: str


def convert(ctx: Context, setting: dict) -> LoihiNet:
    """The LoihiNet of one setting (thresholds scaled after quantization)."""
    graph = converters.load(ctx.model, ctx.calibration[:1])
    graph = converters.normalize(graph, ctx.calibration, percentile=setting["percentile"])
    net = converters.to_loihi(
        graph,
        timesteps=setting["timesteps"],
        reset=setting["reset"],
        input_encoding=setting["encoding"],
    )
    if setting["threshold_scale"] != 1.0:
        net.layers = [
            dataclasses.replace(
                layer, vth_mant=int(round(layer.vth_mant * setting["threshold_scale"]))
            )
            for layer in net.layers
        ]
    return net


def traces_of(ctx: Context, net: LoihiNet) -> xr.Dataset:
    """Emulate the test images on ``net`` and return the trace Dataset."""
    if ctx.engine == "brian2":
        return Emulation(net, device="cpp_standalone", batch_size=len(ctx.x)).run(ctx.x, ctx.y)
    return Emulation(net, device="reference").run(ctx.x, ctx.y)


def name_of(setting: dict) -> str:
    """The choices that differ from the plain conversion, or "plain"."""
    changed = [f"{k}={v}" for k, v in setting.items() if PLAIN[k] != v]
    return ", ".join(changed) or "plain"


def run_setting(ctx: Context, setting: dict, constants: Constants | None = None) -> Estimate:
    """Convert, emulate and estimate one setting (``spread`` multiplies the fewest cores)."""
    net = convert(ctx, setting)
    traces = traces_of(ctx, net)
    cores = {m.layer: min(m.cores * setting["spread"], len(m.core)) for m in loihi.map_cores(net)}
    result = loihi.estimate(
        net, traces, cores_per_layer=cores, constants=constants, label=name_of(setting)
    )
    result.details["setting"] = setting
    return result


def settings_one_at_a_time() -> list[dict]:
    """The plain conversion, then each choice varied alone."""
    out = [dict(PLAIN)]
    for key, values in CHOICES.items():
        out += [PLAIN | {key: v} for v in values]
    return out


def improves(e: Estimate, plain: Estimate) -> bool:
    """Higher accuracy than the plain conversion, or lower energy at no lower accuracy."""
    return e.accuracy > plain.accuracy or (e.accuracy >= plain.accuracy and e.energy < plain.energy)


def combine(results: list[Estimate], dnn_accuracy: float) -> dict:
    """Per choice, the value whose one-at-a-time setting was best (energy within 1 point)."""
    combined = dict(PLAIN)
    for key in CHOICES:
        group = [
            r
            for r in results
            if all(v == PLAIN[k] for k, v in r.details["setting"].items() if k != key)
        ]
        ok = [r for r in group if r.accuracy >= dnn_accuracy - 0.01] or group
        best = min(ok, key=lambda r: (r.energy, -r.accuracy))
        combined[key] = best.details["setting"][key]
    return combined
