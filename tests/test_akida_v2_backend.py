"""Brian2 emulation of Akida 2.0 graphs (runtime and cpp_standalone) against the numpy reference
and BrainChip's engine, on randomized engine models."""

import numpy as np
import pytest

from converters.frontends.akida_v2_import import from_akida_v2_model
from emu.crosscheck import akida_v2_cases as cases
from emu.engines import RunSettings
from emu.engines.akida_v2_brian2 import AkidaV2Backend
from emu.engines.akida_v2_reference import simulate

akida = pytest.importorskip("akida")

COVER = ("input_conv", "conv", "depthwise", "dense", "add", "concat", "max", "global_avg")


def _features(net) -> set[str]:
    return {layer.kind for layer in net.layers} | {layer.pool for layer in net.layers}


def _draw(seed: int, count: int, blocks=(1, 4)):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        model = cases.random_engine_model(akida, rng, int(rng.integers(*blocks)))
        if model is not None:
            out.append((model, from_akida_v2_model(model), cases.engine_inputs(rng, model, 3)))
    return out


def _covering_model(rng):
    """The smallest engine graph holding every layer kind and pooling (one build compiles one
    C++ file per Brian2 object, so it has seven layers on a 6x6 input): an input convolution
    with max pooling, a depthwise convolution added to it, a convolution concatenated with the
    sum, a convolution with global average pooling, a dense layer."""
    relu = akida.ActivationType.ReLU
    model = akida.Model()
    first = akida.InputConv2D((6, 6, 1), 2, 3, pool_type=akida.PoolType.Max, pool_size=2,
                              pool_stride=2, output_bits=8, name="in")  # fmt: skip
    model.add(first)
    layers = {
        "dw": (akida.DepthwiseConv2D(3, name="dw", activation=relu, output_bits=8), ["in"]),
        "add": (akida.Add(name="add", output_bits=8), ["in", "dw"]),
        "conv": (akida.Conv2D(2, 1, name="conv", output_bits=8), ["add"]),
        "cat": (akida.Concatenate(name="cat"), ["add", "conv"]),
        "gap": (
            akida.Conv2D(3, 3, name="gap", pool_type=akida.PoolType.Average, output_bits=8),
            ["cat"],
        ),  # fmt: skip
        "fc": (akida.Dense1D(2, name="fc", output_bits=8), ["gap"]),
    }
    built = {"in": first}
    for name, (layer, inbounds) in layers.items():
        model.add(layer, inbound_layers=[built[i] for i in inbounds])
        built[name] = layer
    for layer in built.values():
        kind = layer.parameters.layer_type.name
        if kind != "Concatenate":
            cases.randomize_layer(layer, rng, 255 if layer is first else 127)
        if kind not in ("Add", "Concatenate"):
            cases.calibrate_layer(model, layer, rng)
    return model


def _check(backend_device: str, draws, cache) -> None:
    for model, net, x in draws:
        backend = AkidaV2Backend(net, RunSettings(backend_device, batch_size=4, cache_dir=cache))
        record = backend.run_batch(x.reshape(len(x), -1).astype(np.int64))
        reference = simulate(net, x)
        for name in net.layer_names:
            np.testing.assert_array_equal(record.counts[name], reference.counts[name], name)
        np.testing.assert_array_equal(record.spikes_per_step, reference.spikes_per_step)
        theirs = np.asarray(model.forward(x)).astype(np.int64).reshape(len(x), -1)
        np.testing.assert_array_equal(record.counts[net.layers[-1].name], theirs)


def test_runtime_matches_reference_and_engine(tmp_path):
    draws = _draw(41, 12)
    assert set(COVER) <= set().union(*(_features(net) for _, net, _ in draws))
    _check("runtime", draws, tmp_path)


@pytest.mark.slow
def test_cpp_standalone_covering_graph_matches_the_engine(tmp_path):
    """One build of a graph with every layer kind, three parameter draws through it."""
    rng = np.random.default_rng(42)
    backend = None
    for _ in range(3):
        model = _covering_model(rng)
        net = from_akida_v2_model(model)
        assert set(COVER) <= _features(net)
        if backend is None:
            settings = RunSettings("cpp_standalone", batch_size=4, cache_dir=tmp_path)
            backend = AkidaV2Backend(net, settings)
        backend.load(net)
        x = cases.engine_inputs(rng, model, 4)
        record = backend.run_batch(x.reshape(len(x), -1).astype(np.int64))
        reference = simulate(net, x)
        for name in net.layer_names:
            np.testing.assert_array_equal(record.counts[name], reference.counts[name], name)
        theirs = np.asarray(model.forward(x)).astype(np.int64).reshape(len(x), -1)
        np.testing.assert_array_equal(record.counts["fc"], theirs)
    assert (backend.build.directory / "main").exists()


def test_runtime_covering_graph_matches_the_engine(tmp_path):
    model = _covering_model(np.random.default_rng(7))
    _check(
        "runtime",
        [
            (
                model,
                from_akida_v2_model(model),
                cases.engine_inputs(np.random.default_rng(8), model, 3),
            )
        ],
        tmp_path,
    )


def test_probes_hold_the_potentials(tmp_path):
    _, net, x = _draw(43, 1, blocks=(2, 3))[0]
    name = net.layers[-1].name
    settings = RunSettings("runtime", batch_size=4, cache_dir=tmp_path, probe={name: [0]})
    record = AkidaV2Backend(net, settings).run_batch(x.reshape(len(x), -1).astype(np.int64))
    reference = simulate(net, x, probe=True)
    np.testing.assert_array_equal(
        record.probes[f"{name}.potential"], reference.probes[f"{name}.potential"][:, :, [0]]
    )


@pytest.mark.parametrize("device", ["runtime", "tensor"])
def test_emulation_traces_of_a_v2_graph(device, tmp_path):
    from emu import Emulation

    _, net, _ = _draw(44, 1, blocks=(2, 4))[0]
    rng = np.random.default_rng(0)
    h, w, c = net.input_shape
    samples = rng.random((5, c, h, w))
    traces = Emulation(net, device=device, batch_size=4, cache_dir=tmp_path,
                       record_events=True).run(samples, labels=np.arange(5))  # fmt: skip
    reference = simulate(net, net.levels(samples))
    for name in net.layer_names:
        np.testing.assert_array_equal(traces[f"spike_count_{name}"].values, reference.counts[name])
    assert traces.attrs["target"] == "akida_v2"
    last = reference.counts[net.layers[-1].name]
    np.testing.assert_array_equal(traces["prediction"].values, last.argmax(1))
    assert int(traces["event_sample"].size) == int(reference.spikes_per_step.sum())
