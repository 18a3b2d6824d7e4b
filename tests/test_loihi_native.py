"""The native Loihi engine (device "native") against the numpy reference, integer for integer."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from loihi_cases import in_range_nets, random_net, union
from test_conv_delivery import _conv_net
from test_loihi_exactness import _assert_same, _edge_net, _probe_all, _reference

from converters.chips.loihi import LoihiInput, LoihiLayer, LoihiNet, LoihiProjection, input_seeds
from emu import Emulation
from emu.engines import loihi_reference as ref
from emu.engines.native import engine_library
from emu.traces.records import concatenate


def _native(net: LoihiNet, cache_dir, batch_size: int = 3) -> Emulation:
    return Emulation(
        net, "native", batch_size=batch_size, cache_dir=cache_dir, probe=_probe_all(net),
        record_events=True,
    )  # fmt: skip


def _levels(rng, net: LoihiNet, n: int) -> np.ndarray:
    if net.input.encoding == "spikes":
        return rng.random((n, net.timesteps, net.input.size)) < rng.uniform(0.05, 0.5)
    return rng.integers(0, 256, (n, net.input.size))


@pytest.mark.parametrize("encoding", ["bias", "rate", "spikes"])
@pytest.mark.parametrize("recurrent", [False, True])
def test_random_networks_match_reference(encoding, recurrent, cache_dir):
    """Unions of random networks: decays, biases, both resets, refractory, pooled rows."""
    rng = np.random.default_rng([41, len(encoding), recurrent])
    nets = [
        random_net(rng, encoding, timesteps=30, recurrent=recurrent, shared_rows=k % 2 == 1)
        for k in range(30)
    ]
    net = union(nets)
    sim = _native(net, cache_dir)
    assert "sparse" in sim.backend.plan.kinds or "dense" in sim.backend.plan.kinds
    levels = _levels(rng, net, 5)
    records = [sim.backend.run_batch(levels[:3], 0), sim.backend.run_batch(levels[3:], 3)]
    _assert_same(_reference(net, levels), concatenate(records), f"native {encoding}")


def test_out_of_range_networks_count_the_same_saturations(cache_dir):
    """Networks that wrap u, clip v and overflow inputs (int64 accumulators where needed)."""
    rng = np.random.default_rng(3)
    nets = [random_net(rng, "bias", timesteps=25) for _ in range(40)]
    for layer in (layer for net in nets for layer in net.layers):
        for p in layer.projections:
            p.weight_exp = 7
    net = union(nets)
    levels = _levels(rng, net, 3)
    expected = _reference(net, levels)
    assert (expected.saturation.sum(axis=0) > 0).all()
    _assert_same(expected, _native(net, cache_dir).backend.run_batch(levels), "saturating")


def test_wide_accumulators_are_exact(cache_dir):
    """A fan-in whose |weights| reach 2**31: the engine switches to int64 accumulators."""
    n_in = 1100
    w = np.full(n_in, 254, np.int16)
    proj = LoihiProjection("input", np.arange(n_in), np.zeros(n_in, int), w, 7)
    layer = LoihiLayer("big", 1, [proj], vth_mant=100, decay_u=0, decay_v=4096)
    net = LoihiNet(LoihiInput((n_in,), "spikes"), [layer], 12)
    sim = _native(net, cache_dir, batch_size=2)
    assert sim.backend.plan.net.wide == 1
    levels = np.ones((2, net.timesteps, n_in), bool)
    levels[1, ::3] = False
    expected = _reference(net, levels)
    assert expected.saturation[1, 0] > 0 and expected.saturation[1, 2] > 0  # wraps, overflows
    _assert_same(expected, sim.backend.run_batch(levels), "wide")


@pytest.mark.parametrize(
    "params",
    [
        dict(weight_mant=254, weight_exp=7, decay_u=0, decay_v=4096, bias_mant=0, vth_mant=131071),
        dict(weight_mant=0, weight_exp=0, decay_u=4096, decay_v=0, bias_mant=4095, vth_mant=131071),
        dict(weight_mant=-256, weight_exp=5, decay_u=0, decay_v=0, bias_mant=-4096, vth_mant=1),
        dict(weight_mant=-200, weight_exp=3, decay_u=1234, decay_v=777, bias_mant=5, vth_mant=10),
    ],
)
def test_edges_match_reference(params, cache_dir):
    """u wraps, v clips either way, negative decays truncating toward zero."""
    net = _edge_net(**params)
    levels = np.full((2, net.input.size), 255)
    _assert_same(_reference(net, levels), _native(net, cache_dir).backend.run_batch(levels), "edge")


def test_convolutions_are_kernel_driven_and_exact(cache_dir):
    """Random geometries, pooled sources and a convolution onto itself, on two threads."""
    rng = np.random.default_rng(5)
    net = _conv_net(rng, chains=4)
    sim = _native(net, cache_dir)
    sim.backend.threads = 2
    assert sim.backend.plan.kinds.count("conv") == 3 * 4
    levels = rng.integers(0, 256, (3, net.input.size))
    expected = _reference(net, levels)
    assert all(expected.counts[name].sum() > 0 for name in net.layer_names[1::3])
    _assert_same(expected, sim.backend.run_batch(levels), "native conv")


def test_spike_train_events_through_emulation_run(cache_dir):
    """Events per sample as (step, neuron) rows, run in batches into traces."""
    rng = np.random.default_rng(9)
    net = in_range_nets(rng, 1, encoding="spikes", timesteps=20, sizes=(6, 4), n_in=7)[0]
    samples = [np.stack(np.nonzero(rng.random((20, 7)) < 0.3), 1) for _ in range(5)]
    traces = Emulation(net, "native", batch_size=2, cache_dir=cache_dir).run(samples)
    expected = ref.simulate(net, net.input.raster(samples, net.timesteps))
    for name in net.layer_names:
        np.testing.assert_array_equal(traces[f"spike_count_{name}"].values, expected.counts[name])
    assert traces.attrs["device"] == "native"


def test_converted_digits_network_matches_reference(digits, digits_graph, cache_dir):
    """The trained demo CNN (convolutions, pooling, dense layers) converted at 64 steps."""
    import converters

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = converters.to_loihi(digits_graph, timesteps=64)
    x = digits.x_test[:40]
    sim = Emulation(net, "native", batch_size=16, cache_dir=cache_dir)
    assert "conv" in sim.backend.plan.kinds
    traces = sim.run(x, labels=digits.y_test[:40])
    expected = Emulation(net, "reference", batch_size=40).run(x)
    for name in net.layer_names:
        key = f"spike_count_{name}"
        np.testing.assert_array_equal(traces[key].values, expected[key].values, err_msg=name)
    np.testing.assert_array_equal(traces["spikes_per_step"].values, expected["spikes_per_step"])
    assert (traces["prediction"].values == digits.y_test[:40]).mean() > 0.8


def test_cli_runs_on_the_native_device(digits, digits_graph, cache_dir, tmp_path, monkeypatch):
    import converters
    from converters.chips.files import save_net
    from emu import load_traces
    from neuroemu.commands import main

    monkeypatch.setenv("NEUROEMU_CACHE", str(cache_dir))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = converters.to_loihi(digits_graph, timesteps=16, input_encoding="rate")
    save_net(net, tmp_path / "net.npz")
    np.savez(tmp_path / "few.npz", x=digits.x_test[:5], y=digits.y_test[:5])
    out = tmp_path / "traces.h5"
    argv = ["run", str(tmp_path / "net.npz"), "--data", str(tmp_path / "few.npz")]
    main([*argv, "--device", "native", "--out", str(out), "--seed", "3"])
    traces = load_traces(out)
    seeds = input_seeds(5, net.input.size, 3)
    expected = ref.simulate(net, net.input.levels(digits.x_test[:5]), seeds=seeds)
    for name in net.layer_names:
        np.testing.assert_array_equal(traces[f"spike_count_{name}"].values, expected.counts[name])


def test_engine_is_compiled_once_per_cache(cache_dir):
    library, build = engine_library(cache_dir)
    assert build.path.exists() and build.path.parent == cache_dir / "native"
    assert "-O3" in build.flags or "-O2" in build.flags
    engine_library.cache_clear()
    again, rebuilt = engine_library(cache_dir)
    assert rebuilt.path == build.path and not rebuilt.compiled


def test_a_failing_flag_set_falls_back_with_a_warning_and_is_retried(tmp_path, monkeypatch, capsys):
    from emu.engines.native import library

    monkeypatch.setattr(library, "FLAG_SETS", (("-O2", "--no-such-flag"), ("-O2",)))
    _, build = engine_library(tmp_path)
    assert build.flags == ("-O2",) and build.compiled and build.seconds > 0
    (marker,) = (tmp_path / "native").glob("*.failed")
    assert "--no-such-flag" in marker.read_text()
    assert "did not compile with -O2 --no-such-flag" in capsys.readouterr().err
    engine_library.cache_clear()
    marker.unlink()
    _, again = engine_library(tmp_path)
    assert again.path == build.path and not again.compiled
    assert marker.exists()  # the failed set was tried again, and said so
    assert "slower -O2 build" in capsys.readouterr().err


def test_native_device_is_loihi_only(cache_dir):
    from test_akida_tensor import TOPOLOGIES

    with pytest.raises(TypeError, match="on device 'native'"):
        Emulation(TOPOLOGIES["dense_only"](), device="native", cache_dir=cache_dir)
    net = random_net(np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown layers"):
        Emulation(net, device="native", cache_dir=cache_dir, probe={"nope": [0]})


def test_worker_processes_give_the_same_traces(cache_dir):
    rng = np.random.default_rng(2)
    net = union([random_net(rng, "rate", timesteps=20) for _ in range(10)])
    x = rng.random((7, net.input.size))
    sim = Emulation(net, "native", batch_size=2, cache_dir=cache_dir, seed=4)
    one, two = sim.run(x), sim.run(x, workers=2)
    expected = ref.simulate(net, net.input.levels(x), seeds=input_seeds(7, net.input.size, 4))
    for name in net.layer_names:
        np.testing.assert_array_equal(one[f"spike_count_{name}"].values, expected.counts[name])
        np.testing.assert_array_equal(two[f"spike_count_{name}"].values, expected.counts[name])


def test_batch_larger_than_batch_size_is_refused(cache_dir):
    net = random_net(np.random.default_rng(0))
    sim = Emulation(net, "native", batch_size=2, cache_dir=cache_dir)
    with pytest.raises(ValueError, match="exceeds the batch size"):
        sim.backend.run_batch(np.zeros((3, net.input.size), int))
    with pytest.raises(ValueError, match="must have shape"):
        sim.backend.run_batch(np.zeros((2, net.input.size + 1), int))
