"""Output paths checked before any work: absent or a regular file, never a directory or device."""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["check_output_file"]


def check_output_file(path: str | os.PathLike, what: str = "--out") -> Path:
    """``path`` as a Path when it may be written: absent or a regular file (ValueError else).

    A device node, FIFO, socket or directory is refused: writing through a temporary file
    renamed into place would replace it.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return path
    except OSError as err:
        raise ValueError(f"{what} {path} cannot be examined ({err.strerror})") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise ValueError(
            f"{what} {path} is {kind}; give the path of a regular file (existing or new)"
        )
    return path
