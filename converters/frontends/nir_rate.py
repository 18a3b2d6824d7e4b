"""NIR graphs of IF nodes read into the float layer graph by rate.

An IF of gain r and threshold theta stands for ``relu(r (W x + b)) / theta``: it folds into
the Dense or Conv2d before it (:func:`nir_to_graph`).
"""

from __future__ import annotations

import numpy as np

from ..graph import Add, AvgPool2d, Conv2d, Dense, Flatten, Graph, Input
from .nir_graph import (
    linear_edge,
    linear_kinds,
    metadata,
    predecessors,
    topological,
    uniform,
    unsupported,
)
from .nir_quirks import NIRImportError, input_shape

__all__ = ["nir_to_graph"]


def nir_to_graph(graph) -> Graph:
    """Read a NIR graph of IF nodes and linear edges into a float layer graph, by rate.

    Affine and Linear become Dense, Conv2d Conv2d, AvgPool2d AvgPool2d, SumPool2d an
    AvgPool2d and an Add scaled by the kernel area, Flatten Flatten, several edges into one
    node an Add. An IF node becomes the ReLU of the Dense or Conv2d before it, whose weights
    and bias it scales by ``r / v_threshold``; an IF fed by the Input alone is the input
    encoding and divides the input by ``v_threshold / r`` (neuroemu's own input population:
    by the ``scale`` the Input's metadata records).

    Raises
    ------
    NIRImportError
        For leaky neurons (LIF, CubaLIF: their rate is no ReLU of the input), other node
        kinds, dilated convolutions, non-zero resets and IF nodes that follow no weighted node.
    """
    import nir

    kinds = (nir.IF, *linear_kinds(nir)[:-1], nir.Input, nir.Output)
    refused = unsupported(graph, kinds)
    if refused:
        raise NIRImportError(
            f"nodes {refused} have no layer-graph counterpart; supported: IF neurons and "
            "Affine, Linear, Conv2d, Flatten, AvgPool2d, SumPool2d edges"
        )
    preds = predecessors(graph)
    succs: dict[str, list[str]] = {k: [] for k in graph.nodes}
    for a, b in graph.edges:
        succs[a].append(b)
    nodes: list = []
    made: dict[str, object] = {}
    name_of: dict[str, str] = {}
    output = None
    for key in topological(graph):
        node = graph.nodes[key]
        if isinstance(node, nir.Input):
            made[key] = Input(key, input_shape(key, node.input_type["input"]))
            nodes.append(made[key])
            name_of[key] = key
            continue
        sources = [name_of[p] for p in preds[key]]
        if not sources:
            raise NIRImportError(f"node {key!r} has no input edge")
        if len(sources) > 1:
            made[f"{key}_sum"] = Add(f"{key}_sum", sources)
            nodes.append(made[f"{key}_sum"])
            sources = [f"{key}_sum"]
        if isinstance(node, nir.Output):
            output = sources[0]
            continue
        if isinstance(node, nir.IF):
            name_of[key] = _fold_if(key, node, made[sources[0]], preds, succs, graph)
            made[name_of[key]] = made[sources[0]]
            continue
        new = _graph_nodes(nir, key, node, sources[0])
        nodes += new
        made.update({n.name: n for n in new})
        name_of[key] = new[-1].name
    if output is None:
        raise NIRImportError("the graph has no Output node")
    return Graph(nodes, output)


def _graph_nodes(nir, key: str, node, source: str) -> list:
    """The layer-graph nodes of linear NIR node ``node`` (the last one carries its output)."""
    edge = linear_edge(nir, key, node)
    if edge.kind in ("Affine", "Linear"):
        bias = edge.bias + np.zeros(len(edge.weight))
        return [Dense(key, [source], edge.weight.copy(), bias)]
    if edge.kind == "Flatten":
        return [Flatten(key, [source])]
    if edge.kind == "Conv2d":
        conv = (edge.weight.copy(), edge.bias, edge.stride, edge.padding, edge.groups)
        return [Conv2d(key, [source], *conv)]
    pool = (edge.kernel, edge.stride, edge.padding)
    if edge.kind == "AvgPool2d":
        return [AvgPool2d(key, [source], *pool)]
    area = float(edge.kernel[0] * edge.kernel[1])
    return [
        AvgPool2d(f"{key}_avg", [source], *pool),
        Add(key, [f"{key}_avg"], scale=(area,)),
    ]


def _fold_if(key: str, node, before, preds, succs, graph) -> str:
    """Fold IF node ``key`` into the node before it, which takes the neurons' layer name."""
    if np.any(np.asarray(node.v_reset) != 0):
        raise NIRImportError(f"IF {key!r} resets to {node.v_reset}; rates assume a reset to 0")
    gain = np.asarray(node.r, np.float64) / np.asarray(node.v_threshold, np.float64)
    (pred,) = preds[key]
    if isinstance(before, Input):
        meta = metadata(graph.nodes[pred])
        before.scale = (
            float(meta["scale"])
            if "levels" in meta
            else 1.0 / uniform(gain, "r / v_threshold", key)
        )
        return before.name
    if not isinstance(before, Dense | Conv2d) or before.relu or len(succs[pred]) != 1:
        raise NIRImportError(
            f"IF {key!r} follows {type(before).__name__} {before.name!r}; the layer graph maps an "
            "IF onto the ReLU of the one Affine, Linear or Conv2d that feeds it alone (one IF "
            "per weighted node)"
        )
    if isinstance(before, Conv2d):
        gain = np.broadcast_to(gain, (len(before.weight), *np.shape(gain)[1:])).reshape(
            len(before.weight), -1
        )
        if np.any(gain != gain[:, :1]):
            raise NIRImportError(f"IF {key!r}: r / v_threshold differs within a channel")
        gain = gain[:, 0]
    gain = np.broadcast_to(gain.ravel(), before.bias.shape)
    before.weight = before.weight * gain.reshape(-1, *([1] * (before.weight.ndim - 1)))
    before.bias = before.bias * gain
    before.relu = True
    meta = metadata(node)
    before.name = str(meta.get("layer", key))
    return before.name
