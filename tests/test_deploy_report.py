"""The deployment report (API and ``neuroemu deploy-report``) and the fan-in warning of conversion."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import converters
from converters.graph import AvgPool2d, Conv2d, Dense, Flatten, Graph, Input
from converters.net_io import save_net
from hwmodels.deploy import deploy_report
from neuroemu.cli import main


def _graph(channels: int) -> Graph:
    """conv 3x3 (``channels``), 2x2 average pool, a dense readout of every pooled cell."""
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.3, (channels, 1, 3, 3))
    dense = rng.normal(0, 0.1, (10, channels * 8 * 8))
    nodes = [
        Input("x", (1, 16, 16)),
        Conv2d("conv", ["x"], w, np.zeros(channels), (1, 1), (1, 1, 1, 1), relu=True),
        AvgPool2d("pool", ["conv"], (2, 2), (2, 2)),
        Flatten("flat", ["pool"]),
        Dense("fc", ["flat"], dense, np.zeros(10)),
    ]
    return Graph(nodes, "fc")


def _net(channels: int):
    graph = converters.normalize(_graph(channels), np.random.default_rng(1).random((8, 1, 16, 16)))
    return converters.to_loihi(graph, timesteps=8)


def test_a_network_within_the_limits_fits():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        net = _net(4)  # fc fan-in 4 * 8 * 8 * 4 = 1024
    report = deploy_report(net)
    assert report.fits and report.chips == 1
    rows = {x.layer: x for x in report.layers}
    fc = net.layers[-1].projections[0]
    assert rows["fc"].max_fan_in == np.bincount(fc.post).max() > 900
    assert rows["conv"].units >= 1 and rows["conv"].binding == "compartments"


def test_too_large_a_fan_in_is_named_at_conversion_and_in_the_report(tmp_path, capsys):
    with pytest.warns(UserWarning, match=r"fan-in above Loihi's 4096.*'fc': \d{4}"):
        net = _net(32)  # fc fan-in up to 32 * 8 * 8 * 4 = 8192
    fan_in = int(np.bincount(net.layers[-1].projections[0].post).max())
    report = deploy_report(net)
    assert not report.fits
    assert any("'fc'" in p and str(fan_in) in p and "remedy" in p for p in report.problems)
    path = save_net(net, tmp_path / "net.npz")
    main(["deploy-report", str(path), "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert "does NOT fit" in out and f"fan-in {fan_in} > 4096" in out
    assert json.loads((tmp_path / "r.json").read_text())["fits"] is False
