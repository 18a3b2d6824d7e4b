"""Brian2 emulation of Loihi and Akida arithmetic, and the spike traces it records."""

from .emulation import Emulation, shard_directory
from .records import BatchRecord
from .traces import TraceFormatError, load_traces, make_traces, save_traces

__all__ = [
    "BatchRecord",
    "Emulation",
    "shard_directory",
    "TraceFormatError",
    "load_traces",
    "make_traces",
    "save_traces",
]
