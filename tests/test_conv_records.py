"""Convolution records (LoihiConv): conversion emits them, and every device that reads them
emulates integer for integer what their explicit synapses emulate."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from test_conv_delivery import _layer
from test_loihi_exactness import _assert_same, _probe_all, _reference

import converters
from converters.chips.files import NetworkFormatError, load_net, save_net
from converters.chips.loihi import LoihiInput, LoihiNet, LoihiProjection
from converters.chips.loihi_conv import LoihiConv
from converters.chips.loihi_placement import reached_sources
from converters.graph import Add, AvgPool2d, Conv2d, Dense, Flatten, Graph, Input
from converters.targets.conv_maps import conv_matrix, pool_matrix
from emu import Emulation
from emu.traces.records import concatenate


def explicit(net: LoihiNet) -> LoihiNet:
    """``net`` with every convolution record written out as its synapses."""
    layers = []
    for layer in net.layers:
        projections = [
            LoihiProjection(p.source, *p.synapses(), p.weight_exp)
            if isinstance(p, LoihiConv)
            else p
            for p in layer.projections
        ]
        layers.append(dataclasses.replace(layer, projections=projections))
    return LoihiNet(net.input, layers, net.timesteps, net.report)


def _random_record(rng, source: str, source_shape, dilate: bool = True) -> LoihiConv:
    """A random record: pooling, kernel, stride, padding, dilation and groups."""
    c = source_shape[0]
    groups = int(rng.choice([g for g in (1, 2) if c % g == 0]))
    pool = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    h, w = source_shape[1] // pool[0], source_shape[2] // pool[1]
    dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if dilate else (1, 1)
    kernel = [int(rng.integers(1, 4)) for _ in range(2)]
    kernel = [
        max(1, min(k, (n - 1) // d + 1)) for k, n, d in zip(kernel, (h, w), dilation, strict=True)
    ]
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = tuple(int(rng.integers(0, k)) for k in kernel)
    o = groups * int(rng.integers(1, 3))
    out = [
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, p, d, k, s in zip((h, w), padding, dilation, kernel, stride, strict=True)
    ]
    mant = rng.integers(-60, 61, (o, c // groups, *kernel)) * 2
    mant[rng.random(mant.shape) < 0.15] = 0
    return LoihiConv(
        source, mant, int(rng.integers(-2, 3)), source_shape, (o, *out), stride, padding,
        dilation, groups, pool,
    )  # fmt: skip


def _record_net(rng, chains: int = 3) -> LoihiNet:
    """Chains input -> conv record -> conv record (pooled) -> conv record onto itself."""
    in_shape = (2, 9, 10)
    layers = []
    for k in range(chains):
        first = _random_record(rng, "input", in_shape)
        a = _layer(rng, f"r{k}a", first.out_shape, [first])
        second = _random_record(rng, a.name, a.shape)
        b = _layer(rng, f"r{k}b", second.out_shape, [second])
        same = LoihiConv(
            b.name, rng.integers(-8, 9, (b.shape[0], b.shape[0], 3, 3)) * 2, -1, b.shape,
            b.shape, padding=(1, 1),
        )  # fmt: skip
        b.projections.append(same)
        layers += [a, b]
    return LoihiNet(LoihiInput(in_shape, "rate"), layers, 25)


def test_record_synapses_equal_the_composed_matrices():
    """Synapses, fan-in and fan-out of records equal conv_matrix composed with pool_matrix."""
    rng = np.random.default_rng(0)
    for _ in range(100):
        shape = (2, int(rng.integers(4, 12)), int(rng.integers(4, 12)))
        r = _random_record(rng, "a", shape, dilate=False)
        if min(r.out_shape[1:]) < 1:
            continue
        (oh, ow), (h, w) = r.out_shape[1:], r.in_shape[1:]
        kh, kw = r.kernel_mant.shape[2:]
        bottom = max(0, (oh - 1) * r.stride[0] + kh - h - r.padding[0])
        right = max(0, (ow - 1) * r.stride[1] + kw - w - r.padding[1])
        m = conv_matrix(
            r.kernel_mant.astype(float), r.in_shape, r.stride, (*r.padding, bottom, right),
            r.groups,
        )  # fmt: skip
        if r.pool != (1, 1):
            m = m @ pool_matrix(r.source_shape, r.pool, r.pool, (0, 0, 0, 0)) * r.pool_area
        m = sp.csr_matrix(np.rint(m.toarray()))
        m.eliminate_zeros()
        pre, post, mant = r.synapses()
        got = sp.csr_matrix((mant.astype(float), (post, pre)), shape=m.shape)
        assert len(set(zip(pre.tolist(), post.tolist(), strict=True))) == len(pre)
        assert abs(got - m).max() == 0
        np.testing.assert_array_equal(r.fan_in(), np.bincount(post, minlength=m.shape[0]))
        np.testing.assert_array_equal(r.fan_out(), np.bincount(pre, minlength=m.shape[1]))


def test_dilated_record_is_the_kernel_with_zero_rows():
    """Dilation (d) equals the kernel written out with d - 1 zero rows and columns between."""
    rng = np.random.default_rng(1)
    mant = rng.integers(-50, 51, (3, 2, 2, 3)) * 2
    dilated = LoihiConv("a", mant, 0, (2, 9, 11), (3, 4, 5), (2, 2), (1, 2), (3, 2))
    spread = np.zeros((3, 2, 4, 5), np.int64)
    spread[:, :, ::3, ::2] = mant
    plain = LoihiConv("a", spread, 0, (2, 9, 11), (3, 4, 5), (2, 2), (1, 2))

    def triples(record):
        return sorted(zip(*[a.tolist() for a in record.synapses()], strict=True))

    assert triples(dilated) == triples(plain)


@pytest.mark.parametrize("encoding", ["bias", "rate"])
def test_records_emulate_as_their_synapses(encoding, cache_dir):
    """Reference and native engine on records equal the reference on explicit synapses."""
    rng = np.random.default_rng([7, len(encoding)])
    net = _record_net(rng)
    net = LoihiNet(LoihiInput(net.input.shape, encoding), net.layers, net.timesteps)
    levels = rng.integers(0, 256, (4, net.input.size))
    expected = _reference(explicit(net), levels)
    assert sum(expected.counts[layer.name].sum() for layer in net.layers) > 0
    _assert_same(expected, _reference(net, levels), "reference on records")
    sim = Emulation(
        net, "native", batch_size=2, cache_dir=cache_dir, probe=_probe_all(net),
        record_events=True,
    )  # fmt: skip
    assert "conv" in sim.backend.plan.kinds
    records = [sim.backend.run_batch(levels[:2], 0), sim.backend.run_batch(levels[2:], 2)]
    _assert_same(expected, concatenate(records), "native on records")


@pytest.mark.slow
def test_standalone_records_emulate_as_their_synapses(cache_dir):
    """cpp_standalone's kernel delivery reads the records: equal to the explicit reference."""
    rng = np.random.default_rng(11)
    net = _record_net(rng, chains=2)
    sim = Emulation(
        net, "cpp_standalone", batch_size=3, cache_dir=cache_dir, probe=_probe_all(net),
        record_events=True,
    )  # fmt: skip
    assert sim.backend.conv is not None
    levels = rng.integers(0, 256, (3, net.input.size))
    _assert_same(_reference(explicit(net), levels), sim.backend.run_batch(levels), "standalone")


