"""Float graphs (residual, depthwise-separable) to Akida 2.0: conversion, engine agreement, mapping."""

import numpy as np
import pytest

import converters
from converters.exports.akida_v2_export import akida_v2_forward
from converters.graph import Add
from converters.targets.akida import to_akida
from converters.targets.akida_v2 import AkidaV2MappingError
from converters.training.akida_v2_models import ARCHITECTURES
from converters.training.datasets import DEFAULT_MNIST_DIR, mnist
from emu.crosscheck import akida_v2_mnist
from emu.engines.akida_v2_tensor import simulate
from hwmodels.akida_v2_mapping import map_v2_network
from hwmodels.constants import Constants

akida = pytest.importorskip("akida")
torch = pytest.importorskip("torch")


def _images(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 1, 28, 28)) * (rng.random((n, 1, 28, 28)) < 0.3)
    return x.astype(np.float32)


@pytest.fixture(scope="module", params=["resnet", "mobilenet"])
def converted(request):
    torch.manual_seed(0)
    model = ARCHITECTURES[request.param]().eval()
    x = _images(200)
    graph = converters.load(model, x[:1])
    return request.param, graph, to_akida(graph, x[:100], version="v2"), x[100:]


def test_conversion_keeps_the_graph_and_matches_the_engine(converted):
    arch, graph, net, x = converted
    kinds = {layer.kind for layer in net.layers}
    assert ("add" in kinds) == (arch == "resnet") and ("depthwise" in kinds) == (arch != "resnet")
    levels = net.levels(x)
    ours = simulate(net, levels).counts[net.layers[-1].name]
    np.testing.assert_array_equal(ours, akida_v2_forward(net, levels).reshape(len(x), -1))
    # the 8-bit network follows the float one: logits correlate and, scaled, stay within a
    # few percent of the float logits (untrained networks may tie classes, so no argmax test)
    logits = graph.forward(x)
    assert np.corrcoef(logits.ravel(), ours.ravel())[0, 1] > 0.9
    scale = (logits * ours).sum() / (ours * ours).sum()
    assert np.abs(logits - scale * ours).max() < 0.05 * np.abs(logits).max()


def test_add_with_relu_is_refused_in_one_line(converted):
    arch, graph, _, x = converted
    if arch != "resnet":
        pytest.skip("the ResNet holds the Adds")
    add = next(node for node in graph.nodes if isinstance(node, Add))
    add.relu = True
    try:
        with pytest.raises(AkidaV2MappingError, match="a ReLU after the Add") as err:
            to_akida(graph, x[:20], version="v2")
    finally:
        add.relu = False
    assert "\n" not in str(err.value)


def test_version_is_checked():
    with pytest.raises(ValueError, match="version must be 'v1' or 'v2'"):
        to_akida(None, None, version="v3")


def test_mapper_places_v2_networks(converted):
    _, _, net, _ = converted
    mapping = map_v2_network(net, "SixNodesIPv2")
    assert set(mapping.nps) == {layer.name for layer in net.layers}
    assert any(mapping.hardware.values()) and mapping.sequences >= 1
    for name, on_chip in mapping.hardware.items():
        assert (mapping.nps[name] > 0) == on_chip
    assert "not validated on silicon" in mapping.source


@pytest.mark.parametrize("device", ["AKD1500", "PicoIP"])
def test_devices_that_cannot_hold_v2_are_refused(converted, device):
    with pytest.raises(ValueError, match=f"cannot map an Akida 2.0 graph on '{device}'"):
        map_v2_network(converted[2], device)


@pytest.mark.slow
@pytest.mark.skipif(not DEFAULT_MNIST_DIR.exists(), reason="MNIST idx files not present")
@pytest.mark.parametrize("arch", ["resnet", "mobilenet"])
def test_mnist_networks_trained_converted_and_emulated(arch):
    torch.set_num_threads(1)
    data = mnist(n_train=6000)
    result = akida_v2_mnist.run(arch, data, epochs=4, test=2000)
    assert result["equal"] and result["emulated"] == result["engine"]
    assert result["float"] > 0.9 and abs(result["emulated"] - result["float"]) <= 0.01


def test_v2_estimate_states_it_is_not_validated(converted, tmp_path):
    from emu import Emulation
    from hwmodels.akida_v2 import estimate_v2, v2_synaptic_ops

    arch, _, net, x = converted
    traces = Emulation(net, device="tensor", batch_size=64, cache_dir=tmp_path).run(x[:40])
    est = estimate_v2(net, traces)
    assert est.platform == "akida_v2" and "NOT validated" in est.model
    assert any("not validated against silicon" in a for a in est.assumptions)
    assert est.energy > 0 and est.latency > 0
    low, high = est.bounds["energy"]
    assert low <= est.energy <= high and low < high
    assert est.details["mapping"].startswith("akida mapper on a virtual SixNodesIPv2")
    used = est.constants["akida_v2_synop_energy"]
    assert used["source"].startswith("assumption: no Akida 2.0 measurement")
    assert not any(name.startswith("akida_synop") for name in est.constants)
    dearer = estimate_v2(net, traces, constants=Constants({"akida_v2_synop_energy": 1e-9}))
    assert dearer.energy > est.energy
    dense = net.layers[-1]
    levels = np.random.default_rng(0).integers(-3, 4, (5, *dense.input_shapes[0]))
    expected = (levels.reshape(5, -1) != 0) @ (dense.weights != 0).sum(axis=1)
    np.testing.assert_array_equal(v2_synaptic_ops(dense, [levels]), expected)
