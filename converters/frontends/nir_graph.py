"""A NIR graph read once for both imports: its node kinds and order, each linear edge's
parameters, and the affine map of the spikes into every neuron node.

The linear edges (Affine, Linear, Conv2d, Flatten, AvgPool2d, SumPool2d, Scale) are parsed
here alone, into :class:`LinearEdge`; the Loihi import composes them into affine maps
(:func:`neuron_inputs`), the rate import into layer-graph nodes
(:mod:`converters.frontends.nir_rate`).
"""

from __future__ import annotations

import contextlib
import graphlib
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..targets.populations import AffineMap, conv_matrix, pool_matrix
from .nir_quirks import NIRImportError, input_shape

__all__ = [
    "LinearEdge",
    "linear_edge",
    "neuron_kinds",
    "linear_kinds",
    "kind_names",
    "unsupported",
    "topological",
    "reading",
    "check_edges",
    "predecessors",
    "metadata",
    "uniform",
    "neuron_inputs",
]


def neuron_kinds(nir) -> tuple[type, ...]:
    """NIR neuron classes a LoihiNet layer is read from."""
    return (nir.IF, nir.LIF, nir.CubaLIF)


def linear_kinds(nir) -> tuple[type, ...]:
    """NIR linear edge classes (the last, Scale, only for LoihiNets)."""
    return (
        nir.Affine,
        nir.Linear,
        nir.Conv2d,
        nir.Flatten,
        nir.AvgPool2d,
        nir.SumPool2d,
        nir.Scale,
    )


def kind_names(kinds: tuple[type, ...]) -> tuple[str, ...]:
    """The class names of ``kinds``."""
    return tuple(k.__name__ for k in kinds)


def unsupported(graph, kinds: tuple[type, ...]) -> dict[str, str]:
    """The graph's nodes of none of ``kinds``, by key, with their class names."""
    return {k: type(n).__name__ for k, n in graph.nodes.items() if not isinstance(n, kinds)}


def topological(graph) -> list[str]:
    """The graph's node keys, each after every node with an edge into it."""
    order = graphlib.TopologicalSorter()
    for key in graph.nodes:
        order.add(key)
    for a, b in graph.edges:
        order.add(b, a)
    try:
        return list(order.static_order())
    except graphlib.CycleError as err:
        raise NIRImportError(
            "the graph has a cycle: neuroemu reads feed-forward graphs only"
        ) from err


@contextlib.contextmanager
def reading(key: str, node):
    """Turn any failure to read ``node`` into an NIRImportError that names it."""
    import nir

    try:
        yield
    except NIRImportError:
        raise
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as err:
        raise NIRImportError(
            f"node {key!r} ({type(node).__name__}) cannot be read: {err}; neuroemu reads "
            f"neurons {kind_names(neuron_kinds(nir))} and edges {kind_names(linear_kinds(nir))}"
        ) from err


def check_edges(graph) -> None:
    """NIRImportError unless every edge joins two nodes of the graph."""
    missing = sorted({k for e in graph.edges for k in e if k not in graph.nodes})
    if missing:
        raise NIRImportError(f"the graph's edges name nodes it does not have: {missing}")


def predecessors(graph) -> dict[str, list[str]]:
    """Every node's key -> the keys of the nodes with an edge into it."""
    preds: dict[str, list[str]] = {k: [] for k in graph.nodes}
    for a, b in graph.edges:
        preds[b].append(a)
    return preds


