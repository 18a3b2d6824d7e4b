"""NIR export and import of Loihi networks: node kinds, round trips with identical spikes, refusals."""

from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest
from trace_examples import digits_demo_net, random_net

from converters import Conv2d, Dense, Flatten, Graph, Input, normalize, to_loihi
from converters.chips.loihi import LoihiNet
from converters.exports.nir_export import NIRExportError, to_nir, write_nir
from converters.frontends.nir_import import NIRImportError, from_nir, read_nir
from converters.frontends.nir_rate import nir_to_graph
from converters.graph import AvgPool2d
from emu.engines import loihi_reference


def conv_graph(seed: int = 0) -> Graph:
    """conv 3x3 (pad 1) + ReLU, avg-pool 2, conv 3x3 (pad 1) + ReLU, flatten, dense, on 1x6x6."""
    rng = np.random.default_rng(seed)
    return Graph(
        [
            Input("input", (1, 6, 6)),
            Conv2d(
                "c1",
                ["input"],
                rng.normal(0, 0.5, (4, 1, 3, 3)),
                rng.normal(0, 0.1, 4),
                padding=(1, 1, 1, 1),
                relu=True,
            ),
            AvgPool2d("p1", ["c1"], (2, 2), (2, 2)),
            Conv2d(
                "c2",
                ["p1"],
                rng.normal(0, 0.4, (6, 4, 3, 3)),
                rng.normal(0, 0.1, 6),
                padding=(1, 1, 1, 1),
                relu=True,
            ),
            Flatten("f", ["c2"]),
            Dense("d", ["f"], rng.normal(0, 0.3, (5, 54)), rng.normal(0, 0.1, 5)),
        ],
        output="d",
    )


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).random((24, 1, 6, 6))


def conv_net(images, reset: str = "subtract", timesteps: int = 40) -> LoihiNet:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = normalize(conv_graph(), images)
    return to_loihi(graph, timesteps=timesteps, reset=reset)


def assert_same_spikes(a: LoihiNet, b: LoihiNet, images) -> None:
    ra = loihi_reference.simulate(a, a.input.levels(images))
    rb = loihi_reference.simulate(b, b.input.levels(images))
    assert list(ra.counts) == list(rb.counts)
    assert sum(int(c.sum()) for c in ra.counts.values()) > 0
    for name in ra.counts:
        np.testing.assert_array_equal(ra.counts[name], rb.counts[name], err_msg=name)


def synapses(net: LoihiNet) -> list:
    return [
        sorted(zip(p.pre.tolist(), p.post.tolist(), p.weight_eff.tolist(), strict=True))
        for layer in net.layers
        for p in layer.projections
    ]


def test_conv_net_exports_conv2d_edges_and_round_trips_through_a_file(images, tmp_path):
    net = conv_net(images)
    with pytest.warns(UserWarning, match="reset by subtraction"):
        graph = to_nir(net)
    kinds = {k: type(n).__name__ for k, n in graph.nodes.items()}
    assert kinds["input_to_c1"] == "Conv2d" and kinds["c1_to_c2"] == "Conv2d"
    assert kinds["c2_to_d"] == "Affine" and kinds["c2_flat"] == "Flatten"
    assert [kinds[k] for k in ("input", "input_neurons", "c1", "c2", "d", "output")] == [
        "Input",
        "IF",
        "IF",
        "IF",
        "IF",
        "Output",
    ]
    pooled = graph.nodes["c1_to_c2"]
    assert pooled.weight.shape == (6, 4, 6, 6) and tuple(pooled.stride) == (2, 2)
    with pytest.warns(UserWarning):
        path = write_nir(net, tmp_path / "net.nir")
    back = read_nir(path)
    assert back.timesteps == net.timesteps and back.layer_names == net.layer_names
    assert [layer.reset for layer in back.layers] == ["subtract"] * 3
    assert [layer.shape for layer in back.layers] == [layer.shape for layer in net.layers]
    assert synapses(back) == synapses(net)
    assert_same_spikes(net, back, images)


def test_dense_net_round_trip_with_affine_edges(tmp_path):
    net = random_net(seed=2, timesteps=30)
    net.layers[1].reset, net.layers[1].refractory = "zero", 3
    with pytest.warns(UserWarning):
        graph = to_nir(net)
    assert {type(n).__name__ for n in graph.nodes.values()} == {
        "Input",
        "Output",
        "IF",
        "Affine",
        "Flatten",
    }
    back = from_nir(graph)
    assert (back.layers[1].reset, back.layers[1].refractory) == ("zero", 3)
    assert_same_spikes(net, back, np.random.default_rng(0).random((16, 1, 4, 4)))


