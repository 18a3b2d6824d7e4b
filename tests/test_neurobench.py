"""NeuroBench's metrics from traces: against the neurobench package and hand-computed cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from trace_examples import random_net

from converters.chips.akida import AkidaLayer, AkidaNet
from converters.chips.files import save_net
from converters.chips.loihi import LoihiInput, LoihiLayer, LoihiNet, LoihiProjection
from emu.traces import analysis, make_traces, save_traces
from neuroemu.commands import main


def _traces(layers, counts, steps, target, net, labels=(1,), saturation=None):
    n = len(next(iter(counts.values())))
    out = counts[layers[-1]]
    return make_traces(
        layers=layers,
        counts={k: np.asarray(v) for k, v in counts.items()},
        spikes_per_step=np.zeros((n, steps, len(layers))),
        output_per_step=np.zeros((n, steps, np.asarray(out).shape[1])),
        predictions=np.asarray(out).argmax(1),
        labels=np.asarray(labels),
        saturation=np.zeros((len(layers), 3)) if saturation is None else saturation,
        attrs={"target": target, "net_digest": net.digest(), "timesteps": steps},
    )


def _loihi_case():
    """2 inputs -> 2 neurons (weights [[2, 0], [4, 6]] mantissas) -> 1 neuron, 10 steps."""
    hidden = LoihiLayer(
        "h", 2, [LoihiProjection("input", np.array([0, 0, 1]), np.array([0, 1, 1]),
                                 np.array([2, 4, 6]))], vth_mant=10, reset="subtract",
    )  # fmt: skip
    out = LoihiLayer(
        "o", 1, [LoihiProjection("h", np.array([0, 1]), np.array([0, 0]), np.array([2, 0]))],
        vth_mant=10, decay_u=100,
    )  # fmt: skip
    net = LoihiNet(LoihiInput((2,)), [hidden, out], 10)
    counts = {"input": [[4, 2], [0, 6]], "h": [[3, 0], [1, 1]], "o": [[5], [0]]}
    return net, _traces(["input", "h", "o"], counts, 10, "loihi", net, labels=(0, 0))


def test_loihi_definitions_on_a_hand_computed_case():
    net, tr = _loihi_case()
    m = analysis.neurobench_metrics(tr, net)
    # 3 neurons x 10 steps x 2 samples; spikes 3 + 5 and 2 + 0
    assert m.metrics["ActivationSparsity"] == pytest.approx(1 - 10 / 60)
    # matrices 2x2 and 1x2 (6 entries; the zero weight and the absent synapse are zeros)
    assert m.metrics["ConnectionSparsity"] == pytest.approx(2 / 6)
    assert m.metrics["Footprint"] == 4 * (6 + 3)
    # input 0 reaches 2 non-zero weights, input 1 one, h0 one, h1 none
    ops = ((4 * 2 + 2 * 1 + 3 * 1) + (0 + 6 * 1 + 1 * 1)) / 2
    assert m.metrics["SynapticOperations"] == {
        "Effective_MACs": 0.0,
        "Effective_ACs": ops,
        "Dense": 10 * 6,
    }
    assert m.metrics["MembraneUpdates"] == 30
    # h: Leaky (current lasts one step), subtract: 4; o: Synaptic, zero reset: 8
    assert m.metrics["NeuronOperations"]["Effective Neuron Ops"] == 2 * 10 * 4 + 1 * 10 * 8
    assert m.metrics["ClassificationAccuracy"] == 1.0
    # the chip's count takes every stored synapse, the zero-weight one included
    assert m.chip["synaptic_ops"] == pytest.approx(ops + (0 + 1) / 2)  # h1 spikes once
    assert m.chip["synapses"] == 5 and m.chip["spikes"] == 5


def _akida_case():
    """One dense layer, 3 multi-bit inputs -> 2 neurons, weights [[1, 0], [0, 0], [2, 3]]."""
    fc = AkidaLayer(
        "fc", "dense", (1, 1, 3), np.array([[1, 0], [0, 0], [2, 3]], np.int8),
        np.zeros(2, np.int64), np.ones(2, np.float32), 4, 4,
    )  # fmt: skip
    net = AkidaNet((1, 1, 3), 4, [fc])
    counts = {"input": [[1, 0, 2]], "fc": [[0, 5]]}
    return net, _traces(["input", "fc"], counts, 1, "akida", net)


def test_akida_definitions_on_a_hand_computed_case():
    net, tr = _akida_case()
    m = analysis.neurobench_metrics(tr, net)
    assert m.metrics["ActivationSparsity"] == 0.5
    assert m.metrics["ConnectionSparsity"] == 0.5
    assert m.metrics["Footprint"] == 4 * (6 + 2)
    # events at inputs 0 (1 non-zero weight) and 2 (2); the input value 2 is multi-bit: MACs
    assert m.metrics["SynapticOperations"] == {
        "Effective_MACs": 3.0,
        "Effective_ACs": 0.0,
        "Dense": 6.0,
    }
    assert m.chip == {"events": 1.0, "input_events": 2.0, "synaptic_ops": 3.0, "weight_bytes": 3.0}


def test_metrics_without_the_network_and_target_mismatch():
    net, tr = _loihi_case()
    m = analysis.neurobench_metrics(tr)
    assert m.metrics["SynapticOperations"] is None and m.metrics["Footprint"] is None
    assert m.metrics["ActivationSparsity"] == pytest.approx(1 - 10 / 60)
    assert any("inspect --net NET" in n for n in m.notes)
    with pytest.raises(ValueError, match="target 'loihi' but the network for 'akida'"):
        analysis.neurobench_metrics(tr, _akida_case()[0])


def test_inspect_prints_neurobench_names(tmp_path, capsys):
    net, tr = _loihi_case()
    tr["saturation"].values[1] = [3, 2, 1]
    path = save_traces(tr, tmp_path / "run.h5")
    save_net(net, tmp_path / "net.npz")
    main(["inspect", str(path), "--net", str(tmp_path / "net.npz")])
    text = capsys.readouterr().out
    for name in ("Footprint", "ConnectionSparsity", "ActivationSparsity", "Effective_ACs",
                 "Dense", "MembraneUpdates", "Effective Neuron Ops", "ClassificationAccuracy",
                 "loihi synaptic_ops"):  # fmt: skip
        assert name in text
    assert "3 u wraps" in text and "2 v clips (the chip's own arithmetic" in text
    assert "1 step inputs beyond +-2**21 (undefined on the chip" in text and "remedy:" in text
    main(["inspect", str(path), "--net", str(tmp_path / "net.npz"), "--json"])
    saved = json.loads(capsys.readouterr().out)["neurobench"]
    assert saved["metrics"]["SynapticOperations"]["Dense"] == 60


def test_benchmark_runs_an_emulation_and_agrees(cache_dir):
    pytest.importorskip(
        "neurobench", reason="neurobench is not installed (pip install --no-deps neurobench)"
    )
    import torch
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint
    from neurobench.metrics.workload import (
        ActivationSparsity,
        ClassificationAccuracy,
        SynapticOperations,
    )
    from torch.utils.data import DataLoader, TensorDataset

    from emu import Emulation
    from emu.neurobench_model import NeuroBenchEmulation

    net = random_net(seed=3, timesteps=32)
    rng = np.random.default_rng(2)
    x, y = rng.random((24, 1, 4, 4)), rng.integers(0, 5, 24)
    model = NeuroBenchEmulation(net, device="native", batch_size=8, cache_dir=cache_dir)
    loader = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=8)
    static = [Footprint, ConnectionSparsity]
    workload = [ActivationSparsity, SynapticOperations, ClassificationAccuracy]
    theirs = Benchmark(model, loader, [], [], [static, workload]).run(quiet=True)
    traces = Emulation(net, device="native", cache_dir=cache_dir).run(x, y)
    ours = analysis.neurobench_metrics(traces, net).metrics
    assert 0 < ours["ActivationSparsity"] < 1 and ours["SynapticOperations"]["Effective_ACs"] > 0
    assert theirs["Footprint"] == ours["Footprint"]
    assert theirs["ConnectionSparsity"] == round(ours["ConnectionSparsity"], 4)  # theirs rounds
    assert theirs["ActivationSparsity"] == pytest.approx(ours["ActivationSparsity"], rel=1e-12)
    assert theirs["SynapticOperations"] == pytest.approx(ours["SynapticOperations"], rel=1e-12)
    assert theirs["ClassificationAccuracy"] == pytest.approx(ours["ClassificationAccuracy"])
