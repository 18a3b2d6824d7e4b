"""Fit Loihi's per-step system constants to the keyword-spotting measurement of Blouw et al. 2019.

The workload is rebuilt as the paper describes it: a 390-256-256-29 network run at 296
inferences/s; what the paper does not give (weights, inputs, steps) is simulated: random
weights normalized on uniform features in [0, 1], rate-coded input from the host, 32
steps. With ``loihi_step_energy`` and ``loihi_step_time`` set to zero the model gives the
rest of the dynamic energy and latency; the two constants close the gap::

    loihi_step_energy = (0.27 mJ - E_dynamic without them) / (steps * chips)
    loihi_step_time   = (1 / 296 s - latency without them) / steps

(the chip ran back to back at 296/s, so its period is its latency). The low and high ends
are the fits with the other constants at the high and low ends of their ranges.

Run: ``python scripts/calibrate_loihi.py``
"""

from __future__ import annotations

from hwmodels import Constants, loihi, workloads

STEPS = 32
FITTED = ("loihi_step_energy", "loihi_step_time")


def kws_workload(timesteps: int = STEPS, seed: int = 0):
    """The KWS network (390-256-256-29) and its traces on 20 simulated inputs."""
    return workloads.kws(timesteps, seed)


def _fit_at(net, traces, c: Constants) -> dict[str, float]:
    bare = loihi.estimate(net, traces, constants=c.replace(**dict.fromkeys(FITTED, 0.0)))
    chips, steps = bare.details["chips"], bare.details["timesteps"]
    return {
        "loihi_step_energy": (c["blouw_dynamic_energy"] - bare.energy_dynamic) / (steps * chips),
        "loihi_step_time": (1.0 / c["blouw_inference_rate"] - bare.latency) / steps,
    }


def fit(seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """Fitted constants: name -> (value, low, high)."""
    net, traces = kws_workload(seed=seed)
    c = Constants()
    others = [n for n in loihi._RANGED if n not in FITTED]
    central = _fit_at(net, traces, c)
    at_high = _fit_at(net, traces, c.corner("high", others))
    at_low = _fit_at(net, traces, c.corner("low", others))
    return {
        n: (central[n], max(0.0, min(at_high[n], at_low[n])), max(at_high[n], at_low[n]))
        for n in FITTED
    }


def residuals(values: dict[str, float], seed: int = 0) -> dict[str, float]:
    """Modelled over measured, with the fitted values, for the calibration figures."""
    net, traces = kws_workload(seed=seed)
    c = Constants().replace(**values)
    est = loihi.estimate(net, traces, constants=c)
    return {
        "dynamic energy": est.energy_dynamic / c["blouw_dynamic_energy"],
        "period": est.latency * c["blouw_inference_rate"],
    }


def main() -> None:
    values = fit()
    for name, (value, low, high) in values.items():
        print(f"{name} = {value:.4e}  # range {low:.3e} .. {high:.3e}")
    res = residuals({n: v[0] for n, v in values.items()})
    print("residuals (modelled / measured): " + ", ".join(f"{k} {v:.4f}" for k, v in res.items()))


if __name__ == "__main__":
    main()
