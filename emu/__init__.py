"""Emulation of Loihi and Akida arithmetic on registered engines, and the spike traces it records."""

from importlib import import_module

from converters.legacy_paths import keep_old_paths

from .traces import TraceFormatError, analysis, load_traces, make_traces, save_traces
from .traces.access import open_traces
from .traces.records import BatchRecord

__all__ = [
    "BatchRecord",
    "Emulation",
    "shard_directory",
    "TraceFormatError",
    "analysis",
    "load_traces",
    "make_traces",
    "open_traces",
    "plot",
    "save_traces",
]

keep_old_paths(
    __name__,
    {
        "akida_import": "converters.frontends.akida_import",
        "akida_v2_import": "converters.frontends.akida_v2_import",
        "backend": "emu.engines",
        "standalone": "emu.engines.standalone",
        "loihi_backend": "emu.engines.loihi_brian2",
        "akida_backend": "emu.engines.akida_brian2",
        "akida_v2_backend": "emu.engines.akida_v2_brian2",
        "loihi_native": "emu.engines.loihi_native",
        "native": "emu.engines.native",
        "akida_tensor": "emu.engines.akida_tensor",
        "akida_v2_tensor": "emu.engines.akida_v2_tensor",
        "loihi_reference": "emu.engines.loihi_reference",
        "akida_reference": "emu.engines.akida_reference",
        "akida_v2_reference": "emu.engines.akida_v2_reference",
        "cuda": "emu.engines.cuda",
        "conv_delivery": "emu.engines.conv_delivery",
        "conv_geometry": "emu.engines.conv_geometry",
        "fanout": "emu.engines.fanout",
        "build_guard": "emu.engines.build_guard",
        "run_budget": "emu.engines.run_budget",
        "trace_store": "emu.traces.store",
        "trace_access": "emu.traces.access",
        "trace_stats": "emu.traces.stats",
        "trace_bounds": "emu.traces.bounds",
        "analysis": "emu.traces.analysis",
        "plot": "emu.traces.plot",
        "records": "emu.traces.records",
        "output_lock": "emu.traces.output_lock",
        "commands": "neuroemu.commands.run",
        "trace_commands": "neuroemu.commands.traces",
    },
)

# imported on first use: Brian2 and matplotlib take seconds and tens of MB that trace
# analysis does not need
_LAZY = {"Emulation": ".emulation", "shard_directory": ".traces.store", "plot": ".traces.plot"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'emu' has no attribute {name!r}")
    module = import_module(_LAZY[name], __name__)
    return module if name == "plot" else getattr(module, name)
