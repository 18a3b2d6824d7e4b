"""Loihi's power in NxSDK's parts and the accounting conventions, on hand-computed cases;
the calibration data file and scripts against the published logs' figures."""

import json

import numpy as np
import pytest
from test_hwmodels_loihi import tiny_net, tiny_traces

import converters
from hwmodels import REGISTRY, Constants, accounting, headline, loihi, ncs2, published, validation
from hwmodels.calibration import ncs2_fit, power_logs

# the demo's base deployment setting (scripts/knob_sweep.py)
BASE = {"percentile": 99.9, "reset": "subtract", "encoding": "bias", "timesteps": 128, "cores": 1}


@pytest.fixture(scope="module")
def tiny():
    net = tiny_net()
    # a nonzero per-step energy, so the x86 dynamic part is seen
    c = Constants({"loihi_step_energy": 1e-7, "loihi_x86_active_power": 0.05})
    return net, tiny_traces(net), c


def test_each_part_on_a_hand_computed_case(tiny):
    net, traces, c = tiny
    est = loihi.estimate(net, traces, constants=c)
    parts, t = est.details["parts"], est.latency
    ops = (
        15 * c["loihi_synop_energy"]
        + 30 * c["loihi_neuron_active_energy"]
        + 40 * c["loihi_neuron_inactive_energy"]
        + 5 * c["loihi_spike_tile_energy"]
    )
    assert parts["neurocore_static"] == pytest.approx(c["loihi_static_power"] * t)
    assert parts["x86_static"] == pytest.approx(0.05 * t)
    assert parts["neurocore_dynamic"] == pytest.approx(ops)
    # 10 steps on one chip, 2 output spikes read out, nothing injected (bias input)
    assert parts["x86_dynamic"] == pytest.approx(10 * 1e-7 + 2 * c["loihi_output_spike_energy"])
    assert parts["host_io"] == pytest.approx(c["loihi_inference_energy"])
    assert set(parts) == set(accounting.LOIHI_PARTS)


@pytest.mark.parametrize(
    ("convention", "static_parts", "dynamic_parts"),
    [
        (
            "all",
            ["neurocore_static", "x86_static"],
            ["neurocore_dynamic", "x86_dynamic", "host_io"],
        ),
        ("dynamic", [], ["neurocore_dynamic", "x86_dynamic", "host_io"]),
        ("blouw", [], ["x86_static", "neurocore_dynamic", "x86_dynamic", "host_io"]),
    ],
)
def test_conventions_count_their_parts(tiny, convention, static_parts, dynamic_parts):
    net, traces, c = tiny
    est = loihi.estimate(net, traces, constants=c, accounting=convention)
    parts = est.details["parts"]
    assert est.energy_static == pytest.approx(sum(parts[n] for n in static_parts), abs=0)
    assert est.energy_dynamic == pytest.approx(sum(parts[n] for n in dynamic_parts))
    assert est.details["accounting"] == convention
    assert accounting.energy_under(est, convention) == pytest.approx(est.energy)


def test_all_parts_sum_to_the_total(tiny):
    net, traces, c = tiny
    est = loihi.estimate(net, traces, constants=c, accounting="all")
    assert sum(est.details["parts"].values()) == pytest.approx(est.energy)
    assert est.power == pytest.approx(sum(est.details["parts"].values()) / est.period)
    others = [loihi.estimate(net, traces, constants=c, accounting=a) for a in ("dynamic", "blouw")]
    assert all(o.energy < est.energy for o in others)
    assert others[0].energy < others[1].energy  # Blouw's adds the x86 cores' active power


def test_a_slower_rate_charges_the_static_parts_for_longer(tiny):
    net, traces, c = tiny
    est = loihi.estimate(net, traces, constants=c, rate=1000.0)
    assert est.details["parts"]["x86_static"] == pytest.approx(0.05e-3)
    assert est.details["parts"]["neurocore_static"] == pytest.approx(c["loihi_static_power"] * 1e-3)


def test_unknown_conventions_are_refused(tiny):
    net, traces, c = tiny
    with pytest.raises(ValueError, match="accepted: all, dynamic, blouw"):
        loihi.estimate(net, traces, constants=c, accounting="total")


def test_ncs2_parts_and_conventions():
    import torch
    from torch import nn

    torch.manual_seed(0)
    graph = converters.load(nn.Sequential(nn.Linear(8, 4)), np.zeros((1, 8), np.float32))
    c = Constants()
    total = ncs2.modelled(graph, 12, c)
    dynamic = ncs2.modelled(graph, 12, c, accounting="dynamic")
    t = total.latency
    assert total.details["parts"] == pytest.approx(
        {"idle": c["ncs2_idle_power"] * t, "dynamic": (c["ncs2_power"] - c["ncs2_idle_power"]) * t}
    )
    assert total.energy == pytest.approx(c["ncs2_power"] * t)
    assert dynamic.energy_static == 0 and dynamic.energy == pytest.approx(
        total.details["parts"]["dynamic"]
    )
    assert accounting.energy_under(total, "blouw") == pytest.approx(dynamic.energy)


