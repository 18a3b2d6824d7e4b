"""Spike traces: the Dataset format, its sharded store, lazy access, statistics, analysis and plots.

The format's public names (:func:`make_traces`, :func:`save_traces`, :func:`load_traces`, ...)
are importable from this package itself, where the former module ``emu.traces`` held them.
"""

from .dataset import (
    FORMAT,
    FORMAT_VERSION,
    SATURATION_KINDS,
    TraceFormatError,
    load_traces,
    make_traces,
    package_versions,
    save_traces,
)
from .records import BatchRecord

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SATURATION_KINDS",
    "BatchRecord",
    "TraceFormatError",
    "load_traces",
    "make_traces",
    "package_versions",
    "save_traces",
]
