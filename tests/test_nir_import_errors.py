"""NIR import: float graphs of other tools quantized onto Loihi's grid, and every failure named."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from converters.chips.loihi import DECAY_ONE, MANT_SHIFT
from converters.frontends.nir_import import V_UNITS, NIRImportError, from_nir
from emu.engines import loihi_reference


def chain(*stages, n_in: int = 4, **meta) -> nir.NIRGraph:
    """Input -> stages... -> Output, the stages given as (key, node)."""
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])})}
    nodes.update(dict(stages))
    keys = list(nodes)
    out = np.array([1])
    nodes["output"] = nir.Output(output_type={"output": out})
    edges = list(zip(keys, keys[1:] + ["output"], strict=True))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)


def affine(n_out: int, n_in: int, seed: int = 0, bias: float = 0.1) -> nir.Affine:
    rng = np.random.default_rng(seed)
    return nir.Affine(weight=rng.normal(0, 0.5, (n_out, n_in)), bias=np.full(n_out, bias))


def lif(n: int, tau: float = 1e-3, theta: float = 1.0, r: float = 10.0) -> nir.LIF:
    ones = np.ones(n)
    return nir.LIF(
        tau=tau * ones, r=r * ones, v_leak=0 * ones, v_threshold=theta * ones, v_reset=0 * ones
    )


def test_a_float_lif_graph_is_quantized_as_stated():
    graph = chain(("fc", affine(3, 4)), ("spk", lif(3, theta=0.5)))
    net = from_nir(graph, timesteps=10, dt=1e-4)
    (layer,) = net.layers
    assert (layer.decay_u, layer.decay_v) == (DECAY_ONE, 410)
    assert layer.vth == V_UNITS and layer.reset == "zero" and layer.name == "spk"
    weight = np.zeros((3, 4))
    p = layer.projections[0]
    weight[p.post, p.pre] = p.weight_eff
    gain = V_UNITS * (1e-4 / 1e-3) * 10 / 0.5
    expected = gain * graph.nodes["fc"].weight
    step = 2.0 ** (MANT_SHIFT + p.weight_exp)
    assert np.max(np.abs(weight - expected)) <= step
    assert np.max(np.abs(expected)) <= 254 * step
    np.testing.assert_allclose(layer.bias, gain * 0.1, atol=2.0**layer.bias_exp)
    assert net.report.clipped_weights == {"spk": 0} and not net.report.saturated


def test_the_sinabs_shaped_graph_that_crashed_reads():
    ones = np.ones(3)
    graph = chain(
        ("fc", affine(3, 4)),
        ("spk", nir.IF(r=ones, v_threshold=ones, v_reset=0 * ones)),
        ("fc2", affine(1, 3, seed=1)),
        ("out", nir.IF(r=np.ones(1), v_threshold=np.ones(1), v_reset=np.zeros(1))),
    )
    net = from_nir(graph, timesteps=20)
    assert net.layer_names == ["input", "spk", "out"] and net.input.shape == (4,)
    record = loihi_reference.simulate(net, net.input.levels(np.full((2, 4), 0.9)))
    assert record.counts["spk"].sum() > 0


def test_cuba_lif_maps_both_decays():
    n = 2
    ones = np.ones(n)
    cuba = nir.CubaLIF(
        tau_syn=2e-4 * ones,
        tau_mem=1e-3 * ones,
        r=10 * ones,
        v_leak=0 * ones,
        v_threshold=ones,
        v_reset=0 * ones,
        w_in=2 * ones,
    )
    fc = nir.Linear(weight=np.array([[0.5, -0.2, 0.1, 0.0], [0.3, 0.3, 0.3, 0.3]]))
    net = from_nir(chain(("fc", fc), ("cuba", cuba)), timesteps=5, dt=1e-4)
    assert (net.layers[0].decay_u, net.layers[0].decay_v) == (2048, 410)


def malformed():
    ones = np.ones(3)
    good_if = nir.IF(r=ones, v_threshold=ones, v_reset=0 * ones)
    no_r = nir.IF(r=ones, v_threshold=ones, v_reset=0 * ones)
    del no_r.r
    bad_input = chain(("fc", affine(3, 4)), ("spk", good_if))
    bad_input.nodes["input"].input_type = {"x": np.array([4])}
    dangling = chain(("fc", affine(3, 4)), ("spk", good_if))
    dangling.edges.append(("spk", "nowhere"))
    cuba = nir.CubaLIF(
        tau_syn=ones, tau_mem=ones, r=ones, v_leak=0 * ones, v_threshold=ones, w_in=ones
    )
    return [
        (chain(("fc", affine(3, 4)), ("spk", no_r)), {}, r"node 'spk' \(IF\) cannot be read"),
        (bad_input, {}, r"node 'input' \(Input\) cannot be read"),
        (dangling, {}, r"edges name nodes it does not have: \['nowhere'\]"),
        (chain(("fc", affine(3, 5)), ("spk", good_if)), {}, r"'fc' has weight \(3, 5\)"),
        (chain(("fc", affine(3, 4)), ("spk", lif(3))), {}, r"\['spk'\] are leaky.*pass dt="),
        (chain(("fc", affine(3, 4)), ("spk", lif(3))), {"dt": 1.0}, "dt / tau = 1000"),
        (chain(("fc", affine(3, 4)), ("spk", lif(3, theta=-1))), {"dt": 1e-4}, "threshold <= 0"),
        (chain(("fc", affine(3, 4)), ("c", cuba)), {"dt": 0.5}, "'c': a bias in its input edge"),
        (chain(("fc", affine(3, 4)), ("spk", lif(2))), {"dt": 1e-4}, "'spk': r of shape"),
    ]


@pytest.mark.parametrize("graph, kwargs, message", malformed())
def test_every_failure_is_an_import_error_naming_the_node(graph, kwargs, message):
    with pytest.raises(NIRImportError, match=message):
        from_nir(graph, timesteps=5, **kwargs)
