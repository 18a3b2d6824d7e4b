"""Loihi's fan-out counted as the chip counts it: one output axon per destination core of a
compartment, not one per synapse; refused at conversion where a compartment alone needs
more than a core's 4,096, the same check in convert, run, estimate and deploy-report."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import converters
from converters.chips.loihi_limits import LoihiLimitError, check_limits, fan_outs
from converters.graph import Dense, Graph, Input
from hwmodels import loihi
from hwmodels.constants import Constants
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


def test_fan_out_counts_destination_cores_not_synapses():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        net = _convert([16, 256, 5000])  # each fc0 neuron: 5000 synapses on 20 cores of fc1
    cores = {m.layer: m for m in loihi.map_cores(net)}
    assert cores["fc1"].cores == 20 and cores["fc1"].binding == "synaptic memory"
    assert np.all(fan_outs(net)["fc0"] == 20)
    rows = {x.layer: x for x in deploy_report(net).layers}
    assert rows["fc0"].max_fan_out == 20 and deploy_report(net).fits
    assert check_limits(net).cores == sum(m.cores for m in cores.values())
    with pytest.raises(loihi.LoihiMappingError, match="'fc0': a compartment sends spikes to 20"):
        loihi.map_cores(net, constants=Constants({"loihi_max_fan_out": 19}))


def test_a_compartment_sending_to_more_cores_than_a_core_has_axons_is_refused():
    wide = 2_100_000  # 4,102 cores of two-compartment neurons fed by one neuron of fc0
    with pytest.raises(LoihiLimitError) as err:
        _convert([1, 1, wide])
    message = str(err.value)
    assert "\n" not in message and "'fc0'" in message and "4102 cores" in message
    assert "4096 output axons" in message and "remedy" in message and "'fc1'" in message
