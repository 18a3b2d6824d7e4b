"""Kernel-driven convolution delivery: the geometry found from synapses, and exact standalone runs."""

from __future__ import annotations

import numpy as np
import pytest
from test_loihi_exactness import _assert_same, _probe_all, _reference

from converters.chips.loihi import LoihiInput, LoihiLayer, LoihiNet, LoihiProjection
from converters.targets.populations import conv_matrix, pool_matrix
from emu import Emulation
from emu.engines.conv_geometry import conv_kernel

IN_SHAPE = (2, 9, 11)


def _conv_out(shape, kernel, stride, padding) -> tuple[int, int]:
    """Output rows and columns; ``padding`` is (top, left, bottom, right)."""
    (top, left, bottom, right) = padding
    sides = ((top, bottom), (left, right))
    return tuple(
        (n + a + b - k) // s + 1
        for n, k, s, (a, b) in zip(shape[1:], kernel, stride, sides, strict=True)
    )


def _random_conv(rng, source: str, in_shape, pool: bool):
    """A random convolution (optionally after a sum pooling) as a projection, and its out shape."""
    shape = in_shape
    m = None
    if pool:
        k = int(rng.integers(2, 4))  # non-overlapping windows, the last row dropped where short
        m = pool_matrix(shape, (k, k), (k, k), (0, 0, 0, 0)) * (k * k)
        shape = (shape[0], *_conv_out(shape, (k, k), (k, k), (0, 0, 0, 0)))
    kernel = (
        int(rng.integers(1, min(4, shape[1]) + 1)),
        int(rng.integers(1, min(4, shape[2]) + 1)),
    )
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = tuple(int(rng.integers(0, kernel[j % 2])) for j in range(4))
    out_c = int(rng.integers(1, 5))
    mant = rng.integers(-15, 16, (out_c, shape[0], *kernel)) * 2
    mant[rng.random(mant.shape) < 0.1] = 0  # kernel entries without synapses
    c = conv_matrix(mant.astype(np.float64), shape, stride, padding)
    c = c if m is None else c @ m
    coo = c.tocoo()
    keep = np.rint(coo.data) != 0
    out_shape = (out_c, *_conv_out(shape, kernel, stride, padding))
    exp = int(rng.integers(-3, 3))
    step = max(2, 2**-exp)
    data = np.rint(coo.data[keep]).astype(np.int64) // step * step
    projection = LoihiProjection(source, coo.col[keep], coo.row[keep], data, exp)
    return projection, out_shape


def _layer(rng, name: str, shape, projections) -> LoihiLayer:
    size = int(np.prod(shape))
    return LoihiLayer(
        name,
        size,
        projections,
        vth_mant=int(rng.integers(10, 120)),
        bias_mant=rng.integers(-20, 100, size),
        bias_exp=int(rng.integers(0, 3)),
        decay_u=int(rng.integers(0, 4097)),
        decay_v=int(rng.integers(0, 4097)),
        refractory=int(rng.integers(1, 4)),
        reset=str(rng.choice(["zero", "subtract"])),
        shape=shape,
    )


def _conv_chain(rng, k: int) -> list[LoihiLayer]:
    """input -> conv -> (pool, conv), plus a dense readout and a convolution onto itself."""
    first, shape_a = _random_conv(rng, "input", IN_SHAPE, pool=False)
    a = _layer(rng, f"c{k}a", shape_a, [first])
    second, shape_b = _random_conv(rng, a.name, shape_a, pool=True)
    b = _layer(rng, f"c{k}b", shape_b, [second])
    size_b = int(np.prod(shape_b))
    pre, post = np.nonzero(rng.random((size_b, 3)) < 0.5)
    dense = LoihiProjection(b.name, pre, post, rng.integers(-60, 61, len(pre)) * 2, 0)
    readout = _layer(rng, f"c{k}r", (3,), [dense])
    same = (1, 1, 1, 1)
    self_conv = conv_matrix(
        rng.integers(-3, 4, (shape_b[0], shape_b[0], 3, 3)) * 2.0, shape_b, (1, 1), same
    )
    coo = self_conv.tocoo()
    keep = coo.data != 0
    b.projections.append(LoihiProjection(b.name, coo.col[keep], coo.row[keep], coo.data[keep], -1))
    return [a, b, readout]


