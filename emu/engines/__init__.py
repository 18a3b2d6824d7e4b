"""The emulation engines: one registry of (target, device) -> engine, one engine protocol.

Brian2 engines (``runtime``, ``cpp_standalone``, ``cuda_standalone``), the native Loihi
engine, the Akida tensor engines and the numpy references (``reference``) all implement
:class:`~emu.engines.base.Engine`; :func:`~emu.engines.registry.register_engine` adds one.
"""

from .base import Engine, code_digest, probed_neurons
from .input_range import input_range, out_of_range_counts
from .registry import (
    device_names,
    engine_class,
    make_engine,
    register_engine,
    registered_targets,
)
from .settings import RunSettings, default_cache_dir

__all__ = [
    "Engine",
    "RunSettings",
    "code_digest",
    "default_cache_dir",
    "device_names",
    "engine_class",
    "input_range",
    "make_engine",
    "out_of_range_counts",
    "probed_neurons",
    "register_engine",
    "registered_targets",
]
