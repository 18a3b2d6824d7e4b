"""Energy, power and latency models of Loihi, Akida and the NCS2, and comparison reports."""

from importlib import import_module

from converters.legacy_paths import keep_old_paths

from . import accounting, akida, loihi, published
from .constants import REGISTRY, Constant, Constants, ConstantsError, load_constants
from .estimate import Estimate, LayerEstimate, load_estimate
from .models import HardwareModel, models_for
from .trace_input import TraceMismatchError

__all__ = [
    "REGISTRY",
    "Constant",
    "Constants",
    "ConstantsError",
    "Estimate",
    "HardwareModel",
    "LayerEstimate",
    "TraceMismatchError",
    "load_constants",
    "load_estimate",
    "models_for",
    "accounting",
    "akida",
    "loihi",
    "published",
    "ncs2",
    "report",
]

keep_old_paths(
    __name__,
    {
        "registry_entries": "hwmodels.sources",
        "workloads": "hwmodels.calibration.workloads",
        "commands": "neuroemu.commands.estimate",
    },
)

# imported on first use: the NCS2 baseline needs OpenVINO, the reports matplotlib
_LAZY_MODULES = ("ncs2", "report")


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'hwmodels' has no attribute {name!r}")
