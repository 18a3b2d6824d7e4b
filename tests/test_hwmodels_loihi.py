"""The Loihi model: core mapping, exact counts on hand-made traces, and traces from Brian2."""

import numpy as np
import pytest

import converters
from converters import datasets, models, pipeline, training
from converters.chips.loihi import LoihiInput, LoihiLayer, LoihiNet, LoihiProjection
from emu import Emulation, load_traces, make_traces, save_traces
from hwmodels import Constants, TraceMismatchError, load_estimate, loihi


def tiny_net(encoding: str = "bias") -> LoihiNet:
    """2 inputs all-to-all into 3 neurons (reset to zero), 10 steps."""
    pre, post = np.repeat([0, 1], 3), np.tile([0, 1, 2], 2)
    a = LoihiLayer("a", 3, [LoihiProjection("input", pre, post, np.full(6, 64))], 100, reset="zero")
    return LoihiNet(LoihiInput((2,), encoding), [a], timesteps=10)


def tiny_traces(net: LoihiNet):
    """Input neuron 0 fires at steps 0-4, neuron 1 never; neuron a0 fires at steps 5 and 6."""
    per_step = np.zeros((1, 10, 2), np.int32)
    per_step[0, :5, 0] = 1
    per_step[0, 5:7, 1] = 1
    out = np.zeros((1, 10, 3), np.uint8)
    out[0, 5:7, 0] = 1
    return make_traces(
        layers=net.layer_names,
        counts={"input": np.array([[5, 0]]), "a": np.array([[2, 0, 0]])},
        spikes_per_step=per_step,
        output_per_step=out,
        predictions=np.array([0]),
        labels=np.array([0]),
        saturation=np.zeros((2, 3)),
        attrs={"target": "loihi", "net_digest": net.digest(), "timesteps": 10, "dt": 1.0},
    )


def test_hand_computed_counts_energy_and_latency():
    net = tiny_net()
    est = loihi.estimate(net, tiny_traces(net))
    c = Constants()
    d = est.details
    assert d["cores"] == 2 and d["tiles"] == 1 and d["chips"] == 1
    assert d["synaptic_ops_per_inference"] == 15  # 5 spikes x fan-out 3
    assert d["tile_messages_per_inference"] == 5  # one destination core per spike
    # input: 2 neurons x 2 compartments (subtract reset); neuron 0 fires: active
    assert d["neuron_updates_active_per_inference"] == 20 + 10
    assert d["neuron_updates_inactive_per_inference"] == 20 + 20
    energy = (
        15 * c["loihi_synop_energy"]
        + 30 * c["loihi_neuron_active_energy"]
        + 40 * c["loihi_neuron_inactive_energy"]
        + 5 * c["loihi_spike_tile_energy"]
    )
    # bias-coded input: nothing injected; 2 output spikes read out; 10 steps on one chip
    system = 10 * c["loihi_step_energy"] + c["loihi_inference_energy"]
    energy += system + 2 * c["loihi_output_spike_energy"]
    assert est.energy_dynamic == pytest.approx(energy)
    assert est.layers[-1].name == loihi.SYSTEM
    assert est.layers[-1].energy_dynamic == pytest.approx(system)
    # steps 0-4: the target core integrates 3 synops (19 + 10.5 ns) and the input core sends
    # one message (27.4 + 2.1 ns); steps 5-9: the input core's 27.4 ns; plus a 1-tile barrier
    step_busy = 5 * 29.5e-9 + 5 * 27.4e-9
    system = 10 * c["loihi_step_time"] + 2 * c["loihi_output_spike_time"]
    system += c["loihi_inference_time"]
    assert est.latency == pytest.approx(step_busy + 10 * c["loihi_barrier_time_1"] + system)
    assert est.period == est.latency
    static = (c["loihi_static_power"] + c["loihi_x86_active_power"]) * est.latency
    assert est.energy_static == pytest.approx(static)  # neuro-core and x86 static parts
    assert est.power == pytest.approx(est.energy / est.latency)
    assert est.accuracy == 1.0 and est.model == loihi.MODEL


