"""The ``nir export`` and ``nir import`` commands, called through an argument parser."""

from __future__ import annotations

import argparse

import nir
import numpy as np
import pytest
from trace_examples import random_net

from converters.chips.files import load_net, save_net
from emu.engines import loihi_reference
from neuroemu.commands.nir import register


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
    with pytest.raises(SystemExit, match=r"error: nodes \[.lif.\] are leaky.*pass --dt SECONDS"):
        call("nir", "import", tmp_path / "float.nir", "--timesteps", 30, "--out", out)
    call("nir", "import", tmp_path / "float.nir", "--timesteps", 30, "--dt", "1e-4", "--out", out)
    assert "lif: 3 neurons, vth 262144, decay_u 4096, decay_v 410" in capsys.readouterr().out
    assert load_net(out).layers[0].decay_v == 410


@pytest.mark.parametrize("bad", ["0", "-1e-4", "nan", "inf"])
def test_export_refuses_a_dt_no_library_runs(bad, tmp_path, capsys):
    save_net(random_net(seed=6), tmp_path / "net.npz")
    with pytest.raises(SystemExit):
        call("nir", "export", tmp_path / "net.npz", tmp_path / "x.nir", "--dt", bad)
    assert "--dt" in capsys.readouterr().err and not (tmp_path / "x.nir").exists()


def test_export_default_dt_is_the_target_librarys(tmp_path, capsys):
    save_net(random_net(seed=6), tmp_path / "net.npz")
    call("nir", "export", tmp_path / "net.npz", tmp_path / "lif.nir", "--neuron", "LIF")
    assert float(nir.read(tmp_path / "lif.nir").metadata["dt"]) == 1e-4
    call("nir", "export", tmp_path / "net.npz", tmp_path / "if.nir")
    assert float(nir.read(tmp_path / "if.nir").metadata["dt"]) == 1.0
    out = capsys.readouterr().out
    assert "neuron LIF, dt 0.0001 s" in out and "neuron IF, dt 1 s" in out
    with pytest.raises(SystemExit):
        parser().parse_args(["nir", "export", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "1 for IF (sinabs, Norse), 0.0001 for LIF (snntorch" in help_text


def test_import_of_a_cnn_that_saturates_warns_with_counts_and_remedy(tmp_path, capsys):
    """A sinabs-style CNN (IF, threshold 1): 3x3 kernels summing to ~9 thresholds."""
    rng = np.random.default_rng(0)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([1, 8, 8])}),
        "conv": nir.Conv2d(
            input_shape=(8, 8),
            weight=rng.uniform(0, 2, (4, 1, 3, 3)),
            stride=1,
            padding=1,
            dilation=1,
            groups=1,
            bias=np.zeros(4),
        ),  # fmt: skip
        "spk1": nir.IF(
            r=np.ones((4, 8, 8)), v_threshold=np.ones((4, 8, 8)), v_reset=np.zeros((4, 8, 8))
        ),  # fmt: skip
        "flat": nir.Flatten(input_type={"input": np.array([4, 8, 8])}, start_dim=0),
        "fc": nir.Affine(weight=rng.normal(0, 0.1, (10, 256)), bias=np.zeros(10)),
        "spk2": nir.IF(r=np.ones(10), v_threshold=np.ones(10), v_reset=np.zeros(10)),
        "output": nir.Output(output_type={"output": np.array([10])}),
    }
    names = list(nodes)
    graph = nir.NIRGraph(
        nodes=nodes, edges=list(zip(names[:-1], names[1:], strict=True)), type_check=False
    )
    nir.write(tmp_path / "cnn.nir", graph)
    call("nir", "import", tmp_path / "cnn.nir", "--timesteps", 20, "--out", tmp_path / "cnn.npz")
    out = capsys.readouterr().out
    assert "warning: saturation: layer 'spk1':" in out
    assert "150 of 256 neurons can take inputs beyond +-2**21 in one step" in out  # not the border
    assert "warning: the emulation will count these saturations" in out and "remedy:" in out


def test_export_warns_when_the_graph_is_silent_where_its_library_runs_it(tmp_path, capsys):
    net = random_net(seed=4, timesteps=20)
    save_net(net, tmp_path / "net.npz")
    lif = ("--neuron", "LIF", "--spike-input")
    call("nir", "export", tmp_path / "net.npz", tmp_path / "ok.nir", *lif)
    assert "silent" not in capsys.readouterr().out
    call("nir", "export", tmp_path / "net.npz", tmp_path / "dt1.nir", *lif, "--dt", "1.0")
    out = capsys.readouterr().out
    assert "warning: the exported graph is silent where snntorch runs it" in out
    assert "no output spike on 8 random inputs" in out and "--dt 0.0001 (the default)" in out
    np.save(tmp_path / "cal.npy", np.random.default_rng(5).random((3, 1, 4, 4)))
    call(
        "nir",
        "export",
        tmp_path / "net.npz",
        tmp_path / "c.nir",
        *lif,
        "--dt",
        "1.0",
        "--calibration",
        tmp_path / "cal.npy",
    )
    assert "no output spike on 3 calibration samples" in capsys.readouterr().out
    np.save(tmp_path / "bad.npy", np.zeros((3, 7)))
    with pytest.raises(SystemExit, match=r"--calibration .*bad.npy has shape \(3, 7\); expected"):
        call(
            "nir",
            "export",
            tmp_path / "net.npz",
            tmp_path / "b.nir",
            "--calibration",
            tmp_path / "bad.npy",
        )
