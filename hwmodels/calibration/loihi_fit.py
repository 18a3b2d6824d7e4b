"""Fit Loihi's x86 parts to Blouw et al. 2019's logs: keyword spotting and the sweep's N=0.

The logs (``data/published_power.json``, from ``abr/power_benchmarks``) measure the same
390-256-256-29 network at two rates: the keyword spotter (five runs, about 297/s) and the
scaled sweep's N=0 point (three runs, about 126/s, the input spread over more cores).
Running minus idle from boot (Blouw's convention) is, per the model::

    P_dyn = loihi_x86_active_power + rate * (B + steps * chips * loihi_step_energy)

with ``B`` the model's other dynamic energy per inference (per-op counts, input and
output spikes, host I/O) on the rebuilt network (random weights normalized on uniform
features, rate-coded input, 32 steps: what the paper does not give is simulated). Two
rates give the per-inference slope ``A = B + steps * chips * e`` and the intercept; the
step energy is ``(A - B) / (steps * chips)``, at least zero (where ``B`` alone exceeds
the slope the x86 power is refitted with ``e = 0``, least squares over both points).
The keyword spotter's period fixes the step time::

    loihi_step_time = (1 / rate - latency without it) / steps     (at least zero)

Ranges: the fits with the other constants at the low and high ends of their ranges.
``scripts/calibrate_loihi.py`` prints the fit.
"""

from __future__ import annotations

import xarray as xr

from converters.chips.loihi import LoihiNet

from .. import loihi, published
from ..constants import Constants
from ..loihi_constants import BOUNDED
from . import workloads

__all__ = ["STEPS", "FITTED", "kws_workload", "fit", "residuals"]

STEPS = 32
FITTED = ("loihi_step_energy", "loihi_step_time", "loihi_x86_active_power")


def kws_workload(timesteps: int = STEPS, seed: int = 0) -> tuple[LoihiNet, xr.Dataset]:
    """The KWS network (390-256-256-29) and its traces on 20 simulated inputs."""
    return workloads.kws(timesteps, seed)


def _fit_at(net, traces, c: Constants) -> dict[str, float]:
    points = [published.loihi_kws(), published.loihi_scaled()[0]]
    bare_c = c.replace(**dict.fromkeys(FITTED, 0.0))
    bare = loihi.estimate(net, traces, constants=bare_c, accounting="blouw")
    b, steps = bare.energy_dynamic, bare.details["timesteps"] * bare.details["chips"]
    (p1, r1), (p0, r0) = ((p.dynamic_power, p.rate) for p in points)
    slope = (p1 - p0) / (r1 - r0)
    step_energy = max(0.0, (slope - b) / steps)
    per_inference = b + steps * step_energy
    x86 = sum(p - r * per_inference for p, r in ((p1, r1), (p0, r0))) / 2
    return {
        "loihi_step_energy": step_energy,
        "loihi_step_time": max(0.0, (1.0 / r1 - bare.latency) / bare.details["timesteps"]),
        "loihi_x86_active_power": max(0.0, x86),
    }


def fit(seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """Fitted constants: name -> (value, low, high)."""
    net, traces = kws_workload(seed=seed)
    c = Constants()
    others = [n for n in BOUNDED if n not in FITTED]
    central = _fit_at(net, traces, c)
    ends = [_fit_at(net, traces, c.corner(end, others)) for end in ("low", "high")]
    return {n: (central[n], min(e[n] for e in ends), max(e[n] for e in ends)) for n in FITTED}


def residuals(values: dict[str, float], seed: int = 0) -> dict[str, float]:
    """Modelled over measured, with the fitted values, for the calibration figures."""
    net, traces = kws_workload(seed=seed)
    c = Constants().replace(**values)
    out = {}
    for name, point in (("KWS", published.loihi_kws()), ("N=0", published.loihi_scaled()[0])):
        est = loihi.estimate(net, traces, constants=c, rate=point.rate, accounting="blouw")
        out[f"{name} dynamic energy"] = est.energy_dynamic / point.dynamic_energy
    est = loihi.estimate(net, traces, constants=c)
    out["KWS period"] = est.latency * published.loihi_kws().rate
    return out
