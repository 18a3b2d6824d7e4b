"""An openvino.Model built from a layer graph, so that a Graph runs through OpenVINO as it is."""

from __future__ import annotations

import numpy as np

from ..graph import Add, AvgPool2d, Conv2d, Dense, Flatten, Graph, MaxPool2d

__all__ = ["graph_to_openvino"]


def graph_to_openvino(graph: Graph):
    """An ``openvino.Model`` (batch 1, float32) computing ``graph.forward``."""
    import openvino as ov
    import openvino.opset13 as ops

    f32 = np.float32
    param = ops.parameter([1, *graph.input.shape], ov.Type.f32, name=graph.input.name)
    out = {graph.input.name: ops.multiply(param, ops.constant(f32(1.0 / graph.input.scale)))}
    for node in graph.nodes[1:]:
        x = out[node.inputs[0]]
        if isinstance(node, Conv2d):
            top, left, bottom, right = node.padding
            w = node.weight.astype(f32)
            if node.groups > 1:
                o, i, kh, kw = w.shape
                w = w.reshape(node.groups, o // node.groups, i, kh, kw)
                conv = ops.group_convolution
            else:
                conv = ops.convolution
            y = conv(x, ops.constant(w), node.stride, [top, left], [bottom, right], [1, 1])
            y = ops.add(y, ops.constant(node.bias.astype(f32).reshape(1, -1, 1, 1)))
        elif isinstance(node, Dense):
            y = ops.matmul(x, ops.constant(node.weight.astype(f32)), False, True)
            y = ops.add(y, ops.constant(node.bias.astype(f32)))
        elif isinstance(node, AvgPool2d | MaxPool2d):
            top, left, bottom, right = node.padding
            args = (x, node.stride, [top, left], [bottom, right], node.kernel)
            if isinstance(node, MaxPool2d):
                y = ops.max_pool(*args, rounding_type="floor").output(0)
            else:
                y = ops.avg_pool(*args, not node.count_include_pad, "floor")
        elif isinstance(node, Flatten):
            y = ops.reshape(x, ops.constant(np.array([1, -1], np.int64)), False)
        elif isinstance(node, Add):
            scale = node.scale or (1.0,) * len(node.inputs)
            terms = [
                ops.multiply(out[i], ops.constant(f32(s)))
                for i, s in zip(node.inputs, scale, strict=True)
            ]
            y = terms[0]
            for t in terms[1:]:
                y = ops.add(y, t)
        else:
            raise TypeError(f"cannot build OpenVINO ops for node {node!r}")
        if getattr(node, "relu", False):
            y = ops.relu(y)
        out[node.name] = y
    return ov.Model([out[graph.output]], [param], "graph")
