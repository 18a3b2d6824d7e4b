"""The Loihi model against the keyword-spotting measurement on silicon (Blouw et al. 2019).

The workload is hwmodels.workloads.kws: 390 -> 256 -> 256 -> 29, random weights
normalized on uniform features, 32 steps, rate-coded from the host (the paper gives
neither weights nor inputs nor steps). It is the Loihi calibration point:
scripts/calibrate_loihi.py fits loihi_step_energy and loihi_step_time to it, so each
component must land on the measurement: static power (the measured idle power),
dynamic energy per inference (0.27 mJ) and period (1 / 296 s).
"""

import importlib.util
import sys
from pathlib import Path

import pytest

from hwmodels import Constants, loihi, workloads

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def kws():
    net, traces = workloads.kws()
    return loihi.estimate(net, traces, label="kws"), Constants()


def test_each_component_lands_on_the_measurement(kws):
    est, c = kws
    assert est.power_static == pytest.approx(c["blouw_idle_power"])
    assert est.energy_dynamic == pytest.approx(c["blouw_dynamic_energy"], rel=0.02)
    assert est.latency == pytest.approx(1 / c["blouw_inference_rate"], rel=0.02)
    assert est.power == pytest.approx(c["blouw_running_power"], rel=0.03)


def test_the_network_is_active_and_per_op_energies_alone_fall_short(kws):
    est, c = kws
    assert est.details["synaptic_ops_per_inference"] > 1e5  # the network does spike
    assert est.details["chips"] == 1
    ops = sum(le.energy_dynamic for le in est.layers if le.name != loihi.SYSTEM)
    assert 0 < ops < 0.5 * c["blouw_dynamic_energy"]  # pre-silicon per-op figures leave most out
    assert est.low("energy") < est.energy < est.high("energy")


def test_calibration_script_reproduces_the_registered_constants():
    spec = importlib.util.spec_from_file_location("cal", ROOT / "scripts" / "calibrate_loihi.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["cal"] = module
    spec.loader.exec_module(module)
    values = module.fit()
    c = Constants()
    for name, (value, low, high) in values.items():
        assert value == pytest.approx(c[name], rel=1e-3), name
        from hwmodels import REGISTRY

        assert (low, high) == pytest.approx(REGISTRY[name].range, rel=1e-3), name
    residuals = module.residuals({n: v[0] for n, v in values.items()})
    assert residuals == pytest.approx({"dynamic energy": 1.0, "period": 1.0}, rel=1e-6)
