"""Energy, power and latency models of Loihi, Akida and the NCS2, and comparison reports."""

from . import akida, loihi, ncs2, report
from .constants import REGISTRY, Constant, Constants, ConstantsError, load_constants
from .estimate import Estimate, LayerEstimate, load_estimate
from .trace_input import TraceMismatchError

__all__ = [
    "REGISTRY",
    "Constant",
    "Constants",
    "ConstantsError",
    "Estimate",
    "LayerEstimate",
    "TraceMismatchError",
    "load_constants",
    "load_estimate",
    "akida",
    "loihi",
    "ncs2",
    "report",
]
