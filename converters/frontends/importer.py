"""Import of torch modules, ONNX files and OpenVINO models into the layer graph.

Every source goes through OpenVINO's frontends, so one reader of OpenVINO's operation set
covers them all. OpenVINO folds BatchNorm into the preceding convolution and drops
Dropout and Identity; whatever remains outside the supported set is refused.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

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
from .source_names import onnx_nodes, source_label

__all__ = ["load", "to_openvino", "UnsupportedLayerError"]


class UnsupportedLayerError(ValueError):
    """A layer of the source model has no counterpart in the layer graph."""

    def __init__(self, op_type: str, name: str, why: str = ""):
        self.op_type, self.name, self.why = op_type, name, why
        detail = f" ({why})" if why else ""
        super().__init__(
            f"unsupported layer {op_type!r} ({name}) in the source model{detail}; "
            f"supported: {', '.join(SUPPORTED_LAYERS)}"
        )


def to_openvino(model: Any, example_input: Any = None):
    """Return an ``openvino.Model`` with a static input shape for any accepted source."""
    import openvino as ov

    if isinstance(model, ov.Model):
        ov_model = model.clone()
    elif isinstance(model, str | Path):
        path = Path(model)
        if not path.exists():
            raise FileNotFoundError(f"model file {path} does not exist")
        # ONNX through the frontend's conversion (BatchNormalization decomposed); IR as it is
        reader = ov.convert_model if path.suffix == ".onnx" else ov.Core().read_model
        ov_model = reader(str(path))
    elif _is_torch_module(model):
        if example_input is None:
            raise ValueError("a torch model needs example_input (a tensor of one input batch)")
        import torch

        model.eval()
        example = torch.as_tensor(np.asarray(example_input, dtype=np.float32))
        _openvino_telemetry_off()
        ov_model = ov.convert_model(model, example_input=example)
    else:
        raise TypeError(
            f"cannot load a model of type {type(model).__name__}; "
            "accepted: torch.nn.Module, a path to an .onnx file, openvino.Model"
        )
    if len(ov_model.inputs) != 1 or len(ov_model.outputs) != 1:
        raise ValueError(
            f"the model has {len(ov_model.inputs)} inputs and {len(ov_model.outputs)} outputs; "
            "neuroemu converts single-input, single-output networks"
        )
    if example_input is not None:
        shape = [1, *np.shape(example_input)[1:]]
        ov_model.reshape({ov_model.inputs[0]: shape})
    shape = ov_model.inputs[0].get_partial_shape()
    if not shape.is_static and shape.rank.is_static and all(d.is_static for d in shape[1:]):
        ov_model.reshape({ov_model.inputs[0]: [1, *(d.get_length() for d in shape[1:])]})
        shape = ov_model.inputs[0].get_partial_shape()  # only the batch axis was dynamic
    if not shape.is_static:
        raise ValueError(
            f"the model's input shape {shape} is dynamic: pass example_input "
            "(one input batch, e.g. converters.load(path, example_input=x[:1]))"
        )
    _fold_constants(ov_model)  # a static shape turns ShapeOf/Reshape chains into constants
    return ov_model


def load(model: Any, example_input: Any = None) -> Graph:
    """Import ``model`` (torch.nn.Module, .onnx path or openvino.Model) as a float Graph.

    Parameters
    ----------
    model
        The trained network.
    example_input
        An input batch (array or tensor of shape (N, C, H, W) or (N, F)); required for
        torch models, optional otherwise (it fixes a dynamic input shape).
    """
    graph = _Reader(to_openvino(model, example_input), onnx_nodes(model)).graph()
    return _torch_names(model, graph) if _is_torch_module(model) else graph


def _from_module(op) -> bool:
    return bool(_layer_name(op.get_friendly_name()))


def _fold_constants(ov_model) -> None:
    from openvino import passes

    manager = passes.Manager()
    manager.register_pass(passes.ConstantFolding())
    manager.run_passes(ov_model)


def _is_torch_module(obj: Any) -> bool:
    try:
        import torch
    except ImportError:
        return False
    return isinstance(obj, torch.nn.Module)


def _layer_name(friendly: str) -> str:
    """The source model's module path of an op, normalized alike for every route, or ''.

    torch's ``__module.4.downsample.0/aten::...`` and ONNX's
    ``/4/downsample/downsample.0/Conv`` both give ``layer4_downsample_0``: dots and
    slashes become underscores, and a leading digit gets the prefix ``layer``.
    """
    match = re.match(r"__module\.([^/]+)/", friendly)
    if match:
        path = match.group(1)
    elif friendly.startswith("/") and friendly.count("/") >= 2:
        parts: list[str] = []
        for part in friendly.removesuffix("/WithoutBiases").strip("/").split("/")[:-1]:
            if parts and part.startswith(parts[-1] + "."):
                parts[-1] = part  # ONNX scopes repeat a nested module's full path
            else:
                parts.append(part)
        path = ".".join(parts)
    else:
        return ""
    name = re.sub(r"\W", "_", path).strip("_")
    return f"layer{name}" if name[:1].isdigit() else name


def _torch_names(model: Any, graph: Graph) -> Graph:
    """Name weighted layers after the torch Conv2d/Linear modules they came from.

    OpenVINO folds BatchNorm into a convolution and drops the convolution's name; the
    folded weights equal the module's up to a factor per output channel, which finds it.
    """
    from torch import nn

    modules = [
        (name, m.weight.detach().double().numpy())
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d | nn.Linear)
    ]
    renames: dict[str, str] = {}
    for node in graph.nodes:
        if not isinstance(node, Conv2d | Dense):
            continue
        fits = [(k, _alignment(node.weight, w)) for k, (_, w) in enumerate(modules)]
        fits = [(k, a) for k, a in fits if a > 0.999]
        if fits:
            k = max(fits, key=lambda f: f[1])[0]
            renames[node.name] = _layer_name(f"__module.{modules.pop(k)[0]}/")
    return _renamed(graph, renames)


def _alignment(folded: np.ndarray, weight: np.ndarray) -> float:
    """Smallest |cosine| between matching output channels (0 if the shapes differ)."""
    if folded.shape != weight.shape:
        return 0.0
    a, b = folded.reshape(len(folded), -1), weight.reshape(len(weight), -1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    cos = np.abs(np.sum(a * b, axis=1)) / np.where(norms > 0, norms, 1.0)
    return float(np.min(np.where(norms > 0, cos, 1.0)))


def _renamed(graph: Graph, renames: dict[str, str]) -> Graph:
    taken = {n.name for n in graph.nodes} - set(renames)
    final = {}
    for old, new in renames.items():
        name, k = new, 1
        while name in taken:
            k += 1
            name = f"{new}_{k}"
        taken.add(name)
        final[old] = name
    for node in graph.nodes:
        node.name = final.get(node.name, node.name)
        node.inputs = [final.get(i, i) for i in node.inputs]
    return Graph(graph.nodes, final.get(graph.output, graph.output))


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


class _Reader:
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
            self._elementwise(op, kind, friendly, _layer_name(friendly))
        elif kind in _READERS:
            getattr(self, _READERS[kind])(op, kind, friendly, _layer_name(friendly))
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


def _openvino_telemetry_off() -> None:
    """Turn off the usage telemetry that ``openvino.convert_model`` sends.

    It forks a process from a background thread to reach the network; a fork while this
    process's main thread is inside a multi-threaded OpenBLAS call deadlocks that call (seen
    as a hang in the normalization after an import). The telemetry object is a process-wide
    singleton: the one ``convert_model`` will use, with its consent withdrawn.
    """
    try:
        from openvino.tools.ovc.telemetry_utils import init_ovc_telemetry
    except ImportError:  # an OpenVINO without its model conversion tools
        return
    init_ovc_telemetry().consent = False
