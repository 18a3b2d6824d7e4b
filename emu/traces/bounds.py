"""A bound on what a trace file may declare: no variable larger than its bytes on disk can hold.

A trace file is written by h5netcdf with gzip, which cannot compress more than about
1032:1; a dataset that declares more than :data:`MAX_RATIO` times its stored bytes (an
HDF5 dataset with no storage allocated, or a forged shape) is refused before any of it
is read, so that a few kilobytes cannot make a command allocate gigabytes.
"""

from __future__ import annotations

import os

import h5py
import numpy as np

from .dataset import TraceFormatError

__all__ = ["MAX_RATIO", "check_declared_sizes"]

MAX_RATIO = 1100
_SMALL = 1 << 20  # datasets below this many bytes are not checked


def check_declared_sizes(path: str | os.PathLike) -> None:
    """Raise TraceFormatError when a dataset of ``path`` declares more data than it stores."""
    oversized: list[str] = []

    def visit(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset) and obj.shape is not None and not _bare_dimension(obj):
            declared = int(np.prod(obj.shape, dtype=np.float64)) * obj.dtype.itemsize
            if declared > _SMALL and declared > MAX_RATIO * obj.id.get_storage_size():
                oversized.append(f"{name} {obj.shape} ({obj.id.get_storage_size()} bytes stored)")

    try:
        with h5py.File(path, "r") as f:
            f.visititems(visit)
    except (OSError, ValueError) as err:
        raise TraceFormatError(f"{path} is not a readable HDF5 trace file: {err}") from None
    if oversized:
        raise TraceFormatError(
            f"{path} declares more data than it holds: {oversized[0]}; a trace file stores "
            f"every value it declares (compressed at most {MAX_RATIO}:1)"
        )


def _bare_dimension(obj: h5py.Dataset) -> bool:
    """A netCDF dimension without coordinate values: a scale with no data, never read."""
    name = obj.attrs.get("NAME", b"")
    name = name if isinstance(name, bytes) else str(name).encode()
    return obj.attrs.get("CLASS") == b"DIMENSION_SCALE" and b"not a netCDF variable" in name
