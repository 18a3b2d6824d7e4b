"""The float layer graph every converter reads and writes, with a numpy forward pass.

Shapes are NCHW (a batch axis first). A node names its inputs; nodes are stored in
topological order, so evaluating them in order is a valid forward pass.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Input",
    "Conv2d",
    "Dense",
    "AvgPool2d",
    "MaxPool2d",
    "Flatten",
    "Add",
    "Node",
    "Graph",
    "SUPPORTED_LAYERS",
    "replace_maxpool",
]


@dataclass
class Input:
    name: str
    shape: tuple[int, ...]  # one sample: (C, H, W) or (F,)
    inputs: list[str] = field(default_factory=list)
    scale: float = 1.0  # the graph reads its input divided by this (set by normalization)


def _summary(a: np.ndarray) -> str:
    """An array as its shape and value range, never its values."""
    shape = "x".join(str(d) for d in np.shape(a))
    if np.size(a) == 0:
        return f"[{shape}]"
    return f"[{shape}] in [{np.min(a):.3g}, {np.max(a):.3g}]"


def _layer_repr(node, extra: str = "") -> str:
    parts = [repr(node.name), f"inputs={node.inputs}"]
    for key in ("weight", "bias"):
        if hasattr(node, key):
            parts.append(f"{key}{_summary(getattr(node, key))}")
    if extra:
        parts.append(extra)
    if getattr(node, "relu", False):
        parts.append("relu")
    return f"{type(node).__name__}({', '.join(parts)})"


@dataclass(repr=False)
class Conv2d:
    name: str
    inputs: list[str]
    weight: np.ndarray  # [O, I / groups, kh, kw]
    bias: np.ndarray  # [O]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, left, bottom, right
    groups: int = 1
    relu: bool = False

    def __repr__(self) -> str:
        extra = f"stride={self.stride}, padding={self.padding}"
        return _layer_repr(self, extra + (f", groups={self.groups}" if self.groups > 1 else ""))


@dataclass(repr=False)
class Dense:
    name: str
    inputs: list[str]
    weight: np.ndarray  # [O, I]
    bias: np.ndarray  # [O]
    relu: bool = False

    def __repr__(self) -> str:
        return _layer_repr(self)


@dataclass
class AvgPool2d:
    name: str
    inputs: list[str]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    count_include_pad: bool = True


@dataclass
class MaxPool2d:
    name: str
    inputs: list[str]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)


@dataclass
class Flatten:
    name: str
    inputs: list[str]


@dataclass
class Add:
    name: str
    inputs: list[str]  # two or more tensors of one shape
    relu: bool = False
    scale: tuple[float, ...] | None = None  # per-input factors; None means all ones


Node = Input | Conv2d | Dense | AvgPool2d | MaxPool2d | Flatten | Add
SUPPORTED_LAYERS = (
    "Conv2d (with BatchNorm folded)",
    "Dense / Linear",
    "ReLU",
    "AvgPool2d",
    "MaxPool2d",
    "Flatten",
    "Add (residual)",
    "Dropout and Identity (dropped)",
    "Softmax / LogSoftmax as the last layer (dropped, with a note)",
)


@dataclass(repr=False)
class Graph:
    """A feed-forward layer graph: nodes in topological order, one input, one output."""

    nodes: list[Node]
    output: str

    def __repr__(self) -> str:
        shapes = self.shapes()
        rows = [
            f"Graph({len(self.nodes)} nodes, output {self.output!r}, {self.parameters()} parameters)"
        ]
        for n in self.nodes:
            shape = "x".join(str(d) for d in shapes[n.name])
            rows.append(f"  {shape:>10}  {n!r}")
        return "\n".join(rows)

    def parameters(self) -> int:
        """Number of weights and biases."""
        return sum(
            n.weight.size + n.bias.size for n in self.nodes if isinstance(n, (Conv2d, Dense))
        )

    def __post_init__(self) -> None:
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise ValueError(f"node names must be unique, got {names}")
        seen: set[str] = set()
        for node in self.nodes:
            missing = [i for i in node.inputs if i not in seen]
            if missing:
                raise ValueError(f"node {node.name!r} reads {missing} before they are defined")
            seen.add(node.name)
        if self.output not in seen:
            raise ValueError(f"output {self.output!r} is not a node of the graph")
        if not isinstance(self.nodes[0], Input):
            raise ValueError("the first node of a graph must be its Input")

    @property
    def input(self) -> Input:
        return self.nodes[0]  # type: ignore[return-value]

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node named {name!r}; nodes: {[n.name for n in self.nodes]}")

    def consumers(self, name: str) -> list[Node]:
        return [n for n in self.nodes if name in n.inputs]

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Per-sample output shape of every node."""
        x = np.zeros((1, *self.input.shape), dtype=np.float32)
        return {k: v.shape[1:] for k, v in self.forward(x, keep_all=True).items()}

    def forward(self, x: np.ndarray, keep_all: bool = False) -> np.ndarray | dict:
        """Evaluate the graph on a batch ``x`` of shape (N, *input.shape).

        Returns the output, or with ``keep_all`` a dict of every node's output.
        """
        x = np.asarray(x, dtype=np.float64)
        if x.shape[1:] != tuple(self.input.shape):
            raise ValueError(
                f"input batch has sample shape {x.shape[1:]}, the graph expects {tuple(self.input.shape)}"
            )
        values: dict[str, np.ndarray] = {self.input.name: x / self.input.scale}
        for node in self.nodes[1:]:
            values[node.name] = _evaluate(node, [values[i] for i in node.inputs])
        return values if keep_all else values[self.output]


