"""Model import, the layer graph, normalization and per-chip quantization."""

from importlib import import_module

from .akida import AkidaMappingError, to_akida
from .chips.akida import AkidaBits, AkidaLayer, AkidaNet
from .chips.loihi import LoihiInput, LoihiLayer, LoihiNet, LoihiProjection, QuantizationReport
from .graph import Add, AvgPool2d, Conv2d, Dense, Flatten, Graph, Input, MaxPool2d, replace_maxpool
from .importer import UnsupportedLayerError, load, to_openvino
from .legacy_paths import keep_old_paths
from .loihi import to_loihi
from .nir_io import (
    NIRExportError,
    NIRImportError,
    from_nir,
    nir_to_graph,
    read_nir,
    to_nir,
    write_nir,
)
from .normalization import activation_scales, normalize
from .zero_aware import SparsityReport, ZeroAware

__all__ = [
    "AkidaBits",
    "AkidaLayer",
    "AkidaMappingError",
    "AkidaNet",
    "SparsityReport",
    "ZeroAware",
    "to_akida",
    "Add",
    "AvgPool2d",
    "Conv2d",
    "Dense",
    "Flatten",
    "Graph",
    "Input",
    "LoihiInput",
    "LoihiLayer",
    "LoihiNet",
    "LoihiProjection",
    "QuantizationReport",
    "activation_scales",
    "normalize",
    "to_loihi",
    "MaxPool2d",
    "replace_maxpool",
    "NIRExportError",
    "NIRImportError",
    "from_nir",
    "nir_to_graph",
    "read_nir",
    "to_nir",
    "write_nir",
    "UnsupportedLayerError",
    "load",
    "to_openvino",
]

keep_old_paths(
    "converters",
    {
        "commands": "neuroemu.commands.convert",
        "akida_commands": "converters.models",
        "nir_commands": "neuroemu.commands.nir",
        "arguments": "neuroemu.commands.arguments",
    },
)

# submodules that import torch or scikit-learn load on first use
_LAZY_MODULES = ("datasets", "models", "training")


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'converters' has no attribute {name!r}")
