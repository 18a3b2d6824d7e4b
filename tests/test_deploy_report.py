"""The deployment report (API and ``neuroemu deploy-report``) and the fan-in split of conversion."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
from test_cli import _fails

import converters
import emu
from converters.chips.files import load_net, save_net
from converters.chips.loihi import LoihiInput, LoihiLayer, LoihiNet, LoihiProjection
from converters.chips.loihi_limits import (
    LoihiLimitError,
    LoihiLimits,
    check_limits,
    enforce_limits,
)
from converters.chips.loihi_split import FanInSplitError
from converters.graph import AvgPool2d, Conv2d, Dense, Flatten, Graph, Input
from hwmodels import loihi
from hwmodels.deploy import deploy_report
from neuroemu.commands import main


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


def test_a_fan_in_above_the_limit_is_split_and_costed(tmp_path, capsys):
    net = _net(32)  # fc fan-in up to 32 * 8 * 8 * 4 = 8192
    fc = net.layers[-1]
    fan_in = int(np.bincount(fc.projections[0].post).max())
    assert fan_in > 4096 and fc.fan_in_split == 2 and net.layers[0].fan_in_split == 1
    assert fc.compartments_per_neuron == 2 + 2  # soft-reset soma and two auxiliaries
    report = deploy_report(net)
    assert report.fits
    rows = {x.layer: x for x in report.layers}
    assert rows["fc"].max_fan_in == -(-fan_in // 2) <= 4096 and rows["fc"].fan_in_split == 2
    mapping = {m.layer: m for m in loihi.map_cores(net)}["fc"]
    assert mapping.compartments.sum() == fc.size * 4
    path = save_net(net, tmp_path / "net.npz")
    assert load_net(path).layers[-1].fan_in_split == 2
    main(["deploy-report", str(path), "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert "fits" in out and "NOT" not in out
    x = np.random.default_rng(2).random((2, 1, 16, 16))
    traces = emu.Emulation(net, device="native").run(x)
    counts = {le.name: le.counts for le in loihi.estimate(net, traces).layers}["fc"]
    updates = counts["neuron_updates_active"] + counts["neuron_updates_inactive"]
    assert updates == fc.size * 4 * net.timesteps  # the join's compartments updated too


def test_a_split_whose_slice_could_wrap_is_refused_in_one_line():
    graph = converters.normalize(_graph(32), np.random.default_rng(1).random((8, 1, 16, 16)))
    with pytest.raises(FanInSplitError) as err:
        converters.to_loihi(graph, timesteps=8, threshold_mant=2**17 - 1)
    message = str(err.value)
    assert "\n" not in message and "'fc'" in message and "24 bits" in message
    assert "remedy" in message


def test_old_files_load_without_a_split(tmp_path):
    net = _net(4)
    path = save_net(net, tmp_path / "net.npz")
    with np.load(path) as archive:
        arrays = dict(archive)
    description = json.loads(str(arrays.pop("__description__")))
    for layer in description["net"]["fields"]["layers"]:
        del layer["fields"]["fan_in_split"]
    np.savez(path, __description__=np.array(json.dumps(description)), **arrays)
    assert all(layer.fan_in_split == 1 for layer in load_net(path).layers)


def _dense_net(n_in: int, n_out: int, split: int = 1) -> LoihiNet:
    """Every input onto every neuron of one layer, weight 1."""
    pre, post = np.divmod(np.arange(n_in * n_out), n_out)
    projection = LoihiProjection("input", pre, post, np.ones(n_in * n_out, np.int16))
    layer = LoihiLayer("dense", n_out, [projection], 100, fan_in_split=split)
    return LoihiNet(LoihiInput((n_in,)), [layer], 4)


@pytest.mark.parametrize(
    ("limits", "split", "message"),
    [
        (LoihiLimits(fan_in=4), 1, r"'dense': a compartment has fan-in 6 \(split 1\)"),
        (
            LoihiLimits(fan_out=1, compartments_per_core=2),
            1,
            r"'input': a compartment sends spikes to 2 cores",
        ),
        (LoihiLimits(compartments_per_core=3), 3, r"a neuron takes 4 compartments"),
        (LoihiLimits(synaptic_memory=8), 1, r"one neuron's synapses take 12 bytes"),
        (LoihiLimits(compartments_per_core=2, cores_per_chip=1, chips=2), 1, r"8 cores on 8 chips"),
    ],
)
def test_every_loihi_limit_is_refused_in_one_line(limits, split, message):
    check = check_limits(_dense_net(6, 3, split), limits)
    (error,) = check.errors
    assert "\n" not in error and re.search(message, error) and "remedy" in error
    with pytest.raises(LoihiLimitError, match=message):
        enforce_limits(_dense_net(6, 3, split), limits)


def test_spreading_over_chips_is_noted_not_refused():
    with pytest.warns(UserWarning, match=r"spread over 8 Loihi chips.*remedy"):
        enforce_limits(_dense_net(6, 3), LoihiLimits(compartments_per_core=2, cores_per_chip=1))
    assert check_limits(_dense_net(6, 3)).notes == []


def test_convert_run_and_estimate_refuse_what_loihi_cannot_hold(tmp_path, capsys):
    net = _dense_net(4097 * 2, 1, split=2)  # 2 x 4097 synapses per compartment
    with pytest.raises(LoihiLimitError, match="fan-in 4097"):
        enforce_limits(net)
    path = save_net(net, tmp_path / "net.npz")
    data = tmp_path / "x.npy"
    np.save(data, np.zeros((1, 4097 * 2)))
    err = _fails(["run", str(path), "--data", str(data), "--device", "native"], capsys)
    assert "fan-in 4097 (split 2), above Loihi's 4096" in err
    with pytest.raises(loihi.LoihiMappingError, match="fan-in 4097"):
        loihi.map_cores(net)
