"""Integer-for-integer agreement of the Loihi emulation with the numpy reference and brian2-loihi."""

from __future__ import annotations

import brian2
import numpy as np
import pytest
from loihi_cases import in_range_nets, random_net, random_projection, union

from converters.chips.loihi import LoihiInput, LoihiLayer, LoihiNet, input_seeds
from emu import Emulation
from emu.engines import loihi_reference as ref

N_NETWORKS = 200
# brian2-loihi generates numpy code for every group and monitor (about 0.5 s per network):
# it checks this many of the networks, the numpy reference and the devices all of them
N_BRIAN2_LOIHI = 100


def _probe_all(net: LoihiNet) -> dict[str, list[int]]:
    return {layer.name: list(range(layer.size)) for layer in net.layers}


def _reference(net: LoihiNet, levels: np.ndarray, seed: int = 0):
    probe = {k: np.asarray(v) for k, v in _probe_all(net).items()}
    seeds = input_seeds(len(levels), net.input.size, seed)
    return ref.simulate(net, levels, seeds=seeds, probe=probe, record_events=True)


def _assert_same(expected, actual, where: str) -> None:
    for name in expected.counts:
        np.testing.assert_array_equal(
            actual.counts[name], expected.counts[name], err_msg=f"{where}: counts {name}"
        )
    for name in expected.probes:
        np.testing.assert_array_equal(
            actual.probes[name], expected.probes[name], err_msg=f"{where}: {name}"
        )
    np.testing.assert_array_equal(actual.spikes_per_step, expected.spikes_per_step, err_msg=where)
    np.testing.assert_array_equal(actual.output_per_step, expected.output_per_step, err_msg=where)
    np.testing.assert_array_equal(
        actual.saturation, expected.saturation, err_msg=f"{where}: saturation"
    )
    if expected.events is not None and actual.events is not None:
        assert sorted(zip(*[e.tolist() for e in expected.events], strict=True)) == sorted(
            zip(*[e.tolist() for e in actual.events], strict=True)
        )


def _brian2_loihi(
    nets: list[LoihiNet], input_events: list[tuple[np.ndarray, np.ndarray]]
) -> list[dict]:
    """Run many bias-free networks side by side in one brian2-loihi network.

    ``input_events`` gives per network the (step, neuron) spikes of its input layer; a
    brian2-loihi generator spike at t + 1 is the input of step t.
    """
    from brian2_loihi import (
        LoihiNetwork,
        LoihiNeuronGroup,
        LoihiSpikeGeneratorGroup,
        LoihiSpikeMonitor,
        LoihiStateMonitor,
        LoihiSynapses,
    )

    brian2.device.reinit()
    brian2.set_device("runtime")
    brian2.prefs.codegen.target = "numpy"
    objects, monitors = [], []
    for net, (steps, neurons) in zip(nets, input_events, strict=True):
        groups = {"input": LoihiSpikeGeneratorGroup(net.input.size, neurons, steps + 1)}
        objects.append(groups["input"])
        mon = {}
        for layer in net.layers:
            g = LoihiNeuronGroup(
                layer.size,
                refractory=layer.refractory,
                threshold_v_mant=layer.vth_mant,
                decay_v=layer.decay_v,
                decay_I=layer.decay_u,
            )
            groups[layer.name] = g
            mon[layer.name] = (
                LoihiStateMonitor(g, "I"),
                LoihiStateMonitor(g, "v"),
                LoihiSpikeMonitor(g),
            )
            objects += [g, *mon[layer.name]]
        for layer in net.layers:  # after every group: projections may read any layer
            for p in layer.projections:
                if not len(p.pre):
                    continue
                s = LoihiSynapses(
                    groups[p.source], groups[layer.name], w_exp=p.weight_exp, sign_mode=1
                )
                s.connect(i=p.pre, j=p.post)
                s.w = p.weight_mant.astype(np.int64)
                objects.append(s)
        monitors.append(mon)
    LoihiNetwork(*objects).run(nets[0].timesteps)
    out = []
    for mon in monitors:
        res = {}
        for name, (mu, mv, ms) in mon.items():
            res[f"{name}.u"] = np.asarray(mu.I, np.int64).T
            res[f"{name}.v"] = np.asarray(mv.v, np.int64).T
            res[f"{name}.spikes"] = (
                np.asarray(ms.i, np.int64),
                np.rint(np.asarray(ms.t_) * 1000).astype(np.int64),
            )
        out.append(res)
    return out