def test_what_lives_only_in_metadata_is_said_and_strict_refuses_it(images):
    with pytest.warns(UserWarning) as record:
        to_nir(conv_net(images, reset="zero"))
    (message,) = [str(w.message) for w in record]
    assert "input population resets by subtraction" in message and "layers" not in message
    with pytest.raises(NIRExportError, match=r"layers \['c1', 'c2', 'd'\] reset by subtraction"):
        to_nir(conv_net(images), strict=True)
    net = random_net()
    net.layers[1].refractory = 3
    with pytest.raises(NIRExportError, match=r"layers \['layer1'\] have refractory periods"):
        to_nir(net, strict=True)


def test_leaky_layers_become_cubalif_and_round_trip():
    net = random_net(seed=5, timesteps=40)
    rng = np.random.default_rng(6)
    for layer in net.layers:
        layer.decay_u, layer.decay_v = 1024, 512
        layer.bias_mant = rng.integers(-300, 800, layer.size).astype(np.int32)
        layer.bias_exp = 2
    with pytest.warns(UserWarning):
        graph = to_nir(net)
    node = graph.nodes["layer1"]
    assert type(node).__name__ == "CubaLIF"
    np.testing.assert_allclose(node.tau_syn, 4.0)
    np.testing.assert_allclose(node.tau_mem, 8.0)
    back = from_nir(graph)
    assert [(la.decay_u, la.decay_v) for la in back.layers] == [(1024, 512)] * 3
    for la, lb in zip(net.layers, back.layers, strict=True):
        np.testing.assert_array_equal(la.bias, lb.bias)
    assert_same_spikes(net, back, np.random.default_rng(3).random((12, 1, 4, 4)))


def test_what_nir_cannot_express_is_refused(images):
    with pytest.raises(NIRExportError, match="rate-coded input"):
        to_nir(to_loihi(normalize(conv_graph(), images), input_encoding="rate"))
    with pytest.raises(NIRExportError, match="only LoihiNets.*quantized multi-bit activation"):
        to_nir(conv_graph())
    net = random_net()
    net.layers[0].decay_u = 2048
    with pytest.raises(NIRExportError, match=r"\['layer0'\] decay their current"):
        to_nir(net)


