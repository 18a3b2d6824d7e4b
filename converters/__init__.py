"""Model import (``frontends``), the layer graph, per-chip quantization (``targets``), exports
to other tools (``exports``) and training (``training``, loaded on first use)."""

from importlib import import_module

from .chips.akida import AkidaBits, AkidaLayer, AkidaNet
from .chips.loihi import LoihiInput, LoihiLayer, LoihiNet, LoihiProjection, QuantizationReport
from .exports.nir_export import NIRExportError, to_nir, write_nir
from .frontends.importer import UnsupportedLayerError, load, to_openvino
from .frontends.nir_import import NIRImportError, from_nir, read_nir
from .frontends.nir_rate import nir_to_graph
from .graph import Add, AvgPool2d, Conv2d, Dense, Flatten, Graph, Input, MaxPool2d, replace_maxpool
from .legacy_paths import keep_old_paths
from .targets.akida import AkidaMappingError, to_akida
from .targets.loihi import to_loihi
from .targets.normalization import activation_scales, normalize
from .training.zero_aware import SparsityReport, ZeroAware

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


# submodules that import torch or scikit-learn load on first use
_LAZY_MODULES = {
    "datasets": ".training.datasets",
    "models": ".training.models",
    "training": ".training",
}

keep_old_paths(
    __name__,
    {
        "net_io": "converters.chips.files",
        "net_checks": "converters.chips.checks",
        "importer": "converters.frontends.importer",
        "source_names": "converters.frontends.source_names",
        "nir_io": "converters.frontends.nir_import",
        "nir_quirks": "converters.frontends.nir_quirks",
        "nir_activity": "converters.exports.nir_activity",
        "akida_export": "converters.exports.akida_export",
        "akida_v2_export": "converters.exports.akida_v2_export",
        "openvino_graph": "converters.exports.openvino_graph",
        "loihi": "converters.targets.loihi",
        "akida": "converters.targets.akida",
        "akida_v2": "converters.targets.akida_v2",
        "normalization": "converters.targets.normalization",
        "populations": "converters.targets.populations",
        "conv_maps": "converters.targets.conv_maps",
        "datasets": "converters.training.datasets",
        "models": "converters.training.models",
        "quantized_layers": "converters.training.quantized_layers",
        "zero_aware": "converters.training.zero_aware",
        "commands": "neuroemu.commands.convert",
        "akida_commands": "converters.training.models",
        "nir_commands": "neuroemu.commands.nir",
        "arguments": "neuroemu.commands.arguments",
    },
)


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        return import_module(_LAZY_MODULES[name], __name__)
    raise AttributeError(f"module 'converters' has no attribute {name!r}")
