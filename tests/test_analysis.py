"""Trace summaries, comparisons and accuracy against timesteps, checked against direct counts."""

from __future__ import annotations

import dataclasses
import json
import os
import re

import numpy as np
import pytest
from trace_examples import digits_demo_net, random_net, reference_traces

from emu.traces import TraceFormatError, analysis, save_traces
from emu.traces import stats as trace_stats
from emu.traces.access import open_traces
from neuroemu.commands import main


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(2)
    return rng.random((40, 1, 4, 4)), rng.integers(0, 5, 40)


@pytest.fixture(scope="module")
def traces(data):
    return reference_traces(random_net(seed=3, timesteps=32), *data)


def test_summary_matches_direct_counts(traces, tmp_path):
    lazy = open_traces(save_traces(traces, tmp_path / "run.h5"))
    s = analysis.summary(lazy)
    assert s == analysis.summary(traces)
    assert s.samples == 40 and s.timesteps == 32 and s.labelled == 40
    assert s.accuracy == pytest.approx(np.mean(traces.prediction.values == traces.label.values))
    ev = {k: traces[f"event_{k}"].values for k in ("sample", "step", "layer", "neuron")}
    for k, layer in enumerate(s.layers):
        counts = traces[f"spike_count_{layer.name}"].values
        assert layer.neurons == counts.shape[1]
        assert layer.spikes_per_sample == pytest.approx(counts.sum(1).mean())
        assert layer.nonzero_per_sample == pytest.approx((counts > 0).sum(1).mean())
        assert layer.firing_rate == pytest.approx(counts.mean() / 32)
        assert layer.silent_fraction == pytest.approx(np.mean(counts.max(0) == 0))
        first = {}
        mine = ev["layer"] == k
        for smp, stp, neu in zip(
            ev["sample"][mine], ev["step"][mine], ev["neuron"][mine], strict=True
        ):
            first[smp, neu] = min(first.get((smp, neu), stp), stp)
        assert layer.first_spike_latency == pytest.approx(np.mean(list(first.values())))
        per_sample = [
            min(t for (smp, _), t in first.items() if smp == i) for i in set(ev["sample"][mine])
        ]
        assert layer.first_step == pytest.approx(np.mean(per_sample))
        assert layer.saturation == {"u_wrap": 0, "v_clip": 0, "input_overflow": 0}


def test_summary_without_events_or_labels(traces):
    plain = traces.drop_vars([v for v in traces.data_vars if str(v).startswith("event_")])
    plain["label"] = plain["label"] * 0 - 1
    s = analysis.summary(plain)
    assert s.accuracy is None and s.labelled == 0
    assert all(layer.first_spike_latency is None for layer in s.layers)
    akida = plain.assign_attrs(target="akida")
    assert all(layer.firing_rate is None for layer in analysis.summary(akida).layers)


def test_trace_stats_read_the_recorded_values(traces, tmp_path):
    lazy = open_traces(save_traces(traces, tmp_path / "stats.h5"))
    names = trace_stats.layer_names(lazy)
    assert names == [str(n) for n in traces["layer"].values] and len(names) == 4
    for k, name in enumerate(names):
        counts = trace_stats.count_array(lazy, name)
        assert counts.dtype == np.float64
        np.testing.assert_array_equal(counts, traces[f"spike_count_{name}"].values)
        per_step = traces["spikes_per_step"].values[:, :, k]
        assert trace_stats.spikes_per_sample(lazy)[name] == pytest.approx(per_step.sum(1).mean())
    np.testing.assert_array_equal(trace_stats.step_array(lazy), traces["spikes_per_step"].values)
    pred, label = traces["prediction"].values, traces["label"].values
    assert trace_stats.accuracy(lazy) == np.mean(pred == label)
    half = np.where(np.arange(len(label)) % 2 == 0, label, -1)
    assert trace_stats.labelled_accuracy(pred, half) == (np.mean(pred[::2] == label[::2]), 20)
    assert trace_stats.labelled_accuracy(pred, half * 0 - 1) == (None, 0)


def test_first_spike_steps(traces):
    first = analysis.first_spike_steps(traces, "layer2")
    counts = traces["spike_count_layer2"].values
    assert np.array_equal(first < 0, counts == 0)
    per_step = traces["output_per_step"].values
    for sample, neuron in zip(*np.nonzero(counts), strict=True):
        assert first[sample, neuron] == np.flatnonzero(per_step[sample, :, neuron])[0]


def test_compare_two_settings(data, traces):
    longer = reference_traces(random_net(seed=3, timesteps=48), *data)
    c = analysis.compare(traces, longer.isel(sample=slice(10, 40)))
    assert c.samples == 30 and not c.same_network
    pa, pb = traces.prediction.values[10:], longer.prediction.values[10:]
    assert c.prediction_agreement == pytest.approx(np.mean(pa == pb))
    for layer in c.layers:
        a = traces[f"spike_count_{layer.name}"].values[10:].astype(int)
        b = longer[f"spike_count_{layer.name}"].values[10:].astype(int)
        assert layer.mean_abs_count_diff == pytest.approx(np.abs(b - a).mean())
        assert layer.identical_fraction == pytest.approx(np.mean(a == b))
        assert layer.rate_b == pytest.approx(b.mean() / 48)
    same = analysis.compare(traces, traces)
    assert same.prediction_agreement == 1.0 and same.same_network
    assert all(layer.identical_fraction == 1.0 for layer in same.layers)
    assert dataclasses.asdict(same) == same.to_dict()