def _conv_net(rng, chains: int) -> LoihiNet:
    layers = [layer for k in range(chains) for layer in _conv_chain(rng, k)]
    return LoihiNet(LoihiInput(IN_SHAPE, "rate"), layers, 30)


def _dense(geometry, kernel: np.ndarray) -> np.ndarray:
    """The [target, source] weight matrix of a convolution, written out position by position."""
    (c_n, h, w), (o_n, oh, ow) = geometry.in_shape, geometry.out_shape
    (kh, kw), (sy, sx), (py, px) = geometry.kernel, geometry.stride, geometry.padding
    m = np.zeros((o_n, oh, ow, c_n, h, w), np.int64)
    for oy, ox, ky, kx in np.ndindex(oh, ow, kh, kw):
        y, x = oy * sy + ky - py, ox * sx + kx - px
        if 0 <= y < h and 0 <= x < w:
            m[:, oy, ox, :, y, x] = kernel[:, ky, kx, :].T
    return m.reshape(o_n * oh * ow, c_n * h * w)


@pytest.mark.parametrize("seed", range(30))
def test_found_kernel_reproduces_every_synapse(seed):
    rng = np.random.default_rng(seed)
    p, out_shape = _random_conv(rng, "input", IN_SHAPE, pool=bool(seed % 2))
    geometry, kernel = conv_kernel(p.pre, p.post, p.weight_eff, IN_SHAPE, out_shape)
    expected = np.zeros((int(np.prod(out_shape)), int(np.prod(IN_SHAPE))), np.int64)
    expected[p.post, p.pre] = p.weight_eff
    silent = np.setdiff1d(np.arange(expected.shape[1]), p.pre)  # sources without synapses
    rebuilt = _dense(geometry, kernel)
    rebuilt[:, silent] = 0
    np.testing.assert_array_equal(rebuilt, expected)


def test_a_kernel_entry_with_two_weights_is_no_convolution():
    rng = np.random.default_rng(1)
    p, out_shape = _random_conv(rng, "input", IN_SHAPE, pool=False)
    weight = p.weight_eff.copy()
    weight[len(weight) // 2] += 2
    assert conv_kernel(p.pre, p.post, weight, IN_SHAPE, out_shape) is None


def test_irregular_and_dense_projections_are_no_convolution():
    rng = np.random.default_rng(0)
    pre, post = np.nonzero(rng.random((int(np.prod(IN_SHAPE)), 12)) < 0.5)
    weight = rng.integers(1, 9, len(pre))
    assert conv_kernel(pre, post, weight, IN_SHAPE, (3, 2, 2)) is None
    assert conv_kernel(pre, post, weight, IN_SHAPE, (12,)) is None


def test_standalone_conv_delivery_matches_reference(cache_dir):
    """Random geometries, pooled sources and a recurrent convolution, integer for integer."""
    rng = np.random.default_rng(5)
    net = _conv_net(rng, chains=4)
    sim = Emulation(
        net, "cpp_standalone", batch_size=3, cache_dir=cache_dir, probe=_probe_all(net),
        record_events=True,
    )  # fmt: skip
    conv = sim.backend.conv
    assert len(conv.projections) == 3 * 4  # every convolution is kernel-driven, no readout
    assert sum(len(p.members) for p in conv.projections.values()) > 0
    levels = rng.integers(0, 256, (3, net.input.size))
    expected = _reference(net, levels)
    pooled = [layer.name for layer in net.layers if layer.name.endswith("a")]
    assert all(expected.counts[name].sum() > 0 for name in pooled)  # pooled sources spike
    _assert_same(expected, sim.backend.run_batch(levels), "cpp_standalone conv delivery")
