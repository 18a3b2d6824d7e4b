"""Import of torch modules, ONNX files and OpenVINO models into the layer graph.

Every source goes through OpenVINO's frontends, so one reader of OpenVINO's operation set
(:mod:`converters.frontends.openvino_reader`) covers them all. OpenVINO folds BatchNorm into the preceding convolution and drops
Dropout and Identity; whatever remains outside the supported set is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..graph import Conv2d, Dense, Graph
from .openvino_reader import OpenVINOReader, UnsupportedLayerError
from .source_names import layer_name, onnx_nodes

__all__ = ["load", "to_openvino", "UnsupportedLayerError"]


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
    graph = OpenVINOReader(to_openvino(model, example_input), onnx_nodes(model)).graph()
    return _torch_names(model, graph) if _is_torch_module(model) else graph


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
            renames[node.name] = layer_name(f"__module.{modules.pop(k)[0]}/")
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
