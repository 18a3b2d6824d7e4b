"""The neuroemu command line: convert, run, demo, checked numbers and one-line errors."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from loihi_cases import random_net

from converters.chips.files import save_net
from converters.chips.loihi import LoihiInput
from converters.training import datasets
from emu import load_traces
from neuroemu.commands import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def _fails(argv: list[str], capsys) -> str:
    """The one-line message of a command that must exit with status 2."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.fixture()
def small_net(tmp_path):
    return save_net(random_net(np.random.default_rng(0), timesteps=4), tmp_path / "net.npz")


def test_convert_then_run_writes_traces(tmp_path, digits_model, digits, capsys):
    model_path = tmp_path / "digits.pt"
    torch.save(digits_model.state_dict(), model_path)
    net_path = tmp_path / "digits.npz"
    main(
        [
            "convert",
            str(model_path),
            "--arch",
            "digits_cnn:16",
            "--out",
            str(net_path),
            "--timesteps",
            "16",
            "--calibration-samples",
            "300",
        ]
    )
    data_path = tmp_path / "few.npz"
    np.savez(data_path, x=digits.x_test[:6], y=digits.y_test[:6])
    out = tmp_path / "traces.h5"
    main(["run", str(net_path), "--data", str(data_path), "--device", "runtime", "--out", str(out)])
    printed = capsys.readouterr().out
    assert "accuracy" in printed and str(out) in printed
    traces = load_traces(out)
    assert traces.sizes["sample"] == 6
    np.testing.assert_array_equal(traces["label"].values, digits.y_test[:6])
    err = _fails(
        ["convert", str(model_path), "--arch", "digits_cnn:16", "--out", str(net_path)]
        + ["--calibration", "mnist"],
        capsys,
    )
    assert "the network expects (1, 8, 8); pass --calibration digits" in err
    err = _fails(["run", str(net_path), "--data", "mnist", "--samples", "2"], capsys)
    assert "the network expects (1, 8, 8); pass --data digits" in err


def test_convert_reads_the_model_train_writes(tmp_path, capsys):
    model_path = tmp_path / "m.pt"
    main(["train", "--data", "digits", "--epochs", "1", "--out", str(model_path)])
    net_path = tmp_path / "m.npz"
    main(["convert", str(model_path), "--target", "akida", "--out", str(net_path)]
         + ["--calibration", "digits", "--calibration-samples", "50"])  # fmt: skip
    assert f"wrote akida network (4 layers) to {net_path}" in capsys.readouterr().out


def test_bad_inputs_exit_with_a_message(tmp_path, small_net, capsys):
    assert "does not exist" in _fails(
        ["convert", str(tmp_path / "none.pt"), "--out", str(tmp_path / "n.npz")], capsys
    )
    assert "does not exist" in _fails(["run", str(tmp_path / "n.npz")], capsys)
    (tmp_path / "bad.npz").write_bytes(b"not a network")
    err = _fails(["run", str(tmp_path / "bad.npz")], capsys)
    assert err.startswith("neuroemu: error: ") and "not a neuroemu network file" in err
    assert "neither" in _fails(["run", str(small_net), "--data", "cifar"], capsys)
    with pytest.raises(ValueError, match="not a neuroemu network file"):
        main(["run", str(tmp_path / "bad.npz"), "--debug"])


@pytest.mark.parametrize(
    ("argv", "option", "value", "accepted"),
    [
        (["run", "NET", "--samples", "-3"], "--samples", "-3", "an integer >= 1"),
        (["run", "NET", "--workers", "0"], "--workers", "0", "an integer >= 1"),
        (["run", "NET", "--batch-size", "x"], "--batch-size", "'x'", "an integer in 1..1048576"),
        (
            ["convert", "M.pt", "--out", "o", "--calibration-samples", "-1"],
            "--calibration-samples",
            "-1",
            "an integer >= 1",
        ),  # fmt: skip
        (["convert", "M.pt", "--out", "o", "--timesteps", "0"], "--timesteps", "0", ">= 1"),
        (["convert", "M.pt", "--out", "o", "--percentile", "0"], "--percentile", "0", "(0, 100]"),
        (["demo", "--timesteps", "0"], "--timesteps", "0", "an integer >= 1"),
        (["estimate", "T", "--net", "N", "--rate", "nan"], "--rate", "nan", "a number in (0"),
    ],
)
def test_numbers_are_checked_before_any_work(argv, option, value, accepted, capsys):
    err = _fails(argv, capsys)
    assert f"argument {option}: {value}" in err and accepted in err


