"""Recurrent, backward and skipping projections and spike-train inputs of Loihi networks."""

from __future__ import annotations

import numpy as np
import pytest
from loihi_cases import in_range_nets, random_net, union
from test_loihi_exactness import (
    _assert_brian2_loihi_agrees,
    _assert_same,
    _brian2_loihi,
    _probe_all,
    _reference,
)

from converters.chips.loihi import LoihiInput, LoihiLayer, LoihiNet, LoihiProjection
from emu import Emulation
from emu.engines import loihi_reference as ref
from emu.traces.records import concatenate

N_REFERENCE_CASES = 100  # brian2-loihi generates code per group: ~0.5 s a network


def _spike_nets(rng, count: int, **kwargs) -> list[LoihiNet]:
    return in_range_nets(rng, count, encoding="spikes", recurrent=True, **kwargs)


def _rasters(rng, net: LoihiNet, batch: int) -> np.ndarray:
    shape = (batch, net.timesteps, net.input.size)
    return rng.random(shape) < rng.uniform(0.05, 0.6)


def _has_recurrence(net: LoihiNet) -> bool:
    order = {name: k for k, name in enumerate(net.layer_names)}
    return any(
        order[p.source] >= order[layer.name] for layer in net.layers for p in layer.projections
    )


def test_any_layer_may_feed_any_layer_and_errors_name_the_projection():
    inp = LoihiInput((3,), "spikes")
    own = LoihiProjection("a", [0, 1], [1, 0], [2, -2])
    back = LoihiProjection("b", [0], [0], [4])
    a = LoihiLayer("a", 2, [LoihiProjection("input", [0], [0], [10]), own, back], vth_mant=5)
    b = LoihiLayer("b", 1, [LoihiProjection("a", [0, 1], [0, 0], [6, 6])], vth_mant=5)
    net = LoihiNet(inp, [a, b], 10)
    assert _has_recurrence(net)
    a.projections.append(LoihiProjection("c", [0], [0], [2]))
    with pytest.raises(ValueError, match=r"layer 'a', projection 3 \(from 'c'\): no such source"):
        LoihiNet(inp, [a, b], 10)
    a.projections[-1] = LoihiProjection("b", [1], [0], [2])
    with pytest.raises(ValueError, match=r"projection 3 \(from 'b'\).*neuron 1, outside 0..0"):
        LoihiNet(inp, [a, b], 10)
    with pytest.raises(ValueError, match=r"projection 0 \(from 'input'\).*targets neuron 5"):
        LoihiLayer("x", 2, [LoihiProjection("input", [0], [5], [2])], vth_mant=5)


def test_a_recurrent_spike_reaches_u_one_step_later():
    """A self-connection adds its weight to u at t + 1 after a spike at t, like any projection."""
    drive = LoihiProjection("input", [0], [0], [200], 3)
    loop = LoihiProjection("a", [0], [0], [-100], 0)
    layer = LoihiLayer("a", 1, [drive, loop], vth_mant=50)
    net = LoihiNet(LoihiInput((1,), "spikes"), [layer], 6)
    raster = np.zeros((1, 6, 1), bool)
    raster[0, 0, 0] = True
    got = ref.simulate(net, raster, probe={"a": np.array([0])})
    u = got.probes["a.u"][0, :, 0]
    np.testing.assert_array_equal(u, [0, 200 * 2**9, -100 * 2**6, 0, 0, 0])
    assert got.spikes_per_step[0, :, 1].tolist() == [0, 1, 0, 0, 0, 0]


def test_spike_trains_as_events_or_raster_give_the_same_input():
    inp = LoihiInput((2, 3), "spikes")
    raster = np.zeros((2, 4, 2, 3), bool)
    raster[0, 1, 1, 2] = raster[1, 3, 0, 0] = raster[1, 0, 0, 1] = True
    events = [np.array([[1, 5]]), (np.array([3, 0]), np.array([0, 1]))]
    np.testing.assert_array_equal(inp.raster(events, 4), inp.raster(raster, 4))
    np.testing.assert_array_equal(inp.raster(raster.astype(np.uint8), 4), inp.raster(events, 4))
    with pytest.raises(ValueError, match="sample 0: event steps must be integers in"):
        inp.raster([np.array([[4, 0]])], 4)
    with pytest.raises(ValueError, match="sample 1: event neurons"):
        inp.raster([np.zeros((0, 2), int), np.array([[0, 6]])], 4)
    with pytest.raises(ValueError, match=r"raster must have shape \(N, 4, 6\)"):
        inp.raster(np.zeros((1, 5, 6), bool), 4)
    with pytest.raises(ValueError, match="booleans or 0/1"):
        inp.raster(np.full((1, 4, 6), 2), 4)


