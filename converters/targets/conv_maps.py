"""Linear maps between populations kept as kernels and geometry: convolutions, optionally of
a non-overlapping average pooling of their source, and such pooling alone.

:func:`converters.targets.populations.populations` composes these where a convolution or pooling
reads a population directly, so conversion costs memory in parameters and neurons rather
than synapses; :meth:`matrix` gives the sparse matrix where a composition needs one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["ConvMap", "PoolMap", "as_matrix"]


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
        from .populations import pool_matrix

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
        from .populations import conv_matrix

        m = conv_matrix(self.weight, self.in_shape, self.stride, self.padding, self.groups)
        if self.pool != (1, 1):
            m = m @ PoolMap(self.source_shape, self.pool).matrix()
        return sp.csr_matrix(m)


def as_matrix(m) -> sp.csr_matrix:
    """A sparse matrix, a :class:`ConvMap` or a :class:`PoolMap` as a sparse matrix."""
    return m.matrix() if isinstance(m, ConvMap | PoolMap) else m
