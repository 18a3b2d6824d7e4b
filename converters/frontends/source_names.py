"""Where an OpenVINO op comes from in the user's file: the ONNX node as the file names it,
the torch module path, or the torch function called in ``forward`` (OpenVINO renames nodes,
e.g. ``Softmax_829`` for ONNX node ``n45``, ``aten::log_softmax/LogSoftmax`` for a call)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["onnx_nodes", "source_label", "layer_name"]


def onnx_nodes(model: Any) -> dict[str, str]:
    """Output tensor name -> the ONNX node producing it, as the file names it (``{}`` for
    other sources): OpenVINO renames nodes, the tensors keep their names."""
    if not (isinstance(model, str | Path) and Path(model).suffix == ".onnx"):
        return {}
    import onnx

    nodes = onnx.load(str(model), load_external_data=False).graph.node
    return {
        out: f"node {node.name!r}" if node.name else f"the node writing {out!r}"
        for node in nodes
        for out in node.output
    }


def source_label(op, onnx_nodes: dict[str, str]) -> str:
    """Where an OpenVINO op comes from in the user's file: the ONNX node, the torch module
    path, or the torch function called in ``forward``; OpenVINO's own name otherwise."""
    for tensor in op.output(0).get_names() if op.get_output_size() else ():
        if tensor in onnx_nodes:
            return onnx_nodes[tensor]
    friendly = op.get_friendly_name()
    module = re.match(r"__module\.([^/]+)/", friendly)
    if module:
        return f"module {module.group(1)!r}"
    call = re.match(r"aten::(\w+)", friendly)
    if call:
        return f"a call of {call.group(1)} in forward"
    return f"OpenVINO op {friendly!r}"


def layer_name(friendly: str) -> str:
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
