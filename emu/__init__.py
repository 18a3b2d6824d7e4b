"""Brian2 emulation of Loihi and Akida arithmetic, and the spike traces it records."""

from importlib import import_module

from converters.legacy_paths import keep_old_paths

from . import analysis
from .records import BatchRecord
from .trace_access import open_traces
from .traces import TraceFormatError, load_traces, make_traces, save_traces

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
    "emu",
    {
        "commands": "neuroemu.commands.run",
        "trace_commands": "neuroemu.commands.traces",
    },
)

# imported on first use: Brian2 and matplotlib take seconds and tens of MB that trace
# analysis does not need
_LAZY = {"Emulation": ".emulation", "shard_directory": ".trace_store", "plot": ".plot"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'emu' has no attribute {name!r}")
    module = import_module(_LAZY[name], __name__)
    return module if name == "plot" else getattr(module, name)
