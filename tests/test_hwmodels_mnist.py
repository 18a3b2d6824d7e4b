"""MNIST LeNet-5: Loihi settings against the NCS2, set beside the published ratios (slow)."""

import pytest

import hwmodels
from converters import datasets, models, training
from hwmodels.calibration import deployment_sweep


@pytest.mark.slow
def test_best_setting_near_the_dnn_uses_less_power_and_energy_than_the_ncs2(tmp_path):
    sweep = deployment_sweep
    data = datasets.mnist()
    model = training.train(models.lenet5(), data.x_train, data.y_train, epochs=10)
    x, y = data.x_test[:200], data.y_test[:200]
    ctx = sweep.Context(model, data.x_train[:1000], x, y, "reference")
    ncs2 = hwmodels.ncs2.baseline(model, x, y, label="NCS2")
    results = [sweep.run_setting(ctx, s) for s in (sweep.PLAIN, sweep.PLAIN | {"spread": 2})]
    near = [r for r in results if r.accuracy >= ncs2.accuracy - 0.01]
    assert near, f"no setting within 1 point of the DNN's {ncs2.accuracy:.3f}"
    best = min(near, key=lambda r: r.energy)
    power, energy = ncs2.power / best.power, ncs2.energy / best.energy
    assert power > 1 and energy > 1, (power, energy)
    lines = hwmodels.report.against_published(best, ncs2)
    assert f"{power:.3g}x against the published up to 27x" in lines[0]
    assert f"{energy:.3g}x against the published up to 5x" in lines[1]
    rep = hwmodels.report.compare([*results, ncs2], tmp_path)
    assert lines[0] in rep.text
