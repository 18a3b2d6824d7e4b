"""Loihi's fan-out counted as the chip counts it: one output axon per (compartment,
destination core), at most 4,096 per core; spread where a placement holds it, refused at
conversion where none does, the same check in convert, run, estimate and deploy-report."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import converters
from converters.chips.loihi_limits import LoihiLimitError, check_limits, fan_outs
from converters.graph import Dense, Graph, Input
from hwmodels import loihi
from hwmodels.deploy import deploy_report


def _dense_graph(widths: list[int]) -> Graph:
    rng = np.random.default_rng(0)
    nodes, prev = [Input("x", (widths[0],))], "x"
    for k, (n_in, n_out) in enumerate(zip(widths, widths[1:], strict=False)):
        w = rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in))
        nodes.append(Dense(f"fc{k}", [prev], w, np.zeros(n_out), relu=k < len(widths) - 2))
        prev = f"fc{k}"
    return Graph(nodes, prev)


def _convert(widths: list[int]):
    graph = _dense_graph(widths)
    graph = converters.normalize(graph, np.random.default_rng(1).random((8, widths[0])))
    return converters.to_loihi(graph, timesteps=8, input_encoding="rate")


def test_a_layer_sending_to_many_cores_is_spread_over_more_cores():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        net = _convert([16, 256, 5000])  # fc1: 2.56 MB of synapses on 20 cores
    cores = {m.layer: m for m in loihi.map_cores(net)}
    assert cores["fc1"].cores == 20
    axons = fan_outs(net)["fc0"]
    assert np.all(axons == 20)  # every fc0 neuron sends once to each core of fc1
    assert cores["fc0"].cores == 2 and cores["fc0"].binding == "output axons"  # 5120 > 4096
    rows = {x.layer: x for x in deploy_report(net).layers}
    assert rows["fc0"].units == 2 and rows["fc0"].max_fan_out == 20
    assert rows["fc0"].binding == "output axons"
    assert check_limits(net).cores == sum(m.cores for m in cores.values())


def test_a_compartment_sending_to_more_cores_than_a_core_has_axons_is_refused():
    wide = 2_100_000  # 4,102 cores of two-compartment neurons fed by one neuron of fc0
    with pytest.raises(LoihiLimitError) as err:
        _convert([1, 1, wide])
    message = str(err.value)
    assert "\n" not in message and "'fc0'" in message and "4102 cores" in message
    assert "4096 output axons" in message and "remedy" in message and "'fc1'" in message
