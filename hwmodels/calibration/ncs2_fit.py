"""Fit the NCS2 model's constants to published NCS2 measurements.

Two sources (``data/``, with their origin; nothing is fetched):

- Blouw et al. 2019's logs (``published_power.json``): the 390-256-256-29 keyword spotter
  (FP16, synchronous OpenVINO, batch 1, USB 3), 464.6 inferences/s, running and idle power
  from a USB meter. Its compute is negligible, so its period is the call floor.
- ``prg_prgncs``'s frame rates (``published_ncs2.json``): encoder-decoders of 0.6-14 GFLOP
  (FP16, synchronous, batch 1, USB 2.0). One (256x256x1, filters 16-128) calibrates the
  layers' data rate; the other twelve are held out (``neuroemu validate-models``).

The fit::

    ncs2_power, ncs2_idle_power    = mean running and idle power of the keyword spotter
    ncs2_call_overhead             = its period less its modelled layer time and transfer
    ncs2_memory_bandwidth          = the rate at which the calibration encoder-decoder's
                                     modelled latency (at ncs2_utilization) meets its
                                     measured one, given the call floor

solved jointly (the floor and the layer terms depend on each other) by alternating until
they settle. Ranges: the fits with the other constants (utilization, USB bandwidths) at their range
ends. ``scripts/calibrate_ncs2.py`` prints the fit.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

import converters
from converters.graph import Graph

from .. import ncs2, published, validation
from ..constant import bounded_names
from ..constants import Constants
from ..ncs2_constants import BOUNDED, WORKLOAD_CONSTANTS
from . import workloads

__all__ = ["FITTED", "kws_graph", "fit", "residuals"]

FITTED = (
    "ncs2_power",
    "ncs2_idle_power",
    "ncs2_call_overhead",
    "ncs2_memory_bandwidth",
)
# the bounded constants the fit holds: its ranges are the fits at their range ends
_OTHERS = [n for n in (*BOUNDED, *bounded_names(WORKLOAD_CONSTANTS)) if n not in FITTED]


def kws_graph() -> tuple[Graph, int]:
    """The keyword spotter's graph (random weights: the floor does not depend on them)."""
    graph = converters.load(workloads.kws_model(), np.zeros((1, 390), np.float32))
    return graph, 390 + 29


def _overhead(c: Constants) -> float:
    graph, io_values = kws_graph()
    bare = ncs2.modelled(graph, io_values, c.replace(ncs2_call_overhead=0.0))
    return 1.0 / published.ncs2_kws().rate - bare.latency


def _bandwidth(c: Constants) -> float:
    (timing,) = (published.ncs2_timings()[i] for i in validation.NCS2_CALIBRATION)

    def excess(log_bandwidth: float) -> float:
        k = c.replace(ncs2_memory_bandwidth=float(np.exp(log_bandwidth)))
        return float(np.log(validation.encoder_decoder(timing, k).latency * timing.fps))

    return float(np.exp(brentq(excess, np.log(1e7), np.log(1e11), xtol=1e-12)))


def _joint(c: Constants) -> Constants:
    for _ in range(50):
        c = c.replace(ncs2_call_overhead=_overhead(c))
        bandwidth = _bandwidth(c)
        done = np.isclose(bandwidth, c["ncs2_memory_bandwidth"], rtol=1e-10)
        c = c.replace(ncs2_memory_bandwidth=bandwidth)
        if done:
            break
    return c.replace(ncs2_call_overhead=_overhead(c))


def fit() -> dict[str, tuple[float, float, float]]:
    """Fitted constants: name -> (value, low, high)."""
    point = published.ncs2_kws()
    c = Constants()
    central = _joint(c)
    ends = [_joint(c.corner(end, _OTHERS)) for end in ("low", "high")]
    out = {
        "ncs2_power": (point.running_power,) * 3,
        "ncs2_idle_power": (point.idle_power,) * 3,
    }
    for name in FITTED[2:]:
        vals = [k[name] for k in ends]
        out[name] = (central[name], min(vals), max(vals))
    return out


def residuals(values: dict[str, float]) -> dict[str, float]:
    """Modelled over measured, with the fitted values: the keyword spotter's period and
    power, and the calibration encoder-decoders' latencies."""
    graph, io_values = kws_graph()
    c = Constants().replace(**values)
    est = ncs2.modelled(graph, io_values, c)
    point = published.ncs2_kws()
    out = {
        "period": est.latency * point.rate,
        "running power": est.power / point.running_power,
        "idle power": est.power_static / point.idle_power,
    }
    for i in validation.NCS2_CALIBRATION:
        t = published.ncs2_timings()[i]
        out[t.name] = validation.encoder_decoder(t, c).latency * t.fps
    return out