def _foreign(weight: np.ndarray, neuron=None, **meta) -> nir.NIRGraph:
    n_in, n_out = weight.shape[1], weight.shape[0]
    ones = np.ones(n_in)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "pixels": nir.IF(r=64 * ones, v_threshold=255 * 64 * ones, v_reset=0 * ones),
        "fc": nir.Affine(weight=weight, bias=np.zeros(n_out)),
        "out": neuron
        or nir.IF(r=np.ones(n_out), v_threshold=6400 * np.ones(n_out), v_reset=np.zeros(n_out)),
        "output": nir.Output(output_type={"output": np.array([n_out])}),
    }
    edges = [("input", "pixels"), ("pixels", "fc"), ("fc", "out"), ("out", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def test_import_of_a_graph_written_by_hand():
    weight = np.array([[640.0, -1280.0, 0.0], [128.0 * 64, 64.0, 192.0]])
    net = from_nir(_foreign(weight, timesteps=20))
    assert net.layer_names == ["pixels", "out"] and net.output.reset == "zero"
    dense = np.zeros((2, 3))
    p = net.output.projections[0]
    dense[p.post, p.pre] = p.weight_eff
    np.testing.assert_array_equal(dense, weight)
    assert net.output.vth_mant == 100


def test_import_refusals_name_the_node():
    good = np.array([[640.0, 64.0]])
    with pytest.raises(NIRImportError, match="no 'timesteps' metadata"):
        from_nir(_foreign(good))
    with pytest.raises(NIRImportError, match="weights into 'out' are not on Loihi's grid"):
        from_nir(_foreign(np.array([[0.3, 1.0]])), timesteps=10)
    li = nir.LI(tau=np.ones(1), r=np.ones(1), v_leak=np.zeros(1))
    with pytest.raises(
        NIRImportError, match=r"\{'out': 'LI'\} have no Loihi counterpart.*'IF', 'LIF', 'CubaLIF'"
    ):
        from_nir(_foreign(good, li), timesteps=10)
    odd = nir.IF(r=np.ones(1), v_threshold=np.ones(1) * 100, v_reset=np.zeros(1))
    with pytest.raises(NIRImportError, match=r"v_threshold / 64 = 1.5625 is not an integer"):
        from_nir(_foreign(good, odd), timesteps=10)


@pytest.mark.slow
def test_digits_demo_network_round_trip_emulates_identical_spikes(tmp_path):
    import emu

    net, data = digits_demo_net(timesteps=48)
    with pytest.warns(UserWarning):
        back = read_nir(write_nir(net, tmp_path / "digits.nir"))
    x, y = data.x_test[:40], data.y_test[:40]
    runs = [
        emu.Emulation(n, device="cpp_standalone", cache_dir=tmp_path / "cache").run(x, y)
        for n in (net, back)
    ]
    reference = loihi_reference.simulate(net, net.input.levels(x))
    for name in net.layer_names:
        var = f"spike_count_{name}"
        np.testing.assert_array_equal(runs[0][var].values, runs[1][var].values, err_msg=name)
        np.testing.assert_array_equal(runs[1][var].values, reference.counts[name], err_msg=name)
    assert np.mean(runs[1]["prediction"].values == y) > 0.5


def test_nir_to_graph_requantizes_to_the_same_network(images):
    net = conv_net(images)
    with pytest.warns(UserWarning):
        graph = nir_to_graph(to_nir(net))
    assert [n.name for n in graph.nodes if getattr(n, "relu", False)] == ["c1", "c2", "d"]
    again = to_loihi(graph, timesteps=net.timesteps, reset="subtract")
    assert synapses(again) == synapses(net)
    assert_same_spikes(net, again, images)


def test_nir_to_graph_reads_a_float_graph_by_rate():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    w1, b1 = rng.normal(0, 1, (3, 1, 3, 3)), rng.normal(0, 0.2, 3)
    w2, b2 = rng.normal(0, 0.5, (4, 27)), rng.normal(0, 0.2, 4)
    theta1, theta2 = 2.0, 0.5
    nodes = {
        "input": nir.Input(input_type={"input": np.array([1, 6, 6])}),
        "conv": nir.Conv2d(
            input_shape=(6, 6), weight=w1, stride=1, padding=1, dilation=1, groups=1, bias=b1
        ),
        "spk1": nir.IF(
            r=np.ones((3, 6, 6)),
            v_threshold=theta1 * np.ones((3, 6, 6)),
            v_reset=np.zeros((3, 6, 6)),
        ),
        "pool": nir.SumPool2d(
            kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])
        ),
        "flat": nir.Flatten(input_type={"input": np.array([3, 3, 3])}, start_dim=0),
        "fc": nir.Affine(weight=w2, bias=b2),
        "spk2": nir.IF(r=2 * np.ones(4), v_threshold=theta2 * np.ones(4), v_reset=np.zeros(4)),
        "output": nir.Output(output_type={"output": np.array([4])}),
    }
    names = list(nodes)
    graph = nir.NIRGraph(
        nodes=nodes, edges=list(zip(names[:-1], names[1:], strict=True)), type_check=False
    )
    layer_graph = nir_to_graph(graph)
    x = rng.random((5, 1, 6, 6))
    t = torch.nn.functional
    a1 = t.relu(t.conv2d(torch.tensor(x), torch.tensor(w1), torch.tensor(b1), padding=1)) / theta1
    pooled = t.avg_pool2d(a1, 2) * 4
    expected = t.relu(2 * (pooled.flatten(1) @ torch.tensor(w2).T + torch.tensor(b2))) / theta2
    np.testing.assert_allclose(layer_graph.forward(x), expected.numpy(), rtol=1e-10, atol=1e-12)


def test_nir_to_graph_refusals():
    lif = nir.LIF(tau=np.ones(1), r=np.ones(1), v_leak=np.zeros(1), v_threshold=np.ones(1))
    with pytest.raises(NIRImportError, match=r"\{'out': 'LIF'\} have no layer-graph counterpart"):
        nir_to_graph(_foreign(np.ones((1, 2)), lif))
    n = 2
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n])}),
        "fc": nir.Affine(weight=np.eye(n), bias=np.zeros(n)),
        "s1": nir.IF(r=np.ones(n), v_threshold=np.ones(n), v_reset=np.zeros(n)),
        "s2": nir.IF(r=np.ones(n), v_threshold=np.ones(n), v_reset=np.zeros(n)),
        "output": nir.Output(output_type={"output": np.array([n])}),
    }
    edges = [("input", "fc"), ("fc", "s1"), ("s1", "s2"), ("s2", "output")]
    with pytest.raises(NIRImportError, match="IF 's2' follows Dense 's1'"):
        nir_to_graph(nir.NIRGraph(nodes=nodes, edges=edges))