def _plain(value):
    """A metadata value as written, undoing HDF5's bytes and 0-d arrays."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def metadata(node_or_graph) -> dict:
    """The ``metadata`` of a node or graph (``{}`` without), with values as written."""
    return {k: _plain(v) for k, v in (node_or_graph.metadata or {}).items()}


def uniform(values, what: str, key: str) -> float:
    """The one value of ``values``; NIRImportError naming ``what`` if the neurons differ."""
    arr = np.asarray(values, np.float64)
    if arr.size and np.any(arr != arr.flat[0]):
        raise NIRImportError(f"node {key!r}: {what} differs between neurons; Loihi layers share it")
    return float(arr.flat[0])


@dataclass(frozen=True)
class LinearEdge:
    """One linear NIR node's parameters: ``kind`` is its class name.

    Affine and Linear hold ``weight`` (out, in) and ``bias`` (0 for Linear); Conv2d
    ``weight`` (out, in / groups, kh, kw), one ``bias`` per output channel, ``stride``,
    ``padding`` (top, left, bottom, right) and ``groups``; the pools ``kernel``, ``stride``
    and ``padding``; Scale its ``scale``; Flatten nothing.
    """

    kind: str
    weight: np.ndarray | None = None
    bias: np.ndarray | float = 0.0
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    groups: int = 1
    scale: np.ndarray | None = None

    def out_hw(self, size) -> tuple[int, int]:
        """The (H, W) it gives for an input of (H, W) ``size`` (convolutions and pools)."""
        kernel = self.weight.shape[2:] if self.kind == "Conv2d" else self.kernel
        top, left, bottom, right = self.padding
        return (
            (size[0] + top + bottom - kernel[0]) // self.stride[0] + 1,
            (size[1] + left + right - kernel[1]) // self.stride[1] + 1,
        )


def _pair(value) -> tuple[int, int]:
    return tuple(int(s) for s in np.broadcast_to(value, 2))


def _padding(padding, kernel, key: str) -> tuple[int, int, int, int]:
    if isinstance(padding, str | bytes):
        padding = padding.decode() if isinstance(padding, bytes) else padding
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            top, left = (kernel[0] - 1) // 2, (kernel[1] - 1) // 2
            return (top, left, kernel[0] - 1 - top, kernel[1] - 1 - left)
        raise NIRImportError(f"Conv2d {key!r} has padding {padding!r}")
    ph, pw = _pair(padding)
    return (ph, pw, ph, pw)


def linear_edge(nir, key: str, node) -> LinearEdge:
    """The parameters of linear NIR node ``node`` (refusing dilated convolutions)."""
    kind = type(node).__name__
    if isinstance(node, nir.Affine | nir.Linear):
        weight = np.asarray(node.weight, np.float64)
        bias = np.asarray(node.bias, np.float64) if isinstance(node, nir.Affine) else 0.0
        return LinearEdge(kind, weight, bias)
    if isinstance(node, nir.Flatten):
        return LinearEdge(kind)
    if isinstance(node, nir.Scale):
        return LinearEdge(kind, scale=np.asarray(node.scale, np.float64))
    if isinstance(node, nir.Conv2d):
        if np.any(np.asarray(node.dilation) != 1):
            raise NIRImportError(f"Conv2d {key!r} is dilated; neuroemu reads dilation 1 only")
        weight = np.asarray(node.weight, np.float64)
        bias = np.asarray(node.bias, np.float64) + np.zeros(weight.shape[0])
        padding = _padding(node.padding, weight.shape[2:], key)
        return LinearEdge(
            kind, weight, bias, stride=_pair(node.stride), padding=padding, groups=int(node.groups)
        )
    ph, pw = _pair(node.padding)
    return LinearEdge(
        kind, kernel=_pair(node.kernel_size), stride=_pair(node.stride), padding=(ph, pw, ph, pw)
    )


def neuron_inputs(graph) -> list[tuple[str, AffineMap]]:
    """Each IF / LIF / CubaLIF node of ``graph`` in order, with the affine map into it."""
    import nir

    preds = predecessors(graph)
    values: dict[str, AffineMap] = {}
    neurons: list[tuple[str, AffineMap]] = []
    for key in topological(graph):
        node = graph.nodes[key]
        with reading(key, node):
            if isinstance(node, nir.Input):
                values[key] = AffineMap.identity(key, input_shape(key, node.input_type["input"]))
                continue
            if not preds[key]:
                raise NIRImportError(f"node {key!r} has no input edge")
            incoming = _sum([values[p] for p in preds[key]], key)
            if isinstance(node, nir.Output):
                continue
            if isinstance(node, neuron_kinds(nir)):
                neurons.append((key, incoming))
                values[key] = AffineMap.identity(key, incoming.shape)
            else:
                values[key] = _apply(linear_edge(nir, key, node), incoming, key)
    return neurons


def _sum(parts: list[AffineMap], key: str) -> AffineMap:
    sizes = {int(np.prod(p.shape)) for p in parts}
    if len(sizes) > 1:
        raise NIRImportError(f"node {key!r} sums inputs of different sizes {sorted(sizes)}")
    return AffineMap.sum(parts)


def _apply(edge: LinearEdge, x: AffineMap, key: str) -> AffineMap:
    """The affine map of linear edge ``edge`` applied to its input ``x``."""
    n_in = int(np.prod(x.shape))
    if edge.kind in ("Affine", "Linear"):
        weight = edge.weight
        if weight.ndim != 2 or weight.shape[1] != n_in:
            raise NIRImportError(
                f"{edge.kind} {key!r} has weight {weight.shape} for an input of {n_in} values"
            )
        n_out = weight.shape[0]
        return x.then(sp.csr_matrix(weight), edge.bias + np.zeros(n_out), (n_out,))
    if edge.kind == "Flatten":
        return AffineMap(x.maps, x.bias, (n_in,))
    if edge.kind == "Scale":
        scale = np.broadcast_to(edge.scale, x.shape).ravel()
        return x.then(sp.diags(scale, format="csr"), np.zeros(n_in), x.shape)
    if len(x.shape) != 3:
        raise NIRImportError(f"{edge.kind} {key!r} needs a (C, H, W) input, gets shape {x.shape}")
    if edge.kind == "Conv2d":
        m = conv_matrix(edge.weight, x.shape, edge.stride, edge.padding, edge.groups)
        out_shape = (edge.weight.shape[0], *edge.out_hw(x.shape[1:]))
        return x.then(m, np.repeat(edge.bias, int(np.prod(out_shape[1:]))), out_shape)
    m = pool_matrix(x.shape, edge.kernel, edge.stride, edge.padding)
    if edge.kind == "SumPool2d":
        m = m * (edge.kernel[0] * edge.kernel[1])
    out_shape = (x.shape[0], *edge.out_hw(x.shape[1:]))
    return x.then(sp.csr_matrix(m), np.zeros(m.shape[0]), out_shape)
