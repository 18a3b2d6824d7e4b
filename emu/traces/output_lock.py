"""The lock by which one run owns its output file and shard directory for the run's life.

The lock is an advisory ``flock`` on ``<out>.lock``, which holds the owner's process id:
the kernel releases it when the owner ends, ``kill -9`` included, so a stale file never
blocks a rerun. A second run on the same output is refused at once, naming the owner.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

__all__ = ["OutputInUseError", "OutputLock", "lock_path"]


class OutputInUseError(OSError):
    """Another live run holds the lock on this output."""


def lock_path(out: str | os.PathLike) -> Path:
    """The lock file of a run writing ``out``: ``<out>.lock``."""
    out = Path(out)
    return out.with_name(out.name + ".lock")


class OutputLock:
    """Exclusive ownership of ``out`` (and ``<out>.shards/``) by this process."""

    def __init__(self, out: str | os.PathLike):
        self.out = Path(out)
        self.path = lock_path(out)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise OutputInUseError naming the run that holds it."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise OutputInUseError(
                    errno.EBUSY,
                    f"another run is writing {self.out} (pid {owner}); wait for it to end "
                    "or choose another output",
                ) from None
            if self._same_file(fd):  # not a file its last owner removed meanwhile
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def _same_file(self, fd: int) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def release(self) -> None:
        """Give the lock up and remove its file (a no-op when not held)."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
