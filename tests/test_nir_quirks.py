"""Other tools' NIR quirks: batch dimensions, files nir's type check refuses, reset modes."""

from __future__ import annotations

import argparse

import nir
import numpy as np
import pytest

from converters.chips.files import load_net
from converters.frontends.nir_import import NIRImportError, from_nir, read_nir
from emu.engines import loihi_reference
from neuroemu.commands.nir import register

torch = pytest.importorskip("torch")


def call(*argv) -> None:
    p = argparse.ArgumentParser(prog="neuroemu")
    register(p.add_subparsers(dest="command", required=True))
    args = p.parse_args([str(a) for a in argv])
    args.func(args)


def batched_mlp(batch: int = 1, fan_in: int = 64) -> nir.NIRGraph:
    """Input (batch, 64) -> Affine -> IF -> Output: what a batched sample gives some writers."""
    rng = np.random.default_rng(0)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([batch, 64])}),
        "fc": nir.Affine(rng.normal(0, 0.3, (10, fan_in)), rng.normal(0, 0.1, 10)),
        "lif": nir.IF(r=np.ones(10), v_threshold=np.ones(10), v_reset=np.zeros(10)),
        "output": nir.Output(output_type={"output": np.array([batch, 10])}),
    }
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes, edges, type_check=False)


def same_counts(a, b, x) -> None:
    ra = loihi_reference.simulate(a, a.input.levels(x))
    rb = loihi_reference.simulate(b, b.input.levels(x))
    assert sum(int(c.sum()) for c in ra.counts.values()) > 0
    for name in ra.counts:
        np.testing.assert_array_equal(ra.counts[name], rb.counts[name], err_msg=name)


def test_norse_conv_graph_from_a_batched_sample_reads_as_the_unbatched_one():
    norse = pytest.importorskip("norse.torch")
    torch.manual_seed(0)
    net = norse.SequentialState(torch.nn.Conv2d(1, 4, 3), norse.IAFCell())
    batched = norse.to_nir(net, torch.zeros(1, 1, 8, 8))
    assert tuple(batched.nodes["input"].input_type["input"]) == (1, 1, 8, 8)
    plain = norse.to_nir(net, torch.zeros(1, 8, 8))
    with pytest.warns(UserWarning, match="reset to zero"):
        a = from_nir(batched, timesteps=20)
        b = from_nir(plain, timesteps=20)
    assert a.input.shape == b.input.shape == (1, 8, 8)
    assert a.layers[0].shape == (4, 6, 6)
    same_counts(a, b, np.random.default_rng(1).random((4, 1, 8, 8)))


def test_a_batch_of_several_samples_is_refused_in_one_line():
    with pytest.raises(NIRImportError, match=r"a batch of 5 samples.*batch size 1") as err:
        from_nir(batched_mlp(batch=5), timesteps=10)
    assert "\n" not in str(err.value)


def test_an_input_without_a_shape_is_refused_in_one_line():
    graph = batched_mlp()
    graph.nodes["input"].input_type = {"input": None}
    with pytest.raises(NIRImportError, match=r"Input 'input' declares no shape \(None\)"):
        from_nir(graph, timesteps=10)


def test_a_file_nir_refuses_to_type_check_is_read_with_our_own_checks(tmp_path, capsys):
    path = tmp_path / "batched.nir"
    nir.write(path, batched_mlp())
    with pytest.raises(ValueError, match="Type inference error"):
        nir.read(path)
    with pytest.warns(UserWarning) as caught:
        net = read_nir(path, timesteps=20)
    assert any("nir's type check refuses batched.nir" in str(w.message) for w in caught)
    assert net.input.shape == (64,)
    with pytest.warns(UserWarning):
        same_counts(
            net, from_nir(batched_mlp(), timesteps=20), np.random.default_rng(2).random((6, 64))
        )
    call("nir", "import", path, "--timesteps", 20, "--out", tmp_path / "net.npz")
    out = capsys.readouterr().out
    assert "note: nir's type check refuses batched.nir" in out
    assert "pass --reset subtract" in out and "reset='subtract'" not in out
    assert load_net(tmp_path / "net.npz").layers[0].reset == "zero"


def test_sizes_nir_did_not_check_are_checked_on_import(tmp_path, capsys):
    path = tmp_path / "wrong.nir"
    nir.write(path, batched_mlp(fan_in=32))
    with pytest.raises(
        SystemExit, match=r"error: Affine 'fc' has weight \(10, 32\) for an input of 64"
    ):
        call("nir", "import", path, "--timesteps", 20, "--out", tmp_path / "net.npz")


def test_reset_flag_sets_every_layer_of_a_foreign_graph(tmp_path, capsys):
    path = tmp_path / "batched.nir"
    nir.write(path, batched_mlp())
    call(
        "nir", "import", path, "--timesteps", 20, "--reset", "subtract", "--out", tmp_path / "n.npz"
    )
    assert "pass --reset" not in capsys.readouterr().out
    assert load_net(tmp_path / "n.npz").layers[0].reset == "subtract"
    with pytest.raises(NIRImportError, match="reset 'clip' is not one of"):
        from_nir(batched_mlp(), timesteps=20, reset="clip")
