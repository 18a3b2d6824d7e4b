"""The reader of OpenVINO's operation set: an ``openvino.Model``'s ops, in topological order,
as layer-graph nodes; whatever lies outside the supported set is refused, naming the layer
in the user's file."""

from __future__ import annotations

import warnings

import numpy as np

from ..graph import (
    SUPPORTED_LAYERS,
    Add,
    AvgPool2d,
    Conv2d,
    Dense,
    Flatten,
    Graph,
    Input,
    MaxPool2d,
    Node,
)
from .source_names import layer_name, source_label

__all__ = ["OpenVINOReader", "UnsupportedLayerError"]


class UnsupportedLayerError(ValueError):
    """A layer of the source model has no counterpart in the layer graph."""

    def __init__(self, op_type: str, name: str, why: str = ""):
        self.op_type, self.name, self.why = op_type, name, why
        detail = f" ({why})" if why else ""
        super().__init__(
            f"unsupported layer {op_type!r} ({name}) in the source model{detail}; "
            f"supported: {', '.join(SUPPORTED_LAYERS)}"
        )


def _from_module(op) -> bool:
    return bool(layer_name(op.get_friendly_name()))


# OpenVINO operation kinds and the reader method of each
_READERS = {
    "Convolution": "_read_conv",
    "GroupConvolution": "_read_conv",
    "MatMul": "_read_matmul",
    "Relu": "_read_relu",
    "AvgPool": "_read_pool",
    "MaxPool": "_read_pool",
    "ReduceMean": "_read_global_pool",
    "AdaptiveAvgPool": "_read_global_pool",
    "Reshape": "_read_reshape",
    "Squeeze": "_read_reshape",
    "Unsqueeze": "_read_reshape",
    "Flatten": "_read_reshape",
    "BatchNormInference": "_read_batchnorm",
    "Softmax": "_read_softmax",
    "SoftMax": "_read_softmax",
    "LogSoftmax": "_read_softmax",
}


