"""Model import, the layer graph, normalization and per-chip quantization."""

from .graph import Add, AvgPool2d, Conv2d, Dense, Flatten, Graph, Input, MaxPool2d
from .importer import UnsupportedLayerError, load, to_openvino

__all__ = [
    "Add",
    "AvgPool2d",
    "Conv2d",
    "Dense",
    "Flatten",
    "Graph",
    "Input",
    "MaxPool2d",
    "UnsupportedLayerError",
    "load",
    "to_openvino",
]
