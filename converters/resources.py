"""Bounds on what a file or a run may cost, checked before anything is allocated.

:func:`check_fits` compares a size that a file or a setting declares with a fixed cap
and with the memory this machine has available (``MemAvailable`` of ``/proc/meminfo``,
or the address-space limit of this process when one is set, whichever is lower).
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

__all__ = ["ResourceLimitError", "available_memory", "check_fits", "gib"]


class ResourceLimitError(ValueError):
    """A file or a setting asks for more memory than is allowed or available."""


def available_memory() -> int:
    """Bytes this process may still allocate: free memory, under any ``RLIMIT_AS`` set."""
    free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        free = min(free, max(soft - _address_space_used(), 0))
    return free


def _address_space_used() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def gib(n: float) -> str:
    """``n`` bytes in GiB, for messages."""
    return f"{n / 2**30:.3g} GiB"


def check_fits(nbytes: int, what: str, hint: str, cap: int | None = None) -> None:
    """Raise ResourceLimitError when ``what`` needs more than ``cap`` bytes or than is
    available; ``hint`` says what to lower."""
    free = available_memory()
    limit = free if cap is None else min(cap, free)
    if nbytes > limit:
        bound = (
            f"the cap of {gib(cap)}"
            if cap is not None and cap <= free
            else f"the {gib(free)} available"
        )
        raise ResourceLimitError(f"{what} needs {gib(nbytes)}, more than {bound}; {hint}")