class OpenVINOReader:
    """Walks OpenVINO's ops in topological order and builds graph nodes."""

    def __init__(self, ov_model, onnx_nodes: dict[str, str] | None = None):
        self.ov_model = ov_model
        self.onnx_nodes = onnx_nodes or {}
        self.nodes: list[Node] = []
        self.consts: dict[str, np.ndarray] = {}
        self.tensor: dict[str, str] = {}  # id of an OpenVINO output node -> graph node name
        self.output: str | None = None
        self._named: dict[str, bool] = {}  # whether a node's name comes from the source model

    def graph(self) -> Graph:
        for op in self.ov_model.get_ordered_ops():
            self._read(op)
        for node in self.nodes:
            _check_finite(node)
        return Graph(self.nodes, self.output)

    def _source(self, op, k: int):
        return op.input_value(k).get_node()

    def _const(self, op, k: int) -> np.ndarray | None:
        return self.consts.get(self._source(op, k).get_name())

    def _arg(self, op, k: int) -> str:
        key = self._key(self._source(op, k))
        if key not in self.tensor:
            raise UnsupportedLayerError(
                op.get_type_name(), op.get_friendly_name(), "reads an unsupported input"
            )
        return self.tensor[key]

    @staticmethod
    def _key(node) -> str:
        return node.get_name()

    def _add(self, op, node: Node) -> None:
        taken = {n.name for n in self.nodes}
        kind = type(node).__name__.lower()
        if not node.name:
            node.name = f"{kind}{len(self.nodes)}"
        elif node.name[0].isdigit():
            node.name = f"{kind}{node.name}"
        name, k = node.name, 1
        while name in taken:
            k += 1
            name = f"{node.name}_{k}"
        self._named[name] = bool(node.name == name and _from_module(op))
        node.name = name
        self.nodes.append(node)
        self.tensor[self._key(op)] = name

    def _alias(self, op, name: str) -> None:
        self.tensor[self._key(op)] = name

    def _last(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def _read(self, op) -> None:
        try:
            self._dispatch(op)
        except UnsupportedLayerError as err:
            if err.name != op.get_friendly_name():
                raise
            label = source_label(op, self.onnx_nodes)
            raise UnsupportedLayerError(err.op_type, label, err.why) from None

    def _dispatch(self, op) -> None:
        kind, friendly = op.get_type_name(), op.get_friendly_name()
        if kind == "Constant":
            self.consts[op.get_name()] = np.array(op.get_data(), dtype=np.float64)
        elif kind == "Convert" and self._const(op, 0) is not None:
            self.consts[op.get_name()] = self._const(op, 0)
        elif kind == "Parameter":
            shape = tuple(int(d) for d in op.get_output_shape(0))[1:]
            self._add(op, Input("input", shape))
            self._named["input"] = True
        elif kind == "Result":
            self.output = self._arg(op, 0)
        elif kind in ("Add", "Multiply"):
            self._elementwise(op, kind, friendly, layer_name(friendly))
        elif kind in _READERS:
            getattr(self, _READERS[kind])(op, kind, friendly, layer_name(friendly))
        else:
            raise UnsupportedLayerError(kind, friendly)

    def _read_softmax(self, op, kind: str, friendly: str, name: str) -> None:
        """A final (log-)softmax is dropped with a note: it keeps the class ranking."""
        readers = [t.get_node().get_type_name() for t in op.output(0).get_target_inputs()]
        if readers != ["Result"]:
            raise UnsupportedLayerError(
                kind, friendly, "only a final softmax is accepted; move it out of the model"
            )
        self._alias(op, self._arg(op, 0))
        warnings.warn(
            f"dropped the final {kind} ({source_label(op, self.onnx_nodes)}): the network outputs its inputs (logits), "
            "whose ranking it keeps",
            stacklevel=5,
        )

    def _read_conv(self, op, kind: str, friendly: str, name: str) -> None:
        attrs = op.get_attributes()
        weight = self._const(op, 1)
        if weight is None:
            raise UnsupportedLayerError(kind, friendly, "its weights are not constant")
        if any(d != 1 for d in attrs["dilations"]):
            raise UnsupportedLayerError(kind, friendly, "dilated convolution")
        groups = 1
        if kind == "GroupConvolution":
            groups = weight.shape[0]
            weight = weight.reshape(-1, *weight.shape[2:])
        pads = _pads(op, attrs)
        conv = Conv2d(
            name,
            [self._arg(op, 0)],
            weight,
            np.zeros(weight.shape[0]),
            tuple(attrs["strides"]),
            pads,
            groups,
        )
        self._add(op, conv)

    def _read_matmul(self, op, kind: str, friendly: str, name: str) -> None:
        weight = self._const(op, 1)
        if weight is None or weight.ndim != 2:
            raise UnsupportedLayerError(kind, friendly, "only x @ constant matrices are supported")
        weight = weight if op.get_attributes()["transpose_b"] else weight.T
        self._add(op, Dense(name, [self._arg(op, 0)], weight, np.zeros(weight.shape[0])))

    def _read_relu(self, op, kind: str, friendly: str, name: str) -> None:
        src = self._last(self._arg(op, 0))
        if not hasattr(src, "relu") or src.relu or len(self._consumers_of(op)) > 1:
            raise UnsupportedLayerError(
                kind, friendly, "ReLU must directly follow a Conv, Dense or Add"
            )
        src.relu = True
        self._alias(op, src.name)

    def _read_pool(self, op, kind: str, friendly: str, name: str) -> None:
        attrs = op.get_attributes()
        if attrs.get("rounding_type", "floor") != "floor" and not _floor_equals_ceil(op):
            raise UnsupportedLayerError(kind, friendly, "ceil_mode pooling")
        pads = _pads(op, attrs)
        args = (name, [self._arg(op, 0)], tuple(attrs["kernel"]), tuple(attrs["strides"]), pads)
        if kind == "AvgPool":
            self._add(op, AvgPool2d(*args, count_include_pad=not attrs["exclude-pad"]))
            return
        if any(d != 1 for d in attrs.get("dilations", [1, 1])):
            raise UnsupportedLayerError(kind, friendly, "dilated pooling")
        self._add(op, MaxPool2d(*args))

    def _read_global_pool(self, op, kind: str, friendly: str, name: str) -> None:
        in_shape = tuple(op.input_value(0).get_shape())
        out_shape = tuple(op.get_output_shape(0))
        if len(in_shape) != 4 or tuple(out_shape[2:]) not in ((1, 1), ()):
            raise UnsupportedLayerError(kind, friendly, "only global average pooling")
        hw = tuple(int(s) for s in in_shape[2:])
        self._add(op, AvgPool2d(name, [self._arg(op, 0)], hw, hw))
        if out_shape[2:] == ():
            self._add(op, Flatten(f"{name}_flat" if name else "", [self.nodes[-1].name]))

    def _read_reshape(self, op, kind: str, friendly: str, name: str) -> None:
        in_shape = tuple(op.input_value(0).get_shape())
        out_shape = tuple(op.get_output_shape(0))
        if in_shape == out_shape:
            self._alias(op, self._arg(op, 0))
        elif len(out_shape) == 2 and len(in_shape) == 4:
            self._add(op, Flatten(name, [self._arg(op, 0)]))
        else:
            raise UnsupportedLayerError(kind, friendly, f"reshape {in_shape} -> {out_shape}")

    def _consumers_of(self, op) -> list:
        return [
            t for out in op.input_value(0).get_node().outputs() for t in out.get_target_inputs()
        ]

    def _elementwise(self, op, kind: str, friendly: str, name: str) -> None:
        const = [self._const(op, k) for k in range(2)]
        if const[0] is None and const[1] is None:
            if kind == "Multiply":
                raise UnsupportedLayerError(kind, friendly, "product of two tensors")
            self._add(op, Add(name, [self._arg(op, 0), self._arg(op, 1)]))
            return
        k = 0 if const[1] is not None else 1
        value = const[1 - k]
        if kind == "Add":
            self._fold(op, k, None, value, kind, friendly, name)
        else:
            self._fold(op, k, value, None, kind, friendly, name)

    def _read_batchnorm(self, op, kind: str, friendly: str, name: str) -> None:
        """BatchNormInference folded into the Conv or Dense before it."""
        first_data = op.get_type_info().version_id != "opset1"  # opset1: gamma, beta, data
        k = 0 if first_data else 2
        gamma, beta, mean, var = (
            self._const(op, j) for j in ((1, 2, 3, 4) if first_data else (0, 1, 3, 4))
        )
        if any(v is None for v in (gamma, beta, mean, var)):
            raise UnsupportedLayerError(kind, friendly, "its statistics are not constant")
        scale = gamma / np.sqrt(var + op.get_attributes()["epsilon"])
        self._fold(op, k, scale, beta - mean * scale, kind, friendly, name)

    def _fold(self, op, k: int, scale, shift, kind: str, friendly: str, name: str) -> None:
        """Fold ``x * scale + shift`` (per channel, either may be None) into the Conv or Dense
        that input ``k`` of ``op`` reads, when nothing else reads it."""
        src = self._last(self._arg(op, k))
        single_use = len([t for t in self._source(op, k).output(0).get_target_inputs()]) == 1
        if not isinstance(src, Conv2d | Dense) or src.relu or not single_use:
            raise UnsupportedLayerError(
                kind,
                friendly,
                "a constant can only be added to or multiply a Conv or Dense output, "
                "and BatchNorm only follow one",
            )

        def per_channel(value):
            value = np.asarray(value, dtype=np.float64)
            return np.broadcast_to(value.reshape(-1), src.bias.shape) if value.size > 1 else value

        if scale is not None:
            factor = np.broadcast_to(per_channel(scale), src.bias.shape)
            src.weight = src.weight * factor.reshape(-1, *([1] * (src.weight.ndim - 1)))
            src.bias = src.bias * factor
        if shift is not None:
            src.bias = src.bias + per_channel(shift)
        if name and not self._named[src.name]:
            self._rename(src, name)
        self._alias(op, src.name)

    def _rename(self, node: Node, name: str) -> None:
        if any(n.name == name for n in self.nodes):
            return
        old, node.name = node.name, name
        self._named[name] = True
        self.tensor = {k: (name if v == old else v) for k, v in self.tensor.items()}


def _pads(op, attrs) -> tuple[int, int, int, int]:
    if attrs.get("auto_pad", "explicit") not in ("explicit", "notset", "valid"):
        in_hw = tuple(op.input_value(0).get_shape())[2:]
        out_hw = tuple(op.get_output_shape(0))[2:]
        kernel = attrs.get("kernel") or tuple(op.input_value(1).get_shape())[-2:]
        total = [
            max((o - 1) * s + k - i, 0)
            for i, o, s, k in zip(in_hw, out_hw, attrs["strides"], kernel, strict=True)
        ]
        begin = (
            [t // 2 for t in total]
            if attrs["auto_pad"] == "same_upper"
            else [(t + 1) // 2 for t in total]
        )
        end = [t - b for t, b in zip(total, begin, strict=True)]
        return (begin[0], begin[1], end[0], end[1])
    begin, end = attrs.get("pads_begin", [0, 0]), attrs.get("pads_end", [0, 0])
    return (int(begin[0]), int(begin[1]), int(end[0]), int(end[1]))


def _floor_equals_ceil(op) -> bool:
    attrs = op.get_attributes()
    in_hw = tuple(op.input_value(0).get_shape())[2:]
    pads = _pads(op, attrs)
    for i, (size, k, s) in enumerate(zip(in_hw, attrs["kernel"], attrs["strides"], strict=True)):
        span = size + pads[i] + pads[i + 2] - k
        if span % s:
            return False
    return True


def _check_finite(node: Node) -> None:
    for field_name in ("weight", "bias"):
        value = getattr(node, field_name, None)
        if value is not None and not np.all(np.isfinite(value)):
            bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
            raise ValueError(
                f"layer {node.name!r} has {bad} NaN or infinite values in its {field_name}"
            )
