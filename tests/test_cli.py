"""The neuroemu command line: convert, run, demo."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from emu import load_traces
from emu.cli import main


def test_convert_then_run_writes_traces(tmp_path, digits_model, digits, capsys):
    model_path = tmp_path / "digits.pt"
    torch.save(digits_model, model_path)
    net_path = tmp_path / "digits.npz"
    main(
        [
            "convert",
            str(model_path),
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


def test_bad_inputs_exit_with_a_message(tmp_path):
    from loihi_cases import random_net

    from converters.net_io import save_net

    with pytest.raises(SystemExit, match="does not exist"):
        main(["convert", str(tmp_path / "none.pt"), "--out", str(tmp_path / "n.npz")])
    with pytest.raises(SystemExit, match="does not exist"):
        main(["run", str(tmp_path / "n.npz")])
    (tmp_path / "bad.npz").write_bytes(b"not a network")
    with pytest.raises(SystemExit, match="not a neuroemu network file"):
        main(["run", str(tmp_path / "bad.npz")])
    net_path = save_net(random_net(np.random.default_rng(0), timesteps=4), tmp_path / "net.npz")
    with pytest.raises(SystemExit, match="neither"):
        main(["run", str(net_path), "--data", "cifar"])


def test_help_explains_every_command():
    out = subprocess.run(
        [sys.executable, "-m", "emu.cli", "run", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in ("--device", "--workers", "--out", "--events"):
        assert option in out


@pytest.mark.slow
def test_demo_runs_and_says_where_its_outputs_are(tmp_path, capsys):
    main(["demo", "--out", str(tmp_path), "--timesteps", "64"])
    printed = capsys.readouterr().out
    assert str(tmp_path.resolve()) in printed
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["snn_accuracy"] >= report["dnn_accuracy"] - 0.015
    assert load_traces(tmp_path / "digits_traces.h5").sizes["sample"] == report["test_images"]