def test_compare_refuses_other_networks_and_disjoint_samples(data, traces):
    other = reference_traces(random_net(seed=3, sizes=(24, 16, 6)), *data)
    with pytest.raises(ValueError, match="'layer2' has 5 neurons in one run and 6"):
        analysis.compare(traces, other)
    with pytest.raises(ValueError, match="share no sample"):
        analysis.compare(traces.isel(sample=slice(0, 5)), traces.isel(sample=slice(5, 9)))


def test_accuracy_vs_steps_from_one_run_equals_separate_runs(data):
    long = reference_traces(random_net(seed=4, timesteps=256), *data, events=False)
    curve = analysis.accuracy_vs_steps(long)
    assert curve.dims == ("steps",) and curve.sizes["steps"] == 256
    assert curve.sel(steps=256) == np.mean(long.prediction.values == long.label.values)
    for steps in (32, 64, 128):
        short = reference_traces(random_net(seed=4, timesteps=steps), *data, events=False)
        assert curve.sel(steps=steps) == np.mean(short.prediction.values == short.label.values)
        np.testing.assert_array_equal(
            analysis.accuracy_vs_steps(short).values, curve.values[:steps]
        )
    assert len(set(curve.values[10:].tolist())) > 1, "the curve should move with the steps"


def test_accuracy_vs_steps_needs_labels(traces):
    with pytest.raises(ValueError, match="no sample has a label"):
        analysis.accuracy_vs_steps(traces.assign(label=traces["label"] * 0 - 1))


def _command(argv: list[str]) -> None:
    assert main(argv) == 0


def test_inspect_and_diff_commands(data, traces, tmp_path, capsys):
    path = save_traces(traces, tmp_path / "run.h5")
    _command(["inspect", str(path)])
    table = capsys.readouterr().out
    assert "samples     40   timesteps 32" in table
    assert re.search(r"^layer2 +5 ", table, re.MULTILINE)
    _command(["inspect", str(path), "--json", "--plots", str(tmp_path / "p")])
    result = json.loads(capsys.readouterr().out)
    assert result["layers"][3]["neurons"] == 5
    assert len(result["plots"]) == 4 and all(os.path.exists(p) for p in result["plots"])
    other = save_traces(
        reference_traces(random_net(seed=3, timesteps=48), *data), tmp_path / "b.h5"
    )
    _command(["diff", str(path), str(other), "--json"])
    diff = json.loads(capsys.readouterr().out)
    assert (
        diff["prediction_agreement"]
        == analysis.compare(traces, open_traces(other)).prediction_agreement
    )
    _command(["diff", str(path), str(other)])
    assert "predictions" in capsys.readouterr().out


def _fails(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    message = capsys.readouterr().err
    assert message.startswith("neuroemu: error: ") and message.count("\n") == 1
    return message


def test_commands_fail_clearly_on_bad_files(tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"nope")
    assert "not a readable HDF5 trace file" in _fails(["inspect", str(bad)], capsys)
    assert "does not exist" in _fails(["diff", str(tmp_path / "a.h5"), str(bad)], capsys)
    with pytest.raises(TraceFormatError, match="not a readable HDF5 trace file"):
        main(["inspect", str(bad), "--debug"])


@pytest.mark.slow
def test_accuracy_vs_steps_on_the_digits_network_equals_separate_runs():
    net, data = digits_demo_net(timesteps=256)
    x, y = data.x_test[:60], data.y_test[:60]
    curve = analysis.accuracy_vs_steps(reference_traces(net, x, y, events=False))
    for steps in (32, 64, 128):
        short, _ = digits_demo_net(timesteps=steps)
        separate = reference_traces(short, x, y, events=False)
        assert curve.sel(steps=steps) == np.mean(separate.prediction.values == y)
    assert curve.sel(steps=256) > 0.5


@pytest.mark.slow
def test_accuracy_vs_steps_from_the_emulation_equals_separate_emulated_runs(tmp_path):
    import emu

    net, data = digits_demo_net(timesteps=256)
    x, y = data.x_test[:30], data.y_test[:30]

    traces = emu.Emulation(net, device="cpp_standalone", cache_dir=tmp_path / "cache").run(x, y)
    curve = analysis.accuracy_vs_steps(traces)
    for steps in (32, 64, 128):  # the reference gives the devices' integers (test_loihi_exactness)
        separate = reference_traces(digits_demo_net(timesteps=steps)[0], x, y)
        assert curve.sel(steps=steps) == np.mean(separate.prediction.values == y)
