"""Fit the NCS2's running and idle power and its call floor to Blouw et al. 2019's NCS2 logs.

The logs (``data/published_power.json``, from ``abr/power_benchmarks``) hold the 390-256-
256-29 keyword spotter on an NCS2 (FP16, synchronous OpenVINO, batch 1): 418,102
inferences in 900 s, running and idle power from a USB meter. The network's compute is
negligible, so its period is the call floor::

    ncs2_power         = mean running power
    ncs2_idle_power    = mean idle power
    ncs2_call_overhead = 1 / rate - (modelled layer time + USB transfer)

The call overhead's range is the fit with the other constants at their range ends.

Run: ``python scripts/calibrate_ncs2.py``
"""

from __future__ import annotations

import numpy as np

import converters
from hwmodels import Constants, ncs2, published, workloads

FITTED = ("ncs2_power", "ncs2_idle_power", "ncs2_call_overhead")


def kws_graph():
    """The keyword spotter's graph (random weights: the floor does not depend on them)."""
    graph = converters.load(workloads.kws_model(), np.zeros((1, 390), np.float32))
    return graph, 390 + 29


def _overhead(c: Constants) -> float:
    graph, io_values = kws_graph()
    bare = ncs2.modelled(graph, io_values, c.replace(ncs2_call_overhead=0.0))
    return 1.0 / published.ncs2_kws().rate - bare.latency


def fit() -> dict[str, tuple[float, float, float]]:
    """Fitted constants: name -> (value, low, high)."""
    point = published.ncs2_kws()
    c = Constants()
    others = [n for n in ncs2._RANGED if n not in FITTED]
    ends = [_overhead(c.corner(end, others)) for end in ("low", "high")]
    return {
        "ncs2_power": (point.running_power, point.running_power, point.running_power),
        "ncs2_idle_power": (point.idle_power, point.idle_power, point.idle_power),
        "ncs2_call_overhead": (_overhead(c), min(ends), max(ends)),
    }


def residuals(values: dict[str, float]) -> dict[str, float]:
    """Modelled over measured, with the fitted values: period, running and idle power."""
    graph, io_values = kws_graph()
    est = ncs2.modelled(graph, io_values, Constants().replace(**values))
    point = published.ncs2_kws()
    return {
        "period": est.latency * point.rate,
        "running power": est.power / point.running_power,
        "idle power": est.power_static / point.idle_power,
    }


def main() -> None:
    values = fit()
    for name, (value, low, high) in values.items():
        print(f"{name} = {value:.4e}  # range {low:.4e} .. {high:.4e}")
    res = residuals({n: v[0] for n, v in values.items()})
    print("residuals (modelled / measured): " + ", ".join(f"{k} {v:.4f}" for k, v in res.items()))


if __name__ == "__main__":
    main()