def test_hops_between_tiles_follow_the_mesh():
    net = tiny_net()
    c = Constants({"loihi_cores_per_tile": 1, "loihi_mesh_columns": 2})
    est = loihi.estimate(net, tiny_traces(net), cores_per_layer={"a": 3}, constants=c)
    # input on core 0 at (0, 0); a on cores 1..3 at (1, 0), (0, 1), (1, 1)
    assert est.details["hops_ew_per_inference"] == 5 * 2
    assert est.details["hops_ns_per_inference"] == 5 * 2
    assert est.details["tile_messages_per_inference"] == 0
    assert est.details["tiles"] == 4
    base = loihi.estimate(net, tiny_traces(net))
    extra = 10 * (c["loihi_hop_ew_energy"] + c["loihi_hop_ns_energy"])
    extra -= 5 * c["loihi_spike_tile_energy"]
    assert est.energy_dynamic - base.energy_dynamic == pytest.approx(extra)
    # steps 0-4: the input core issues 3 messages (27.4 + 3 x 2.1 ns) and the longest route
    # (1 E-W + 1 N-S hop) adds once; each target core holds one neuron (5.3 or 8.4 ns + 3.5 ns)
    route = c["loihi_hop_ew_time"] + c["loihi_hop_ns_time"]
    busy = 5 * (33.7e-9 + route) + 5 * 27.4e-9
    system = 10 * c["loihi_step_time"] + 2 * c["loihi_output_spike_time"]
    system += c["loihi_inference_time"]
    assert est.latency == pytest.approx(busy + 10 * loihi._barrier(4, c) + system)


def test_rate_coded_input_is_off_chip():
    net = tiny_net("rate")
    est = loihi.estimate(net, tiny_traces(net))
    assert est.details["cores"] == 1
    assert est.layers[0].counts["tile_messages"] == 5 and est.layers[0].units == 0
    assert "neuron_updates_active" not in est.layers[0].counts
    # the 5 input spikes are injected by the embedded cores, one after another
    c = Constants()
    assert est.layers[0].counts["injected_spikes"] == 5
    injected = 5 * c["loihi_input_spike_energy"]
    assert est.layers[0].energy_dynamic == pytest.approx(
        injected + 5 * c["loihi_spike_tile_energy"]
    )


def test_rate_sets_the_period_and_static_energy():
    net = tiny_net()
    est = loihi.estimate(net, tiny_traces(net), rate=1000.0)
    assert est.period == pytest.approx(1e-3)
    c = Constants()
    assert est.power_static == pytest.approx(c["loihi_static_power"] + c["loihi_x86_active_power"])
    with pytest.raises(ValueError, match="cannot keep up"):
        loihi.estimate(net, tiny_traces(net), rate=1e9)


def test_overridden_constant_changes_energy_by_its_count():
    net = tiny_net()
    base = loihi.estimate(net, tiny_traces(net))
    c = Constants({"loihi_synop_energy": 1e-9})
    est = loihi.estimate(net, tiny_traces(net), constants=c)
    assert est.energy_dynamic - base.energy_dynamic == pytest.approx(15 * (1e-9 - 23.6e-12))
    assert est.constants["loihi_synop_energy"]["source"] == "override"


@pytest.fixture(scope="module")
def digits_case(tmp_path_factory):
    data = datasets.digits()
    model = training.train(models.digits_cnn(), data.x_train, data.y_train, epochs=8)
    net = pipeline.loihi_net(model, data.x_train[:300], timesteps=32)
    x, y = data.x_test[:40], data.y_test[:40]
    path = tmp_path_factory.mktemp("traces") / "digits.h5"
    traces = Emulation(net, device="cpp_standalone", record_events=True, batch_size=40).run(x, y)
    save_traces(traces, path)
    return net, path


def test_mapping_respects_core_limits(digits_case):
    net, _ = digits_case
    c = Constants()
    for m in loihi.map_cores(net):
        assert m.compartments.max() <= c["loihi_compartments_per_core"]
        assert m.memory.max() <= c["loihi_synaptic_memory"]
        assert np.all(np.diff(m.core) >= 0) and m.core.min() == m.first_core
    small = Constants({"loihi_compartments_per_core": 64})
    assert sum(m.cores for m in loihi.map_cores(net, constants=small)) > sum(
        m.cores for m in loihi.map_cores(net)
    )


def test_mapping_refusals_name_the_layer(digits_case):
    net, _ = digits_case
    first = net.layers[0].name
    with pytest.raises(loihi.LoihiMappingError, match=f"{first}.*needs between"):
        loihi.map_cores(net, {first: 0})
    with pytest.raises(loihi.LoihiMappingError, match="not on-chip layers"):
        loihi.map_cores(net, {"nope": 2})
    with pytest.raises(loihi.LoihiMappingError, match="fan-in"):
        loihi.map_cores(net, constants=Constants({"loihi_max_fan_in": 8}))


