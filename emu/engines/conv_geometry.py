"""Convolution structure of a sparse projection: its geometry and its shared kernel, found from the synapses.

A projection from a (C, H, W) source onto an (O, OH, OW) target is a 2-d convolution with
kernel (KH, KW), stride (SY, SX) and padding (PY, PX) when every synapse links source
(c, y, x) to target (o, oy, ox) with weight ``K[c, ky, kx, o]`` where::

    ky = y + PY - SY * oy,    kx = x + PX - SX * ox,    0 <= ky < KH, 0 <= kx < KW

and every in-bounds (source, target) pair of a non-zero kernel entry is a synapse, over
the sources that have synapses (pooling that drops a last row leaves it without). The
geometry is found from the (source row, target row) pairs alone; the kernel is then read
from the weights, and the projection is accepted only if the kernel reproduces every
synapse's weight and no more. Kernel entries no synapse sets are 0: delivering them adds
nothing, so a kernel-driven delivery is exact to the explicit synapses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ConvGeometry", "candidate_geometries", "conv_kernel"]

# a kernel-driven projection may visit at most this many times its synapses (zero kernel
# entries, channel pairs without synapses); sparser ones stay explicit
MAX_VISITS_PER_SYNAPSE = 2.0
AXIS_CANDIDATES = 6


@dataclass(frozen=True)
class ConvGeometry:
    """Shapes, kernel size, stride and padding of a 2-d convolution (rows first)."""

    in_shape: tuple[int, int, int]  # C, H, W
    out_shape: tuple[int, int, int]  # O, OH, OW
    kernel: tuple[int, int]  # KH, KW
    stride: tuple[int, int]  # SY, SX
    padding: tuple[int, int]  # PY, PX

    @property
    def kernel_size(self) -> int:
        """Entries of the kernel array ``[C, KH, KW, O]``."""
        return self.in_shape[0] * self.kernel[0] * self.kernel[1] * self.out_shape[0]

    def kernel_index(self, pre: np.ndarray, post: np.ndarray) -> np.ndarray:
        """Flat index into ``K[C, KH, KW, O]`` of each (source, target) pair."""
        (_, h, w), (o_n, oh, ow) = self.in_shape, self.out_shape
        (kh, kw), (sy, sx), (py, px) = self.kernel, self.stride, self.padding
        c, y, x = pre // (h * w), pre // w % h, pre % w
        o, oy, ox = post // (oh * ow), post // ow % oh, post % ow
        ky, kx = y + py - sy * oy, x + px - sx * ox
        return ((c * kh + ky) * kw + kx) * o_n + o

    def reach(self) -> tuple[np.ndarray, np.ndarray]:
        """Whether kernel row ky (column kx) links source row y (column x) to a target row
        (column) inside the layer: boolean arrays [H, KH] and [W, KW]."""
        return tuple(
            _reach(n, o, k, s, p)
            for n, o, k, s, p in zip(
                self.in_shape[1:], self.out_shape[1:], self.kernel, self.stride, self.padding,
                strict=True,
            )
        )  # fmt: skip

    def links(self, sources: np.ndarray, entries: np.ndarray) -> int:
        """(source, target) pairs that kernel entries ``entries`` ([C, KH, KW, O] bool) link,
        counted over the source neurons ``sources``."""
        rows, cols = self.reach()
        per_offset = entries.sum(axis=3)  # [C, KH, KW]
        per_source = np.einsum("yk,xl,ckl->cyx", rows, cols, per_offset, dtype=np.int64)
        return int(per_source.ravel()[sources].sum())


def _reach(n: int, n_out: int, k: int, s: int, p: int) -> np.ndarray:
    """[n, k]: kernel offset j links source row y to an output row in 0..n_out-1."""
    t = np.arange(n)[:, None] + p - np.arange(k)[None, :]
    return (t >= 0) & (t % s == 0) & (t // s < n_out)


def _axis(src: np.ndarray, dst: np.ndarray, n: int, n_out: int) -> list[tuple[int, int, int]]:
    """(kernel, stride, padding) along one axis, best fits first.

    A stride fits when its kernel window links no more (row, output row) pairs than the
    synapses use; among fits the narrowest kernel comes first. Several strides can fit
    where the output has few rows: the ``AXIS_CANDIDATES`` best are kept.
    """
    pairs = np.unique(src.astype(np.int64) * n_out + dst)
    y, oy = pairs // n_out, pairs % n_out
    found = []
    for s in range(1, int(y.max()) + 2):
        d = y - s * oy
        if d.min() > 0:
            continue  # would need negative padding
        k, p = int(d.max() - d.min()) + 1, -int(d.min())
        excess = int(_reach(n, n_out, k, s, p).sum()) - len(pairs)
        found.append((excess, k, s, p))
    return [(k, s, p) for _, k, s, p in sorted(found)[:AXIS_CANDIDATES]]


def candidate_geometries(
    pre: np.ndarray, post: np.ndarray, in_shape: tuple, out_shape: tuple
) -> list[ConvGeometry]:
    """Convolution geometries that fit the pairs ``pre -> post`` between two (C, H, W) layers."""
    if len(in_shape) != 3 or len(out_shape) != 3 or not len(pre):
        return []
    (_, h, w), (_, oh, ow) = in_shape, out_shape
    pre, post = pre.astype(np.int64), post.astype(np.int64)
    rows = _axis(pre // w % h, post // ow % oh, h, oh)
    cols = _axis(pre % w, post % ow, w, ow)
    shapes = tuple(int(n) for n in in_shape), tuple(int(n) for n in out_shape)
    return [
        ConvGeometry(*shapes, (r[0], c[0]), (r[1], c[1]), (r[2], c[2])) for r in rows for c in cols
    ]


def conv_kernel(
    pre: np.ndarray, post: np.ndarray, weight: np.ndarray, in_shape: tuple, out_shape: tuple
) -> tuple[ConvGeometry, np.ndarray] | None:
    """(geometry, kernel ``[C, KH, KW, O]`` int64) reproducing the synapses exactly, or None.

    None as well when the convolution would visit far more kernel entries than there are
    synapses (depthwise or sparse kernels), where explicit synapses are cheaper.
    """
    pre, post, weight = (a.astype(np.int64) for a in (pre, post, weight))
    if len(np.unique(pre * int(np.prod(out_shape)) + post)) != len(pre):
        return None  # a (source, target) pair twice
    for geometry in candidate_geometries(pre, post, in_shape, out_shape):
        kernel = _kernel(geometry, pre, post, weight)
        if kernel is not None:
            return geometry, kernel
    return None


def _kernel(
    geometry: ConvGeometry, pre: np.ndarray, post: np.ndarray, weight: np.ndarray
) -> np.ndarray | None:
    """The kernel of ``geometry`` that the synapses define, if it reproduces exactly them."""
    sources = np.unique(pre)
    shape = (geometry.in_shape[0], *geometry.kernel, geometry.out_shape[0])
    if geometry.links(sources, np.ones(shape, bool)) > MAX_VISITS_PER_SYNAPSE * len(pre):
        return None
    index = geometry.kernel_index(pre, post)
    kernel = np.zeros(geometry.kernel_size, np.int64)
    kernel[index] = weight
    if not np.array_equal(kernel[index], weight):  # one kernel entry, two weights
        return None
    kernel = kernel.reshape(shape)
    if geometry.links(sources, kernel != 0) != np.count_nonzero(weight):
        return None  # a non-zero kernel entry links a pair that has no synapse
    return kernel