@pytest.mark.parametrize(("labels", "message"), [([0, 6.5], "integers"), ([0, 40000], "0..")])
def test_labels_out_of_range_are_refused(tmp_path, small_net, labels, message, capsys):
    n_in = random_net(np.random.default_rng(0), timesteps=4).input.size
    np.savez(tmp_path / "d.npz", x=np.zeros((2, n_in)), y=np.array(labels))
    err = _fails(["run", str(small_net), "--data", str(tmp_path / "d.npz")], capsys)
    assert "labels must be" in err and message in err


def test_probe_records_the_named_neurons_and_refuses_unknown_layers(tmp_path, small_net, capsys):
    n_in = random_net(np.random.default_rng(0), timesteps=4).input.size
    np.savez(tmp_path / "d.npz", x=np.random.default_rng(1).random((3, n_in)), y=[0, 1, 0])
    out = tmp_path / "p.h5"
    argv = ["run", str(small_net), "--data", str(tmp_path / "d.npz"), "--device", "runtime"]
    main([*argv, "--out", str(out), "--probe", "l0:0,1"])
    traces = load_traces(out)
    assert traces["u_l0"].shape[0] == 3 and traces["v_l0"].shape[-1] == 2
    err = _fails([*argv, "--out", str(tmp_path / "q.h5"), "--probe", "bogus:1"], capsys)
    assert "--probe 'bogus:1'" in err and "'l0'" in err


def test_out_directory_is_refused_before_the_run(tmp_path, small_net, capsys):
    err = _fails(["run", str(small_net), "--out", str(tmp_path)], capsys)
    assert "is a directory" in err


def test_the_tensor_device_refuses_a_loihi_network(tmp_path, small_net, capsys):
    err = _fails(
        ["run", str(small_net), "--device", "tensor", "--out", str(tmp_path / "t.h5")], capsys
    )
    assert "runs Akida networks" in err and "cpp_standalone" in err


def test_mnist_is_the_default_for_a_network_reading_mnist_images(tmp_path, capsys):
    net = random_net(np.random.default_rng(1), timesteps=4, n_in=784)
    net = dataclasses.replace(net, input=LoihiInput(datasets.MNIST_SHAPE))
    path = save_net(net, tmp_path / "mnist_net.npz")
    out = tmp_path / "t.h5"
    main(["run", str(path), "--samples", "3", "--device", "runtime", "--out", str(out)])
    assert "3 samples in" in capsys.readouterr().out
    labels = load_traces(out)["label"].values
    np.testing.assert_array_equal(labels, datasets.mnist().y_test[:3])
    assert datasets.default_samples(datasets.DIGITS_SHAPE) == "digits"


def test_help_explains_every_command(capsys):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-m", "neuroemu", "run", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    for option in ("--device", "--workers", "--out", "--events", "default: mnist"):
        assert option in out
    commands = build_parser()._subparsers._group_actions[0].choices
    assert {"demo", "convert", "train", "run", "inspect", "diff", "estimate", "compare"} <= set(
        commands
    )
    for name in commands:
        with pytest.raises(SystemExit) as exit_:
            main([name, "--help"])
        assert exit_.value.code == 0 and f"usage: neuroemu {name}" in capsys.readouterr().out


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    ("package", "above"), [("converters", {"emu", "hwmodels", "neuroemu"}),
                           ("emu", {"hwmodels", "neuroemu"}), ("hwmodels", {"neuroemu"})]
)  # fmt: skip
def test_packages_import_only_the_packages_below_them(package, above):
    upward = {
        f"{p.relative_to(ROOT)}: {sorted(_imported(p) & above)}"
        for p in (ROOT / package).rglob("*.py")
        if _imported(p) & above
    }
    assert not upward


@pytest.mark.slow
def test_demo_runs_and_says_where_its_outputs_are(tmp_path, capsys):
    main(["demo", "--out", str(tmp_path), "--timesteps", "64"])
    printed = capsys.readouterr().out
    assert str(tmp_path.resolve()) in printed
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["snn_accuracy"] >= report["dnn_accuracy"] - 0.015
    assert load_traces(tmp_path / "digits_traces.h5").sizes["sample"] == report["test_images"]