def _input_spikes(
    record, layer_index: int = 0, sample: int = 0, offset: int = 0, size: int | None = None
):
    """(step, neuron) of the input spikes of one sample, for one network's slice of a union."""
    smp, step, layer, neuron = record.events
    keep = (smp == sample) & (layer == layer_index) & (neuron >= offset)
    if size is not None:
        keep &= neuron < offset + size
    return step[keep], neuron[keep] - offset


@pytest.mark.slow
def test_union_of_200_random_networks_agrees_across_standalone_reference_and_brian2_loihi(
    cache_dir,
):
    """u, v and spikes of every layer of 200 random bias-free networks (reset to zero), run as one union.

    One C++ build runs all of them at once; brian2-loihi runs the first ``N_BRIAN2_LOIHI``
    networks, each on the input spikes our input layer produced.
    """
    rng = np.random.default_rng(2024)
    nets = in_range_nets(
        rng, N_NETWORKS, encoding="bias", timesteps=30, with_bias=False, reset="zero"
    )
    big = union(nets)
    levels = rng.integers(0, 256, (2, big.input.size))
    expected = _reference(big, levels)
    sim = Emulation(
        big,
        "cpp_standalone",
        batch_size=2,
        cache_dir=cache_dir,
        probe=_probe_all(big),
        record_events=True,
    )
    _assert_same(expected, sim.backend.run_batch(levels), "cpp_standalone union")
    offsets = np.cumsum([0] + [net.input.size for net in nets])
    checked = nets[:N_BRIAN2_LOIHI]
    inputs = [
        _input_spikes(expected, 0, 0, offsets[k], net.input.size) for k, net in enumerate(checked)
    ]
    theirs = _brian2_loihi(checked, inputs)
    # brian2-loihi does not clip v at 2**23: compare the networks that stayed in range here
    names = [layer.name for layer in big.all_layers()]
    saturated = {
        name.split("_")[0] for name, s in zip(names, expected.saturation, strict=True) if s.any()
    }
    assert len(saturated) <= N_NETWORKS // 20, f"{len(saturated)} networks left the range"
    for k, (net, got) in enumerate(zip(checked, theirs, strict=True)):
        if f"n{k}" in saturated:
            continue
        for layer in net.layers:
            for var in ("u", "v"):
                ours = expected.probes[f"n{k}_{layer.name}.{var}"][0]
                np.testing.assert_array_equal(
                    got[f"{layer.name}.{var}"], ours, err_msg=f"net {k} {layer.name}.{var}"
                )


@pytest.mark.slow
def test_reference_matches_brian2_loihi_on_random_spike_trains():
    rng = np.random.default_rng(7)
    nets = in_range_nets(
        rng, N_BRIAN2_LOIHI, encoding="bias", timesteps=25, with_bias=False, reset="zero"
    )
    inputs, expected = [], []
    for net in nets:
        spikes = rng.random((1, net.timesteps, net.input.size)) < rng.uniform(0.05, 0.6)
        inputs.append(tuple(np.nonzero(spikes[0])))
        probe = {k: np.asarray(v) for k, v in _probe_all(net).items()}
        expected.append(
            ref.simulate(
                net, np.zeros((1, net.input.size), int), probe=probe, external_spikes=spikes
            )
        )
    theirs = _brian2_loihi(nets, inputs)
    for net, exp, got in zip(nets, expected, theirs, strict=True):
        if exp.saturation.sum():
            continue  # outside the range where brian2-loihi defines the arithmetic
        _assert_brian2_loihi_agrees(net, exp, got)


def _assert_brian2_loihi_agrees(net: LoihiNet, expected, theirs: dict) -> None:
    """u, v and spike steps of every layer of one network, sample 0."""
    for layer in net.layers:
        for var in ("u", "v"):
            np.testing.assert_array_equal(
                theirs[f"{layer.name}.{var}"], expected.probes[f"{layer.name}.{var}"][0]
            )
        k = net.layer_names.index(layer.name)
        steps = np.nonzero(expected.spikes_per_step[0, :, k])[0]
        assert set(theirs[f"{layer.name}.spikes"][1].tolist()) == set(steps.tolist())


