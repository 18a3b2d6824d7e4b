"""The Loihi model against the keyword-spotting measurement on silicon (Blouw et al. 2019).

The workload is hwmodels.calibration.workloads.kws: 390 -> 256 -> 256 -> 29, random weights
normalized on uniform features, 32 steps, rate-coded from the host (the paper gives
neither weights nor inputs nor steps). It is a Loihi calibration point
(with the scaled sweep's N=0): hwmodels.calibration.loihi_fit fits the x86 parts to Blouw's
logs (data/published_power.json), so each component must land near the measurement:
neuro-core static power (idle from boot), running power, running-minus-idle energy per
inference and period.
"""

import pytest

from hwmodels import Constants, loihi, published
from hwmodels.calibration import loihi_fit, workloads


@pytest.fixture(scope="module")
def kws():
    net, traces = workloads.kws()
    return loihi.estimate(net, traces, label="kws"), Constants()


def test_each_component_lands_on_the_measurement(kws):
    est, c = kws
    point = published.loihi_kws()
    parts = est.details["parts"]
    assert parts["neurocore_static"] / est.period == pytest.approx(c["blouw_idle_power"])
    assert parts["neurocore_static"] / est.period == pytest.approx(point.idle_power, rel=0.03)
    blouw = sum(v for k, v in parts.items() if k != "neurocore_static")
    assert blouw == pytest.approx(point.dynamic_energy, rel=0.05)
    assert est.latency == pytest.approx(1 / point.rate, rel=0.02)
    assert est.power == pytest.approx(point.running_power, rel=0.03)


def test_the_network_is_active_and_per_op_energies_alone_fall_short(kws):
    est, c = kws
    assert est.details["synaptic_ops_per_inference"] > 1e5  # the network does spike
    assert est.details["chips"] == 1
    ops = est.details["parts"]["neurocore_dynamic"]
    # the x86 cores' active power, not the per-op energies, is most of the running power
    assert 0 < ops < 0.5 * c["blouw_dynamic_energy"]
    assert est.low("energy") < est.energy < est.high("energy")


def test_calibration_script_reproduces_the_registered_constants():
    values = loihi_fit.fit()
    c = Constants()
    for name, (value, low, high) in values.items():
        assert value == pytest.approx(c[name], rel=1e-3), name
        from hwmodels import REGISTRY

        assert (low, high) == pytest.approx(REGISTRY[name].range, rel=1e-3), name
    residuals = loihi_fit.residuals({n: v[0] for n, v in values.items()})
    assert residuals["KWS period"] == pytest.approx(1.0, rel=1e-6)
    assert residuals["KWS dynamic energy"] == pytest.approx(1.0, rel=0.05)
    assert residuals["N=0 dynamic energy"] == pytest.approx(1.0, rel=0.05)
