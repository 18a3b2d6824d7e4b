"""The graph cut at its nonlinearities: spiking populations and the sparse linear maps between them.

Every ReLU output (and the graph's output) becomes a population. Linear nodes between
populations (convolutions without ReLU, average pooling, flattening, additions) are composed
into one sparse matrix per (source, target) pair, so for population ``l``::

    a_l = relu( sum_k M[l, k] @ a_k + b_l )

holds exactly for the float graph. A convolution that reads a population directly, or
through non-overlapping average pooling, stays a :class:`~converters.targets.conv_maps.ConvMap`
(kernel and geometry, never a synapse list), as does such pooling alone
(:class:`~converters.targets.conv_maps.PoolMap`) until a composition needs its matrix. Max pooling
is not linear and is refused here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..graph import Add, AvgPool2d, Conv2d, Dense, Flatten, Graph, MaxPool2d
from .conv_maps import ConvMap, PoolMap, as_matrix

__all__ = ["AffineMap", "Population", "populations", "conv_matrix", "pool_matrix"]


@dataclass
class Population:
    name: str
    shape: tuple[int, ...]  # per-sample shape of the activation it carries
    inputs: dict  # source population -> [size, source size] csr_matrix, or ConvMap
    bias: np.ndarray  # [size]
    relu: bool

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class AffineMap:
    """An activation of shape ``shape`` as ``sum_k maps[k] @ a_k + bias`` over named sources."""

    maps: dict  # source -> [size, source size] csr_matrix, ConvMap or PoolMap
    bias: np.ndarray  # [size]
    shape: tuple[int, ...]

    @classmethod
    def identity(cls, source: str, shape: tuple[int, ...]) -> AffineMap:
        """The activation of ``source`` itself."""
        n = int(np.prod(shape))
        return cls({source: sp.identity(n, format="csr")}, np.zeros(n), tuple(shape))

    def then(self, m: sp.spmatrix, bias: np.ndarray, shape: tuple[int, ...]) -> AffineMap:
        """The composition ``m @ self + bias``, of shape ``shape``."""
        maps = {k: sp.csr_matrix(m @ as_matrix(v)) for k, v in self.maps.items()}
        return AffineMap(maps, m @ self.bias + bias, tuple(shape))

    @staticmethod
    def sum(args: list[AffineMap], scale=None) -> AffineMap:
        """``sum_i scale[i] * args[i]`` (all ones by default), of the first one's shape."""
        scale = scale or (1.0,) * len(args)
        maps: dict = {}
        bias = np.zeros_like(args[0].bias)
        for s, a in zip(scale, args, strict=True):
            for k, v in a.maps.items():
                if k in maps:
                    maps[k] = sp.csr_matrix(as_matrix(maps[k]) + s * as_matrix(v))
                elif isinstance(v, ConvMap):
                    maps[k] = v if s == 1 else v.scaled(s)
                else:
                    maps[k] = sp.csr_matrix(s * as_matrix(v))
            bias = bias + s * a.bias
        return AffineMap(maps, bias, args[0].shape)

    def source(self) -> tuple[str, PoolMap | None] | None:
        """(source, pooling or None) when this is a population, or a non-overlapping average
        pooling of one, as it is; else None."""
        if len(self.maps) != 1 or np.any(self.bias):
            return None
        ((name, m),) = self.maps.items()
        if isinstance(m, PoolMap):
            return name, m
        n = m.shape[0]
        identity = (
            isinstance(m, sp.csr_matrix)
            and m.shape == (n, n)
            and m.nnz == n
            and np.array_equal(m.indices, np.arange(n))
            and np.array_equal(m.indptr, np.arange(n + 1))
            and np.all(m.data == 1)
        )
        return (name, None) if identity else None


def populations(graph: Graph) -> list[Population]:
    """Cut ``graph`` into populations (the input first, the output last)."""
    shapes = graph.shapes()
    inp = graph.input
    pops = [Population(inp.name, tuple(inp.shape), {}, np.zeros(int(np.prod(inp.shape))), False)]
    linear = {inp.name: AffineMap.identity(inp.name, tuple(inp.shape))}
    for node in graph.nodes[1:]:
        in_shape, shape = shapes[node.inputs[0]], shapes[node.name]
        args = [linear[i] for i in node.inputs]
        if isinstance(node, Conv2d):
            bias = np.repeat(node.bias, np.prod(shape[1:]))
            found = args[0].source() if len(in_shape) == 3 else None
            if found is not None:
                name, pool = found
                source_shape = pool.source_shape if pool else tuple(in_shape)
                conv = ConvMap(
                    node.weight, source_shape, tuple(shape), node.stride, node.padding,
                    node.groups, pool.window if pool else (1, 1),
                )  # fmt: skip
                out = AffineMap({name: conv}, bias, shape)
            else:
                m = conv_matrix(node.weight, in_shape, node.stride, node.padding, node.groups)
                out = args[0].then(m, bias, shape)
        elif isinstance(node, Dense):
            out = args[0].then(sp.csr_matrix(node.weight), node.bias, shape)
        elif isinstance(node, AvgPool2d) and _pools_cells(node, args[0]):
            pool = PoolMap(tuple(in_shape), tuple(node.kernel))
            out = AffineMap({next(iter(args[0].maps)): pool}, np.zeros(int(np.prod(shape))), shape)
        elif isinstance(node, AvgPool2d):
            m = pool_matrix(
                in_shape, node.kernel, node.stride, node.padding, node.count_include_pad
            )
            out = args[0].then(m, np.zeros(m.shape[0]), shape)
        elif isinstance(node, Flatten):
            out = AffineMap(args[0].maps, args[0].bias, shape)
        elif isinstance(node, Add):
            out = AffineMap.sum(args, node.scale)
        elif isinstance(node, MaxPool2d):
            raise ValueError(
                f"layer {node.name!r} is MaxPool2d, which has no exact spiking counterpart on Loihi; "
                "replace it by average pooling: neuroemu convert --replace-maxpool [--fine-tune "
                "EPOCHS], or model = converters.training.replace_maxpool(model) then "
                "converters.training.train(model, ...), or converters.replace_maxpool(graph) "
                "without fine-tuning (or convert for Akida, which pools on potentials)"
            )
        else:
            raise TypeError(f"unexpected node {node!r}")
        if getattr(node, "relu", False) or node.name == graph.output:
            pops.append(
                Population(node.name, shape, out.maps, out.bias, bool(getattr(node, "relu", False)))
            )
            out = AffineMap.identity(node.name, shape)
        linear[node.name] = out
    return pops


def _pools_cells(node: AvgPool2d, arg: AffineMap) -> bool:
    """Whether ``node`` pools a population as it is over non-overlapping, unpadded cells."""
    found = arg.source()
    return (
        found is not None
        and found[1] is None
        and tuple(node.kernel) == tuple(node.stride)
        and not any(node.padding)
    )


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