def test_the_data_file_holds_the_logs_figures():
    data = published.load()
    assert "abr/power_benchmarks" in data["source"]
    n = published.ncs2_kws()
    assert n.rate == pytest.approx(418102 / 900)
    assert n.running_power == pytest.approx(1.438, abs=0.005)
    assert n.idle_power == pytest.approx(0.496, abs=0.001)
    k = published.loihi_kws()
    assert k.runs == 5 and k.rate == pytest.approx(296, rel=0.01)
    assert k.running_power == pytest.approx(0.110, rel=0.01)
    assert k.idle_power == pytest.approx(0.029, rel=0.05)
    sweep = published.loihi_scaled()
    assert sorted(sweep) == [0, 1, 2, 4, 6, 8, 10] and all(p.runs == 3 for p in sweep.values())
    energies = [sweep[n].dynamic_energy for n in sorted(sweep)]
    assert energies == sorted(energies)  # more neurons, more energy per inference


def test_extraction_reads_a_log_tree(tmp_path):
    module = power_logs
    logs = tmp_path / "logs"
    (logs / "running").mkdir(parents=True)
    (logs / "idle").mkdir()
    summary = {"start_time": "2019-01-01_00:00:01", "end_time": "2019-01-01_00:00:03",
               "n_seconds": 10, "n_inferences": 50}  # fmt: skip
    (logs / "running" / "ncs2_ncopies_1.json").write_text(json.dumps(summary))
    rows = ["Time,,,,,,,Power,Volts,Amps", ",,,,,,,,,"]
    rows += [f"2019-01-01_00:00:0{i},,,,,,,{p},5,0.3" for i, p in enumerate([9.0, 1.0, 2.0, 3.0])]
    (logs / "running" / "ncs2_ncopies_1.csv").write_text("\n".join(rows) + "\n")
    idle = ["Time,,,,,,,Power,Volts,Amps"] + [",,,,,,,0.5,5,0.1"] * 8
    (logs / "idle" / "ncs2_idle.csv").write_text("\n".join(idle) + "\n")
    run = module.running(logs / "running" / "ncs2_ncopies_1")
    assert run["running_power"] == pytest.approx(2.0)  # the readings from start to end
    assert run["rate"] == pytest.approx(5.0) and run["readings"] == 3
    assert module.idle_power(logs / "idle" / "ncs2_idle.csv") == pytest.approx(0.5)


def test_ncs2_calibration_reproduces_the_registered_constants():
    values = ncs2_fit.fit()
    c = Constants()
    for name, (value, low, high) in values.items():
        assert value == pytest.approx(c[name], rel=1e-3), name
        if low != high:
            assert (low, high) == pytest.approx(REGISTRY[name].range, rel=1e-3), name
    residuals = ncs2_fit.residuals({n: v[0] for n, v in values.items()})
    assert residuals == pytest.approx(dict.fromkeys(residuals, 1.0), rel=1e-6)
    assert {"period", "running power", "idle power"} < set(residuals)
    assert len(residuals) == 3 + len(validation.NCS2_CALIBRATION)


def _ncs2_estimate(accounting_name: str = "all"):
    import torch
    from torch import nn

    torch.manual_seed(0)
    graph = converters.load(nn.Sequential(nn.Linear(8, 4)), np.zeros((1, 8), np.float32))
    return ncs2.modelled(graph, 12, Constants(), accounting=accounting_name)


def test_the_demo_prints_the_parts_and_every_convention(tiny):
    from neuroemu.demo import _headline

    net, traces, c = tiny
    lo, nc = loihi.estimate(net, traces, constants=c, accounting="blouw"), _ncs2_estimate("blouw")
    text = _headline(lo, nc)
    assert "accounting 'blouw' (running minus idle from boot" in text
    assert f"power {nc.power / lo.power:.3g}x less" in text
    assert "x86 static" in text and "neurocore static" in text and "[not counted]" in text
    for name in ("all", "dynamic", "blouw"):
        ratio = accounting.energy_under(nc, name) / accounting.energy_under(lo, name)
        assert f"{ratio:.3g}x" in text


def test_the_headline_takes_the_best_setting_within_one_point():
    conventions = {name: {"power": 1.0, "energy": 1.0} for name in accounting.CONVENTIONS}

    def setting(acc, power, energy, steps):
        ratios = {k: dict(v) for k, v in conventions.items()}
        ratios["all"] = {"power": power, "energy": energy}
        base = BASE | {"timesteps": steps}
        return {"setting": base, "accuracy": acc, "ratios": ratios}

    record = {
        "dnn_accuracy": 0.97,
        "samples": 100,
        "settings": [
            setting(0.97, 10.0, 3.0, 128),
            setting(0.965, 20.0, 6.0, 64),  # within 1 point: the best
            setting(0.90, 50.0, 40.0, 16),  # more than 1 point below the DNN: left out
            {"setting": BASE, "error": "ValueError: refused"},
        ],
    }
    top, low, high = headline.best(record, "all", "power")
    assert top["setting"]["timesteps"] == 64 and (low, high) == (10.0, 20.0)
    table = headline.markdown({"net": record}, "cmd", BASE)
    assert (
        "| all | net | 20x (timesteps 64) | 10-20x | yes | 6x (timesteps 64) | 3-6x | yes |"
        in table
    )
