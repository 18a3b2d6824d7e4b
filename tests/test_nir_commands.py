"""The ``nir export`` and ``nir import`` commands, called through an argument parser."""

from __future__ import annotations

import argparse

import nir
import numpy as np
import pytest
from trace_examples import random_net

from converters.net_io import load_net, save_net
from converters.nir_commands import register
from emu import loihi_reference


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="neuroemu")
    register(p.add_subparsers(dest="command", required=True))
    return p


def call(*argv: str) -> None:
    args = parser().parse_args([str(a) for a in argv])
    args.func(args)


def same_counts(a, b, samples) -> None:
    ra = loihi_reference.simulate(a, a.input.levels(samples))
    rb = loihi_reference.simulate(b, b.input.levels(samples))
    assert sum(int(c.sum()) for c in ra.counts.values()) > 0
    for name in ra.counts:
        np.testing.assert_array_equal(ra.counts[name], rb.counts[name], err_msg=name)


def test_export_then_import_gives_the_same_network(tmp_path, capsys):
    net = random_net(seed=3, timesteps=30)
    save_net(net, tmp_path / "net.npz")
    call("nir", "export", tmp_path / "net.npz", tmp_path / "net.nir")
    out = capsys.readouterr().out
    assert "note: the input population resets by subtraction" in out
    assert f"{len(net.layers)} layers, 30 steps, neuron IF" in out
    graph = nir.read(tmp_path / "net.nir")
    assert {type(n).__name__ for n in graph.nodes.values()} >= {"Input", "IF", "Affine"}
    call("nir", "import", tmp_path / "net.nir", "--timesteps", 40, "--out", tmp_path / "back.npz")
    back = load_net(tmp_path / "back.npz")
    assert back.timesteps == 40 and back.layer_names == net.layer_names
    net.timesteps = 40
    same_counts(net, back, np.random.default_rng(0).random((8, 1, 4, 4)))
    assert "vth" in capsys.readouterr().out


def test_export_options_lif_spike_input_and_dt(tmp_path, capsys):
    net = random_net(seed=4, timesteps=20)
    save_net(net, tmp_path / "net.npz")
    call(
        "nir",
        "export",
        tmp_path / "net.npz",
        tmp_path / "lif.nir",
        "--neuron",
        "LIF",
        "--dt",
        "1e-4",
        "--spike-input",
    )
    graph = nir.read(tmp_path / "lif.nir")
    kinds = {type(n).__name__ for n in graph.nodes.values()}
    assert "IF" not in kinds and "LIF" in kinds
    assert float(graph.metadata["dt"]) == 1e-4
    call("nir", "import", tmp_path / "lif.nir", "--out", tmp_path / "back.npz")
    back = load_net(tmp_path / "back.npz")
    assert [layer.decay_v for layer in back.layers] == [0] * len(net.layers)
    same_counts(net, back, np.random.default_rng(1).random((8, 1, 4, 4)))


def test_errors_exit_with_the_reason(tmp_path):
    net = random_net(seed=5)
    save_net(net, tmp_path / "net.npz")
    with pytest.raises(SystemExit, match="error: .*keep their current forever"):
        net.layers[0].decay_u, net.layers[0].decay_v = 0, 0
        save_net(net, tmp_path / "bad.npz")
        call("nir", "export", tmp_path / "bad.npz", tmp_path / "bad.nir")
    with pytest.raises(SystemExit, match="error: cannot load"):
        call("nir", "export", tmp_path / "missing.npz", tmp_path / "x.nir")
    n = 3
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([n])}),
            "fc": nir.Affine(weight=np.eye(n), bias=np.zeros(n)),
            "li": nir.LI(tau=np.ones(n), r=np.ones(n), v_leak=np.zeros(n)),
            "output": nir.Output(output_type={"output": np.array([n])}),
        },
        edges=[("input", "fc"), ("fc", "li"), ("li", "output")],
    )
    nir.write(tmp_path / "li.nir", graph)
    with pytest.raises(SystemExit, match=r"error: nodes \{'li': 'LI'\} have no Loihi counterpart"):
        call("nir", "import", tmp_path / "li.nir", "--timesteps", 5, "--out", tmp_path / "o.npz")
    (tmp_path / "junk.nir").write_bytes(b"not hdf5")
    with pytest.raises(SystemExit, match="error: cannot read .* as a NIR file"):
        call("nir", "import", tmp_path / "junk.nir", "--timesteps", 5, "--out", tmp_path / "o.npz")
    with pytest.raises(SystemExit):
        parser().parse_args(["nir", "import", str(tmp_path / "li.nir")])


def test_import_of_another_tools_float_graph_needs_and_takes_dt(tmp_path, capsys):
    rng = np.random.default_rng(0)
    ones = np.ones(3)
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([4])}),
            "fc": nir.Affine(weight=rng.normal(0, 0.5, (3, 4)), bias=np.zeros(3)),
            "lif": nir.LIF(
                tau=1e-3 * ones, r=10 * ones, v_leak=0 * ones, v_threshold=ones, v_reset=0 * ones
            ),
            "output": nir.Output(output_type={"output": np.array([3])}),
        },
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
    )
    nir.write(tmp_path / "float.nir", graph)
    out = tmp_path / "float.npz"
    with pytest.raises(SystemExit, match=r"error: nodes \['lif'\] are leaky.*pass dt="):
        call("nir", "import", tmp_path / "float.nir", "--timesteps", 30, "--out", out)
    call("nir", "import", tmp_path / "float.nir", "--timesteps", 30, "--dt", "1e-4", "--out", out)
    assert "lif: 3 neurons, vth 262144, decay_u 4096, decay_v 410" in capsys.readouterr().out
    assert load_net(out).layers[0].decay_v == 410