def _evaluate(node: Node, args: list[np.ndarray]) -> np.ndarray:
    x = args[0]
    if isinstance(node, Conv2d):
        y = conv2d(x, node.weight, node.stride, node.padding, node.groups)
        y = y + node.bias[None, :, None, None]
    elif isinstance(node, Dense):
        y = x @ node.weight.T + node.bias
    elif isinstance(node, AvgPool2d):
        y = pool2d(x, node.kernel, node.stride, node.padding, "avg", node.count_include_pad)
    elif isinstance(node, MaxPool2d):
        y = pool2d(x, node.kernel, node.stride, node.padding, "max")
    elif isinstance(node, Flatten):
        y = x.reshape(len(x), -1)
    elif isinstance(node, Add):
        scale = node.scale or (1.0,) * len(args)
        y = sum(s * a for s, a in zip(scale, args, strict=True))
    else:
        raise TypeError(f"cannot evaluate node {node!r}")
    if getattr(node, "relu", False):
        y = np.maximum(y, 0.0)
    return y


def _windows(x: np.ndarray, kernel, stride, padding, fill: float) -> np.ndarray:
    top, left, bottom, right = padding
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)
    w = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=(2, 3))
    return w[:, :, :: stride[0], :: stride[1]]  # N, C, Ho, Wo, kh, kw


def conv2d(x: np.ndarray, weight: np.ndarray, stride, padding, groups: int = 1) -> np.ndarray:
    """Cross-correlation as torch's Conv2d computes it (NCHW, weight [O, I/groups, kh, kw])."""
    win = _windows(x, weight.shape[2:], stride, padding, 0.0)
    cin = weight.shape[1]
    cout = weight.shape[0] // groups
    outs = [
        np.einsum(
            "nchwij,ocij->nohw",
            win[:, g * cin : (g + 1) * cin],
            weight[g * cout : (g + 1) * cout],
            optimize=True,
        )
        for g in range(groups)
    ]
    return np.concatenate(outs, axis=1)


def pool2d(x, kernel, stride, padding, mode: str, count_include_pad: bool = True) -> np.ndarray:
    """Average or max pooling over NCHW windows."""
    if mode == "max":
        return _windows(x, kernel, stride, padding, -np.inf).max(axis=(4, 5))
    total = _windows(x, kernel, stride, padding, 0.0).sum(axis=(4, 5))
    if count_include_pad or not any(padding):
        return total / (kernel[0] * kernel[1])
    ones = np.ones((1, 1, *x.shape[2:]))
    counts = _windows(ones, kernel, stride, padding, 0.0).sum(axis=(4, 5))
    return total / counts


def replace_maxpool(graph: Graph) -> Graph:
    """A copy of ``graph`` with every MaxPool2d replaced by an AvgPool2d of the same window.

    This changes the function (fine-tune the source model instead where possible, see
    :func:`converters.training.replace_maxpool`); padded cells count as zeros.
    """
    nodes = [
        AvgPool2d(n.name, list(n.inputs), n.kernel, n.stride, n.padding)
        if isinstance(n, MaxPool2d)
        else copy.deepcopy(n)
        for n in graph.nodes
    ]
    return Graph(nodes, graph.output)