@pytest.mark.slow
def test_reference_matches_brian2_loihi_on_recurrent_networks_with_spike_trains():
    """u, v and spike steps of every layer of random recurrent networks on random spike trains."""
    rng = np.random.default_rng(1414)
    nets = _spike_nets(rng, N_REFERENCE_CASES, timesteps=25, with_bias=False, reset="zero")
    assert sum(map(_has_recurrence, nets)) >= N_REFERENCE_CASES * 3 // 4
    inputs, expected = [], []
    for net in nets:
        raster = _rasters(rng, net, 1)
        inputs.append(tuple(np.nonzero(raster[0])))
        probe = {k: np.asarray(v) for k, v in _probe_all(net).items()}
        expected.append(ref.simulate(net, raster, probe=probe))
    compared = 0
    for first in range(0, len(nets), 100):
        part = slice(first, first + 100)
        theirs = _brian2_loihi(nets[part], inputs[part])
        for net, exp, got in zip(nets[part], expected[part], theirs, strict=True):
            if exp.saturation.sum():
                continue  # brian2-loihi keeps floats: no u wrap, no v clip
            _assert_brian2_loihi_agrees(net, exp, got)
            compared += 1
    assert compared >= N_REFERENCE_CASES * 19 // 20


def _recurrent_union(rng, encoding: str, count: int, **kwargs) -> LoihiNet:
    nets = [random_net(rng, encoding, timesteps=20, recurrent=True, **kwargs) for _ in range(count)]
    assert sum(map(_has_recurrence, nets)) >= count // 2
    return union(nets)


def _inputs(rng, net: LoihiNet, batch: int) -> np.ndarray:
    if net.input.encoding == "spikes":
        return _rasters(rng, net, batch)
    return rng.integers(0, 256, (batch, net.input.size))


@pytest.mark.parametrize("encoding", ["spikes", "bias", "rate"])
def test_runtime_matches_reference_on_recurrent_networks(encoding):
    """40 random recurrent networks with biases per encoding, run as one union."""
    rng = np.random.default_rng({"spikes": 41, "bias": 42, "rate": 43}[encoding])
    net = _recurrent_union(rng, encoding, 40)
    levels = _inputs(rng, net, 3)
    sim = Emulation(net, "runtime", probe=_probe_all(net), record_events=True)
    _assert_same(_reference(net, levels), sim.backend.run_batch(levels), f"runtime {encoding}")


def test_standalone_swaps_spike_trains_in_one_binary(cache_dir):
    """40 recurrent networks on spike trains: batches of new trains rerun the same binary."""
    rng = np.random.default_rng(44)
    net = _recurrent_union(rng, "spikes", 40)
    rasters = _inputs(rng, net, 5)
    sim = Emulation(
        net, "cpp_standalone", batch_size=3, cache_dir=cache_dir, probe=_probe_all(net),
        record_events=True,
    )  # fmt: skip
    first = sim.backend.run_batch(rasters[:3], 0)
    binary = max(sim.backend.build.directory.rglob("main*"), key=lambda f: f.stat().st_mtime)
    built = binary.stat().st_mtime_ns
    record = concatenate([first, sim.backend.run_batch(rasters[3:], 3)])
    assert binary.stat().st_mtime_ns == built
    _assert_same(_reference(net, rasters), record, "cpp_standalone spikes")
    with pytest.raises(ValueError, match="exceeds the build's batch size 3"):
        sim.backend.run_batch(rasters[:4])


def test_standalone_recurrent_rate_input_through_shared_fanout(cache_dir):
    rng = np.random.default_rng(45)
    net = _recurrent_union(rng, "rate", 30, shared_rows=True)
    levels = _inputs(rng, net, 3)
    sim = Emulation(
        net, "cpp_standalone", batch_size=3, cache_dir=cache_dir, probe=_probe_all(net),
        record_events=True,
    )  # fmt: skip
    assert sim.backend.fanout.n_cells > 0
    _assert_same(_reference(net, levels), sim.backend.run_batch(levels), "cpp_standalone rate")


def test_emulation_run_takes_events_or_rasters(tmp_path):
    """The public run: per-sample (step, neuron) events and rasters give the same traces."""
    rng = np.random.default_rng(46)
    net = _recurrent_union(rng, "spikes", 5)
    rasters = _inputs(rng, net, 4)
    events = [np.argwhere(r) for r in rasters]
    sim = Emulation(net, "runtime", batch_size=3)
    by_events = sim.run(events, labels=np.arange(4), out=tmp_path / "t.h5")
    by_raster = sim.run(rasters)
    expected = ref.simulate(net, rasters)
    for traces in (by_events, by_raster):
        for k in range(len(net.layer_names)):
            np.testing.assert_array_equal(
                traces["spikes_per_step"].values[:, :, k], expected.spikes_per_step[:, :, k]
            )
    np.testing.assert_array_equal(by_events["output_per_step"].values, expected.output_per_step)
