"""Linear maps between populations kept as kernels and geometry: convolutions, optionally of
a non-overlapping average pooling of their source, and such pooling alone; the sparse
matrices of a convolution and of a pooling where a composition needs one.

:func:`converters.targets.populations.populations` composes these where a convolution or pooling
reads a population directly, so conversion costs memory in parameters and neurons rather
than synapses; :meth:`matrix` gives the sparse matrix where a composition needs one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["ConvMap", "PoolMap", "as_matrix", "conv_matrix", "pool_matrix"]


@dataclass(frozen=True)
class PoolMap:
    """Average pooling of a (C, H, W) source over non-overlapping ``window`` cells."""

    source_shape: tuple[int, int, int]
    window: tuple[int, int]

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.source_shape
        return c, h // self.window[0], w // self.window[1]

    def matrix(self) -> sp.csr_matrix:
        return pool_matrix(self.source_shape, self.window, self.window, (0, 0, 0, 0))


@dataclass(frozen=True)
class ConvMap:
    """A convolution (torch's Conv2d, weight [O, C / groups, KH, KW]) of a source, pooled
    first over ``pool`` cells when ``pool`` is not (1, 1)."""

    weight: np.ndarray
    source_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]  # top, left, bottom, right
    groups: int = 1
    pool: tuple[int, int] = (1, 1)

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return PoolMap(self.source_shape, self.pool).shape

    @property
    def pooled_weight(self) -> np.ndarray:
        """The weight each source neuron of a pooled cell carries: weight / cell size."""
        return self.weight * (1.0 / (self.pool[0] * self.pool[1]))

    def scaled(self, factor: float) -> ConvMap:
        return dataclasses.replace(self, weight=self.weight * factor)

    def matrix(self) -> sp.csr_matrix:
        m = conv_matrix(self.weight, self.in_shape, self.stride, self.padding, self.groups)
        if self.pool != (1, 1):
            m = m @ PoolMap(self.source_shape, self.pool).matrix()
        return sp.csr_matrix(m)


def as_matrix(m) -> sp.csr_matrix:
    """A sparse matrix, a :class:`ConvMap` or a :class:`PoolMap` as a sparse matrix."""
    return m.matrix() if isinstance(m, ConvMap | PoolMap) else m


def _window_index(in_shape, kernel, stride, padding) -> np.ndarray:
    """Flat input index of every (c, ho, wo, i, j) window cell, -1 for padding."""
    c, h, w = in_shape
    idx = np.arange(c * h * w).reshape(c, h, w)
    top, left, bottom, right = padding
    idx = np.pad(idx, ((0, 0), (top, bottom), (left, right)), constant_values=-1)
    win = np.lib.stride_tricks.sliding_window_view(idx, kernel, axis=(1, 2))
    return win[:, :: stride[0], :: stride[1]]  # C, Ho, Wo, kh, kw


def conv_matrix(weight: np.ndarray, in_shape, stride, padding, groups: int = 1) -> sp.csr_matrix:
    """The sparse [O*Ho*Wo, C*H*W] matrix of a cross-correlation (torch's Conv2d)."""
    win = _window_index(in_shape, weight.shape[2:], stride, padding)
    n_out, cin_g = weight.shape[0], weight.shape[1]
    cout_g = n_out // groups
    ho, wo = win.shape[1:3]
    rows, cols, vals = [], [], []
    for o in range(n_out):
        g = o // cout_g
        pre = win[g * cin_g : (g + 1) * cin_g]  # cin_g, Ho, Wo, kh, kw
        post = o * ho * wo + np.arange(ho * wo).reshape(ho, wo)
        w = np.broadcast_to(weight[o][:, None, None], pre.shape)
        post = np.broadcast_to(post[None, :, :, None, None], pre.shape)
        keep = pre >= 0
        rows.append(post[keep])
        cols.append(pre[keep])
        vals.append(w[keep])
    m = sp.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_out * ho * wo, int(np.prod(in_shape))),
    )
    return m.tocsr()


def pool_matrix(in_shape, kernel, stride, padding, count_include_pad: bool = True) -> sp.csr_matrix:
    """The sparse matrix of average pooling, channel by channel."""
    win = _window_index(in_shape, kernel, stride, padding)
    c, ho, wo = win.shape[:3]
    post = np.arange(c * ho * wo).reshape(c, ho, wo)[..., None, None]
    post = np.broadcast_to(post, win.shape)
    keep = win >= 0
    counts = (
        keep.sum(axis=(3, 4), keepdims=True) if not count_include_pad else kernel[0] * kernel[1]
    )
    vals = np.broadcast_to(1.0 / counts, win.shape)
    m = sp.coo_matrix(
        (vals[keep], (post[keep], win[keep])), shape=(c * ho * wo, int(np.prod(in_shape)))
    )
    return m.tocsr()
