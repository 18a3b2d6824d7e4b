"""The NCS2 baseline: real OpenVINO inference, the per-layer latency model, measured figures."""

import json

import numpy as np
import pytest
import torch
from torch import nn

import converters
from converters import datasets, models, training
from hwmodels import Constants, ncs2


@pytest.fixture(scope="module")
def digits_model():
    data = datasets.digits()
    model = training.train(models.digits_cnn(), data.x_train, data.y_train, epochs=5)
    return model, data.x_test[:60], data.y_test[:60]


def test_openvino_outputs_match_torch(digits_model):
    model, x, y = digits_model
    est = ncs2.baseline(model, x, y)
    assert est.accuracy == pytest.approx(training.accuracy(model, x, y))
    assert est.samples == len(x) and est.platform == "ncs2"
    assert 0 < est.details["host_latency"] < 1.0
    assert est.details["host_device"] == "OpenVINO CPU plugin"


def test_a_graph_runs_through_openvino_like_the_model(digits_model):
    model, x, y = digits_model
    graph = converters.normalize(converters.load(model, x[:1]), x)
    from_graph, from_model = ncs2.baseline(graph, x, y), ncs2.baseline(model, x, y)
    assert from_graph.accuracy == from_model.accuracy
    assert from_graph.details["macs"] == pytest.approx(from_model.details["macs"])


def test_layer_costs_count_macs_and_bytes(digits_model):
    model, x, _ = digits_model
    costs = ncs2.layer_costs(converters.load(model, x[:1]), bytes_per_value=2)
    macs = sum(m for m, _ in costs.values())
    # digits_cnn: conv 8x8x8 outputs x 9 taps, conv 16x4x4 x 72, dense 64 x 64, dense 10 x 64,
    # average pooling 8x4x4 x 4 and 16x2x2 x 4
    expected = 512 * 9 + 256 * 72 + 64 * 64 + 10 * 64 + 128 * 4 + 64 * 4
    assert macs == expected


def test_latency_grows_with_macs_and_power_is_the_envelope():
    x = np.random.default_rng(0).random((4, 1, 8, 8)).astype(np.float32)
    small = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    big = nn.Sequential(nn.Flatten(), nn.Linear(64, 1024), nn.ReLU(), nn.Linear(1024, 10))
    torch.manual_seed(0)
    a, b = ncs2.baseline(small, x), ncs2.baseline(big, x)
    assert b.latency > a.latency
    c = Constants()
    assert a.power == pytest.approx(c["ncs2_power"])
    assert a.power_static == pytest.approx(c["ncs2_idle_power"])
    assert a.latency >= c["ncs2_call_overhead"] and a.accuracy is None
    assert a.low("latency") < a.latency < a.high("latency")
    hot = ncs2.baseline(small, x, constants=Constants({"ncs2_power": 3.0}))
    assert hot.power == pytest.approx(c["ncs2_tdp"])


def test_measured_figures_replace_the_model(digits_model, tmp_path):
    model, x, y = digits_model
    path = tmp_path / "ncs2.json"
    path.write_text(json.dumps({"latency": 0.002, "power": 1.3, "source": "bench"}))
    est = ncs2.baseline(model, x, y, measured=path)
    assert est.latency == 0.002 and est.power == pytest.approx(1.3)
    assert "measured" in est.model and est.accuracy == pytest.approx(training.accuracy(model, x, y))


@pytest.mark.parametrize(
    "figures, message",
    [
        ({"latency": 0.002, "power": 1.0, "watts": 2}, "unknown keys"),
        ({"latency": 0.002}, "need 'power'"),
        ({"latency": -1, "power": 1.0}, "non-negative"),
    ],
)
def test_bad_measured_files_are_refused(tmp_path, figures, message):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(figures))
    with pytest.raises(ValueError, match=message):
        ncs2.load_measured(path)


def test_encoder_decoder_counts_match_the_published_params_and_flops():
    from hwmodels import published
    from hwmodels.calibration import workloads

    for timing in published.ncs2_timings():
        counts = workloads.encoder_decoder_counts(
            timing.side, timing.channels, list(timing.filters)
        )
        params = sum(w for _, w, _ in counts.values())
        assert params == timing.params, timing.name
        conv_macs = sum(
            m for name, (m, _, _) in counts.items() if not name.endswith(("add", "pool"))
        )
        # the published FLOPs (TensorFlow's profiler) add bias adds and ReLUs to 2 x MACs
        assert 0.98 < 2 * conv_macs / timing.flops <= 1.0, timing.name


def test_layer_costs_of_counts_hand_computed():
    counts = {"conv": (1000.0, 10.0, 30.0), "pool": (40.0, 0.0, 50.0)}
    assert ncs2.layer_costs(counts, bytes_per_value=2) == {
        "conv": (1000.0, 80.0),
        "pool": (40.0, 100.0),
    }
    c = Constants().replace(
        ncs2_utilization=0.5, ncs2_memory_bandwidth=1e3, ncs2_usb_bandwidth=1e4,
        ncs2_call_overhead=1e-3,
    )  # fmt: skip
    est = ncs2.modelled(counts, 5, c)
    rate = c["ncs2_peak_ops"] * 0.5
    expected = max(2000 / rate, 80 / 1e3) + max(80 / rate, 100 / 1e3) + 1e-3 + 5 * 2 / 1e4
    assert est.latency == pytest.approx(expected)


def test_encoder_decoder_rows_are_computed_and_held_out_within_2x():
    from hwmodels import published, validation

    c = Constants()
    rows = [r for r in validation.ncs2_rows(c) if r["workload"].startswith("enc-dec")]
    timings = published.ncs2_timings()
    assert len(rows) == len(timings)
    held = [r for r in rows if r["role"] == "held-out"]
    assert len(held) == len(timings) - len(validation.NCS2_CALIBRATION) >= 3
    for row, timing in zip(rows, timings, strict=True):
        modelled = validation.encoder_decoder(timing, c).latency
        assert row["modelled"] == pytest.approx(modelled)
        assert row["measured"] == pytest.approx(1 / timing.fps)
        assert row["low"] <= row["modelled"] <= row["high"]
    assert all(0.5 <= r["ratio"] <= 2 for r in held)
    # over USB 2.0 the transfer of the input and the 4-channel output is part of the latency
    slow_usb = validation.encoder_decoder(timings[0], c.replace(ncs2_usb2_bandwidth=25e6))
    assert slow_usb.latency > validation.encoder_decoder(timings[0], c).latency
