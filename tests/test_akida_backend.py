"""Brian2 emulation of Akida layers (runtime and cpp_standalone) against the numpy reference and
BrainChip's engine: fixed topologies, randomized parameters run through one build each."""

import dataclasses

import numpy as np
import pytest

from converters.chips.akida import AkidaLayer, AkidaNet, weight_range
from converters.exports.akida_export import akida_forward
from emu import Emulation
from emu.engines import RunSettings
from emu.engines.akida_brian2 import AkidaBackend
from emu.engines.akida_reference import simulate

pytest.importorskip("akida")

# cpp_standalone: the randomized conv chain below; its events and probes: runtime and tensor
DEVICES = ["runtime", "tensor"]
PROBE = {"c1": [0, 3, 7]}
# cpp_standalone compiles once per topology (the same generated code as the runtime
# device, which runs every topology): the conv chain here, the traces test below
CASES = [("runtime", t) for t in ("conv_chain", "dense_only", "valid_and_global", "v1_options")] + [
    ("cpp_standalone", "conv_chain"),
]


def _layer(name, kind, shape, kernel=None, units=None, **kw) -> AkidaLayer:
    """A layer of the given structure with placeholder parameters."""
    h, w, c = shape
    f = units
    weights = np.zeros((h * w * c, f) if kind == "dense" else (kernel, kernel, c, f), np.int8)
    if kind == "separable":
        weights, kw["pointwise"] = weights[..., :1], np.zeros((c, f), np.int8)
    act_bits = kw.pop("act_bits", 4)
    return AkidaLayer(name, kind, shape, weights, np.zeros(f, np.int32), np.ones(f, np.float32),
                      8, act_bits, **kw)  # fmt: skip


def _chain(input_shape, input_bits, specs) -> AkidaNet:
    layers, shape = [], input_shape
    for name, kind, kw in specs:
        layer = _layer(name, kind, shape, **kw)
        layers.append(layer)
        shape = layer.output_shape
    return AkidaNet(input_shape, input_bits, layers)


# Every layer kind, padding, stride, pooling and an output without activation.
TOPOLOGIES = {
    "conv_chain": lambda: _chain((9, 9, 3), 8, [
        ("in", "input_conv", dict(kernel=3, units=4, pool="max", pool_size=(2, 2),
                                  pool_stride=(2, 2))),
        ("c1", "conv", dict(kernel=3, units=5, stride=(2, 2))),
        ("c2", "conv", dict(kernel=1, units=6, padding="valid", pool="max", pool_size=(3, 3),
                            pool_stride=(2, 2))),
        ("fc", "dense", dict(units=7)),
        ("out", "dense", dict(units=3, act_bits=None)),
    ]),
    "valid_and_global": lambda: _chain((7, 6, 2), 4, [
        ("c0", "conv", dict(kernel=3, units=4, padding="valid", stride=(1, 1))),
        ("c1", "conv", dict(kernel=3, units=5, pool="global_avg", act_bits=None)),
    ]),
    # separable layers, 'same_upper', the input convolution's padding value and long strides
    "v1_options": lambda: _chain((9, 10, 3), 8, [
        ("in", "input_conv", dict(kernel=3, units=4, stride=(2, 4), padding="same_upper")),
        ("s1", "separable", dict(kernel=3, units=5, padding="same_upper", pool="max",
                                 pool_size=(3, 3), pool_stride=(2, 2))),
        ("s2", "separable", dict(kernel=1, units=6)),
        ("c3", "conv", dict(kernel=3, units=4, padding="same_upper", stride=(2, 2),
                            pool="global_avg", act_bits=None)),
    ]),
    "dense_only": lambda: _chain((2, 3, 4), 2, [
        ("d0", "dense", dict(units=9)),
        ("d1", "dense", dict(units=4)),
    ]),
}  # fmt: skip