def test_brian2_traces_give_the_independently_counted_ops(digits_case):
    net, path = digits_case
    traces = load_traces(path)
    est = loihi.estimate(net, traces)
    expected = 0.0
    for layer in net.layers:
        for p in layer.projections:
            source = next(s for s in net.all_layers() if s.name == p.source)
            fan_out = np.bincount(p.pre, minlength=source.size)
            expected += (traces[f"spike_count_{p.source}"].values @ fan_out).mean()
    assert est.details["synaptic_ops_per_inference"] == pytest.approx(expected)
    compartments = sum(
        (2 if layer.reset == "subtract" else 1) * layer.size for layer in net.all_layers()
    )
    updates = sum(est.details[f"neuron_updates_{k}_per_inference"] for k in ("active", "inactive"))
    assert updates == pytest.approx(compartments * net.timesteps)
    assert sum(le.energy_dynamic for le in est.layers) == pytest.approx(est.energy_dynamic)
    assert est.accuracy == pytest.approx(
        np.mean(traces["prediction"].values == traces["label"].values)
    )


def test_spreading_the_busiest_layer_shortens_the_step(digits_case):
    net, path = digits_case
    traces = load_traces(path)
    base = loihi.estimate(net, traces)
    spread = {m.layer: min(4 * m.cores, len(m.core)) for m in loihi.map_cores(net)}
    wide = loihi.estimate(net, traces, cores_per_layer=spread)
    assert wide.details["cores"] > base.details["cores"]
    assert wide.latency < base.latency
    assert wide.details["synaptic_ops_per_inference"] == base.details["synaptic_ops_per_inference"]


def test_estimate_json_round_trip(digits_case, tmp_path):
    net, path = digits_case
    est = loihi.estimate(net, load_traces(path), label="digits")
    back = load_estimate(est.save(tmp_path / "e.json"))
    assert back.energy == pytest.approx(est.energy) and back.power == pytest.approx(est.power)
    assert back.layers[1].name == est.layers[1].name and back.assumptions == est.assumptions
    (tmp_path / "bad.json").write_text('{"platform": "x"}')
    with pytest.raises(ValueError, match="not an estimate file"):
        load_estimate(tmp_path / "bad.json")


def test_traces_of_another_network_are_refused(digits_case):
    net, path = digits_case
    traces = load_traces(path)
    other = converters.to_loihi(
        converters.normalize(
            converters.load(models.digits_cnn(), np.zeros((1, 1, 8, 8), np.float32)),
            np.random.default_rng(0).random((20, 1, 8, 8)),
        ),
        timesteps=32,
    )
    with pytest.raises(TraceMismatchError, match="not from the given network"):
        loihi.estimate(other, traces)
    wrong_target = traces.copy()
    wrong_target.attrs["target"] = "akida"
    with pytest.raises(TraceMismatchError, match="target 'akida'"):
        loihi.estimate(net, wrong_target)


def test_traces_with_wrong_layer_size_or_missing_variables_are_refused(digits_case):
    net, path = digits_case
    traces = load_traces(path)
    name = net.layers[1].name
    cut = traces.isel({f"neuron_{name}": slice(0, 5)})
    with pytest.raises(TraceMismatchError, match=f"layer '{name}' has .* neurons but"):
        loihi.estimate(net, cut)
    with pytest.raises(TraceMismatchError, match=f"spike_count_{name}"):
        loihi.estimate(net, traces.drop_vars(f"spike_count_{name}"))
    with pytest.raises(TraceMismatchError, match="spikes_per_step"):
        loihi.estimate(net, traces.drop_vars("spikes_per_step"))


def test_estimate_says_when_the_traces_saturated(capsys):
    net = tiny_net()
    traces = tiny_traces(net)
    assert loihi.estimate(net, traces).warnings == []
    traces["saturation"].values[1, 0] = 3  # u wraps in layer a
    traces["saturation"].values[1, 1] = 2  # v clips
    est = loihi.estimate(net, traces)
    assert len(est.warnings) == 2 and "'a'" in est.warnings[0]
    assert "3 u wraps" in est.warnings[0] and "2 v clips" in est.warnings[0]
    assert "the chip's own arithmetic" in est.warnings[0] and "may part" in est.warnings[0]
    assert est.warnings[1].startswith("remedy:")
    assert "WARNING" in est.summary()


def test_bounds_bracket_every_figure():
    net = tiny_net("rate")
    est = loihi.estimate(net, tiny_traces(net))
    for name in ("energy", "energy_static", "energy_dynamic", "latency", "power"):
        assert est.low(name) <= getattr(est, name) <= est.high(name), name
    assert est.low("energy_dynamic") < est.high("energy_dynamic")