def _conv(rng, name, inputs, c_in, c_out, k=3, stride=1, pad=1, groups=1, relu=True):
    weight = rng.normal(0, 0.4, (c_out, c_in // groups, k, k))
    return Conv2d(
        name, inputs, weight, rng.normal(0, 0.05, c_out), (stride, stride), (pad,) * 4,
        groups, relu,
    )  # fmt: skip


def _kinds_graph(rng) -> Graph:
    """Plain, strided, grouped and pooled convolutions, a residual block with a 1x1 strided
    downsample, average pooling into a dense readout."""
    nodes = [
        Input("x", (2, 12, 12)),
        _conv(rng, "c1", ["x"], 2, 4),
        _conv(rng, "c2", ["c1"], 4, 4, stride=2, pad=0),
        _conv(rng, "c3", ["c2"], 4, 4, groups=2),
        AvgPool2d("p1", ["c3"], (2, 2), (2, 2)),
        _conv(rng, "c4", ["p1"], 4, 6),
        _conv(rng, "c4b", ["c4"], 6, 6),
        _conv(rng, "c5", ["c4b"], 6, 6, relu=False),
        _conv(rng, "down", ["c4"], 6, 6, k=1, stride=1, pad=0, relu=False),
        Add("add", ["c5", "down"], relu=True),
        _conv(rng, "c6", ["add"], 6, 6, k=1, stride=2, pad=0),
        AvgPool2d("p2", ["c6"], (1, 1), (1, 1)),
        Flatten("flat", ["p2"]),
        Dense("fc", ["flat"], rng.normal(0, 0.3, (5, 6 * 1 * 1)), np.zeros(5)),
    ]
    return Graph(nodes, "fc")


def test_conversion_emits_records_for_every_conv_kind(tmp_path, cache_dir):
    """Each convolution kind converts to records; records and their synapses emulate alike,
    on the reference and the native engine; the file round-trips them."""
    rng = np.random.default_rng(3)
    graph = _kinds_graph(rng)
    x = rng.random((16, 2, 12, 12))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # normalization and saturation notes
        graph = converters.normalize(graph, x)
        net = converters.to_loihi(graph, timesteps=24, warm_start=0.5)
    kinds = {layer.name: [type(p).__name__ for p in layer.projections] for layer in net.layers}
    for name in ("c1", "c2", "c3", "c4", "c6"):
        assert kinds[name][0] == "LoihiConv", kinds
    assert kinds["add"][:2] == ["LoihiConv", "LoihiConv"], kinds
    assert net.layers[[layer.name for layer in net.layers].index("c4")].projections[0].pool == (
        2,
        2,
    )
    loaded = load_net(save_net(net, tmp_path / "net.npz"))
    assert loaded.digest() == net.digest()
    levels = net.input.levels(x[:3])
    expected = _reference(explicit(net), levels)
    assert all(expected.counts[name].sum() > 0 for name in ("c4", "add", "fc"))
    _assert_same(expected, _reference(loaded, levels), "reference")
    sim = Emulation(loaded, "native", batch_size=3, cache_dir=cache_dir, probe=_probe_all(net))
    _assert_same(expected, sim.backend.run_batch(levels), "native")


def test_a_record_that_does_not_fit_its_layer_is_refused():
    rng = np.random.default_rng(2)
    record = _random_record(rng, "input", (2, 8, 8))
    with pytest.raises(ValueError, match="convolution's output"):
        _layer(rng, "a", (record.out_shape[0] + 1, *record.out_shape[1:]), [record])


@pytest.mark.slow
def test_runtime_device_writes_records_out_as_synapses(cache_dir):
    """Brian2's runtime device has no kernel delivery: it runs the records' synapses, equal
    to the reference."""
    rng = np.random.default_rng(13)
    net = _record_net(rng, chains=1)
    sim = Emulation(net, "runtime", batch_size=2, cache_dir=cache_dir, probe=_probe_all(net))
    levels = rng.integers(0, 256, (2, net.input.size))
    _assert_same(_reference(explicit(net), levels), sim.backend.run_batch(levels), "runtime")


def test_a_record_field_out_of_range_is_refused_on_load(tmp_path):
    """A damaged record in a file is refused naming the field and the accepted range."""
    net = _record_net(np.random.default_rng(4), chains=1)
    path = save_net(net, tmp_path / "net.npz")
    with np.load(path) as archive:
        arrays = dict(archive)
    key = "net.layers[0].projections[0].kernel_mant"
    arrays[key] = arrays[key].astype(np.int32) * 0 + 999
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(NetworkFormatError, match=r"kernel_mant = 999 is out of range"):
        load_net(tmp_path / "bad.npz")


def test_spike_train_input_scales_the_records():
    """With spike-train input the input's records carry the weights divided by the input
    scale (spike trains arrive at their own rate), and emulate as their synapses."""
    rng = np.random.default_rng(6)
    graph = _kinds_graph(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = converters.normalize(graph, 3 * rng.random((16, 2, 12, 12)))
        net = converters.to_loihi(graph, timesteps=20, input_encoding="spikes")
        bias = converters.to_loihi(graph, timesteps=20)
    first, reference = net.layers[0].projections[0], bias.layers[0].projections[0]
    assert isinstance(first, LoihiConv) and graph.input.scale > 1
    peak, unscaled = (np.abs(p.kernel_eff()).max() for p in (first, reference))
    assert peak * graph.input.scale == pytest.approx(unscaled, rel=0.05)
    raster = rng.random((2, net.timesteps, net.input.size)) < 0.3
    _assert_same(_reference(explicit(net), raster), _reference(net, raster), "spike input")


def test_routes_count_records_from_their_geometry():
    """The source neurons with a synapse into a block of targets, from each record's
    geometry, equal those of its explicit synapses, for random blocks of targets."""
    rng = np.random.default_rng(11)
    for _ in range(20):
        record = _random_record(rng, "a", (4, 12, 12))
        cuts = np.sort(rng.integers(0, record.target_size, 2))
        start, stop = int(cuts[0]), int(cuts[1]) + 1
        pre, post, _ = record.synapses()
        explicit_p = LoihiProjection("a", pre, post, np.ones(len(pre), np.int16))
        got = np.sort(reached_sources(record, start, stop))
        want = reached_sources(explicit_p, start, stop)
        np.testing.assert_array_equal(got, want)