def randomize(net: AkidaNet, rng) -> AkidaNet:
    """The same topology with random weights of random widths, thresholds, steps, act bits
    (and padding values of an input convolution)."""
    layers, bits = [], net.input_bits
    for layer in net.layers:
        wb = int(rng.choice([1, 2, 4, 8]))
        low, high = weight_range(wb)
        weights = rng.integers(low, high + 1, layer.weights.shape).astype(np.int8)
        pointwise = rng.integers(low, high + 1, layer.pointwise.shape).astype(np.int8)
        act_bits = None if layer.act_bits is None else int(rng.choice([1, 2, 4]))
        fan_in = layer.weights.size // layer.weights.shape[-1] * max(layer.pointwise.shape[0], 1)
        spread = np.sqrt(fan_in) * max(high, 1) * (2**bits - 1) / 2 + 1
        if rng.random() < 0.2:  # large weights: 20-bit saturation where the engine has it
            spread *= 50
        threshold = rng.integers(-int(spread), int(spread) + 1, layer.filters)
        act_step = np.maximum(np.floor(rng.uniform(0, spread / 4, layer.filters) * 16) / 16, 1 / 16)
        value = int(rng.integers(0, 256)) if layer.kind == "input_conv" else 0
        layers.append(
            dataclasses.replace(
                layer,
                weights=weights,
                threshold=threshold,
                act_step=act_step,
                weight_bits=wb,
                act_bits=act_bits,
                padding_value=value,
                pointwise=pointwise,
            )  # fmt: skip
        )
        bits = act_bits or 0
    return AkidaNet(net.input_shape, net.input_bits, layers, net.input_scale, net.input_name)


def _inputs(rng, net, n):
    x = rng.integers(0, 2**net.input_bits, (n, int(np.prod(net.input_shape))))
    return np.where(rng.random(x.shape) < 0.3, 0, x)


def _assert_same(ours, reference, context):
    for name in reference.counts:
        np.testing.assert_array_equal(ours.counts[name], reference.counts[name], err_msg=context)
    np.testing.assert_array_equal(ours.spikes_per_step, reference.spikes_per_step)
    np.testing.assert_array_equal(ours.saturation, reference.saturation)
    np.testing.assert_array_equal(ours.output_per_step, reference.output_per_step)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("akida_builds")


@pytest.mark.parametrize(("device", "topology"), CASES)
def test_randomized_layers_match_reference_and_akida(device, topology, cache):
    rng = np.random.default_rng(sorted(TOPOLOGIES).index(topology))
    template = TOPOLOGIES[topology]()
    probe = PROBE if topology == "conv_chain" else None
    backend = AkidaBackend(
        template, RunSettings(device, batch_size=4, probe=probe, cache_dir=cache)
    )
    draws = 20 if device == "runtime" else 40
    for k in range(draws):
        net = randomize(template, rng)
        backend.load(net)
        x = _inputs(rng, net, 3 + k % 2)
        record = backend.run_batch(x)
        _assert_same(record, simulate(net, x), f"{topology} draw {k}")
        final = akida_forward(net, x).reshape(len(x), -1)
        np.testing.assert_array_equal(record.counts[net.layers[-1].name], final)
    if device == "cpp_standalone":
        assert (backend.build.directory / "main").exists()


def test_load_refuses_another_topology(tmp_path):
    backend = AkidaBackend(TOPOLOGIES["dense_only"](), RunSettings("runtime", cache_dir=tmp_path))
    with pytest.raises(ValueError, match="same topology"):
        backend.load(TOPOLOGIES["valid_and_global"]())


@pytest.mark.parametrize("device", DEVICES)
def test_emulation_traces_events_and_potentials(device, cache):
    rng = np.random.default_rng(4)
    net = randomize(TOPOLOGIES["conv_chain"](), rng)
    samples = rng.random((5, 3, 9, 9))
    emulation = Emulation(net, device=device, batch_size=4, cache_dir=cache,
                          record_events=True, probe=PROBE)  # fmt: skip
    traces = emulation.run(samples, labels=np.arange(5))
    reference = simulate(net, net.levels(samples), probe=True)
    for name in net.layer_names:
        np.testing.assert_array_equal(traces[f"spike_count_{name}"].values, reference.counts[name])
    assert traces.sizes["step"] == 1 and traces.attrs["target"] == "akida"
    np.testing.assert_array_equal(traces["prediction"].values, reference.counts["out"].argmax(1))
    assert int(traces["event_sample"].size) == int(reference.spikes_per_step.sum())
    record = emulation.run_batch(samples[:4])
    np.testing.assert_array_equal(
        record.probes["c1.potential"], reference.probes["c1.potential"][:4][:, :, [0, 3, 7]]
    )
