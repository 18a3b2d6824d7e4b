"""Standard architectures convert for Loihi, exactly against the float graph and the numpy reference."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import converters
from converters.targets.conv_maps import as_matrix
from converters.targets.populations import populations
from converters.training import models
from emu import Emulation
from emu.engines import loihi_reference as ref

SMALL = {
    "lenet5": lambda: models.lenet5(),
    "vgg": lambda: models.vgg((4, 4)),
    "resnet": lambda: models.resnet((4, 8)),
    "mobilenet": lambda: models.mobilenet((4, 8, 8)),
}


def _random_bn(model: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.data = 0.1 * torch.randn(m.num_features)
            m.running_var.data = torch.rand(m.num_features) + 0.5
            m.bias.data = 0.1 * torch.randn(m.num_features)
    return model.eval()


def _converted(arch: str, warm_start: float, steps: int = 24):
    torch.manual_seed(1)
    model = _random_bn(SMALL[arch]())
    x = np.random.default_rng(0).random((40, 1, 28, 28)).astype(np.float32)
    graph = converters.load(model, x[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = converters.normalize(graph, x)
        net = converters.to_loihi(graph, timesteps=steps, warm_start=warm_start)
    return model, graph, net, x


@pytest.mark.parametrize("arch", sorted(SMALL))
def test_populations_reproduce_the_float_graph(arch):
    model, graph, _, x = _converted(arch, 0.0)
    np.testing.assert_allclose(
        graph.forward(x[:4]).argmax(1), model(torch.as_tensor(x[:4])).argmax(1).numpy()
    )
    values = graph.forward(x[:4], keep_all=True)
    acts = {"input": x[:4].reshape(4, -1) / graph.input.scale}
    for pop in populations(graph)[1:]:
        pre = sum(acts[src] @ as_matrix(m).T.toarray() for src, m in pop.inputs.items()) + pop.bias
        acts[pop.name] = np.maximum(pre, 0) if pop.relu else pre
        np.testing.assert_allclose(acts[pop.name], values[pop.name].reshape(4, -1), atol=1e-7)


def test_start_population_fires_once_and_charges_every_compartment():
    _, _, net, x = _converted("resnet", 0.5, steps=12)
    rec = ref.simulate(net, net.input.levels(x[:2]))
    start = net.layers[2]
    assert [layer.name for layer in net.layers[:3]] == ["clock", "clock_relay", "start"]
    np.testing.assert_array_equal(rec.counts["clock"], 12)
    np.testing.assert_array_equal(rec.counts[start.name], 1)
    fanout = np.zeros(start.size, int)
    for layer in net.layers[3:]:
        kicks = [p for p in layer.projections if p.source == start.name]
        assert len(kicks) == 1 and len(np.unique(kicks[0].post)) == len(kicks[0].post)
        fanout += np.bincount(kicks[0].pre, minlength=start.size)
    assert fanout.max() <= 4096


def test_warm_start_out_of_range_is_refused():
    _, graph, _, _ = _converted("lenet5", 0.0)
    with pytest.raises(ValueError, match="warm_start"):
        converters.to_loihi(graph, warm_start=1.5)


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(SMALL))
def test_architecture_snn_equals_the_numpy_reference(arch, cache_dir):
    _, _, net, x = _converted(arch, 0.5)
    traces = Emulation(net, "cpp_standalone", cache_dir=cache_dir).run(x[:3], np.zeros(3, int))
    expected = ref.simulate(net, net.input.levels(x[:3]))
    for layer in net.layers:
        np.testing.assert_array_equal(
            traces[f"spike_count_{layer.name}"].values, expected.counts[layer.name]
        )
    assert expected.counts[net.output.name].sum() > 0


def test_max_pooling_options_are_named_and_work():
    model = models.lenet5(pool="max").eval()
    x = np.random.default_rng(0).random((8, 1, 28, 28)).astype(np.float32)
    graph = converters.load(model, x[:1])
    with pytest.raises(ValueError, match="replace_maxpool"):
        converters.to_loihi(graph)
    averaged = converters.replace_maxpool(graph)
    assert not any(isinstance(n, converters.MaxPool2d) for n in averaged.nodes)
    assert any(isinstance(n, converters.MaxPool2d) for n in graph.nodes)
    from converters import training

    training.replace_maxpool(model)
    expected = model(torch.as_tensor(x)).detach().numpy()
    np.testing.assert_allclose(averaged.forward(x), expected, atol=1e-4)
    converters.to_loihi(averaged, timesteps=4)


def test_graph_repr_is_short_and_names_shapes_and_ranges():
    _, graph, _, _ = _converted("resnet", 0.0)
    text = repr(graph)
    assert "parameters" in text and "8x7x7" in text and "in [" in text
    assert len(text) < 3000 and "array(" not in text