@pytest.mark.parametrize("encoding", ["bias", "rate"])
def test_runtime_matches_reference_with_biases(encoding, cache_dir):
    rng = np.random.default_rng(11 if encoding == "bias" else 12)
    net = union([random_net(rng, encoding, timesteps=30) for _ in range(40)])
    levels = rng.integers(0, 256, (3, net.input.size))
    sim = Emulation(net, "runtime", probe=_probe_all(net), record_events=True)
    _assert_same(_reference(net, levels), sim.backend.run_batch(levels), f"runtime {encoding}")


@pytest.mark.parametrize("device", ["runtime", "cpp_standalone"])
@pytest.mark.parametrize("encoding", ["bias", "rate"])
def test_shared_fanout_matches_reference(device, encoding, cache_dir):
    """Sources with identical synapse rows (as pooling makes them) deliver through fan-out cells."""
    rng = np.random.default_rng(31 if encoding == "bias" else 32)
    nets = [random_net(rng, encoding, timesteps=30, shared_rows=True) for _ in range(30)]
    net = union(nets)
    sim = Emulation(
        net, device, batch_size=3, cache_dir=cache_dir, probe=_probe_all(net), record_events=True
    )
    assert sim.backend.fanout.n_cells > 0
    levels = rng.integers(0, 256, (3, net.input.size))
    _assert_same(_reference(net, levels), sim.backend.run_batch(levels), f"{device} {encoding}")


@pytest.mark.parametrize("encoding", ["bias", "rate"])
def test_standalone_matches_reference_with_biases_and_resets(encoding, cache_dir):
    rng = np.random.default_rng(21 if encoding == "bias" else 22)
    net = random_net(rng, encoding, timesteps=30, sizes=(9, 7, 5), n_in=8)
    levels = rng.integers(0, 256, (5, net.input.size))
    sim = Emulation(
        net,
        "cpp_standalone",
        batch_size=4,
        cache_dir=cache_dir,
        probe=_probe_all(net),
        record_events=True,
    )
    records = [sim.backend.run_batch(levels[:4], 0), sim.backend.run_batch(levels[4:], 4)]
    from emu.traces.records import concatenate

    _assert_same(_reference(net, levels), concatenate(records), f"cpp_standalone {encoding}")


def _edge_net(
    weight_mant: int, weight_exp: int, decay_u: int, decay_v: int, bias_mant: int, vth_mant: int
) -> LoihiNet:
    n_in = 24
    pre = np.arange(n_in)
    layer = LoihiLayer(
        "edge",
        1,
        [random_projection(np.random.default_rng(0), "input", n_in, 1, 1.0, weight_exp)],
        vth_mant=vth_mant,
        bias_mant=np.array([bias_mant]),
        bias_exp=7,
        decay_u=decay_u,
        decay_v=decay_v,
    )
    layer.projections[0].pre, layer.projections[0].post = pre, np.zeros(n_in, np.int32)
    layer.projections[0].weight_mant = np.full(n_in, weight_mant, np.int16)
    return LoihiNet(LoihiInput((n_in,)), [layer], 20)


@pytest.mark.parametrize(
    "case, params",
    [
        (
            "u wraps at 2**23",
            dict(
                weight_mant=254, weight_exp=7, decay_u=0, decay_v=4096, bias_mant=0, vth_mant=131071
            ),
        ),
        (
            "v clips positive",
            dict(
                weight_mant=0,
                weight_exp=0,
                decay_u=4096,
                decay_v=0,
                bias_mant=4095,
                vth_mant=131071,
            ),
        ),
        (
            "v clips negative",
            dict(weight_mant=-256, weight_exp=5, decay_u=0, decay_v=0, bias_mant=-4096, vth_mant=1),
        ),
        (
            "negative decays truncate toward zero",
            dict(
                weight_mant=-200, weight_exp=3, decay_u=1234, decay_v=777, bias_mant=5, vth_mant=10
            ),
        ),
    ],
)
def test_edges_agree_on_every_device(case, params, cache_dir):
    net = _edge_net(**params)
    levels = np.full((2, net.input.size), 255)  # every input spikes at the same steps
    expected = _reference(net, levels)
    if "wrap" in case:
        assert expected.saturation[1, 0] > 0 and expected.saturation[1, 2] > 0
    if "clip" in case:
        assert expected.saturation[1, 1] > 0
    for device in ("runtime", "cpp_standalone"):
        sim = Emulation(
            net,
            device,
            batch_size=2,
            cache_dir=cache_dir,
            probe=_probe_all(net),
            record_events=True,
        )
        _assert_same(expected, sim.backend.run_batch(levels), f"{device}: {case}")
