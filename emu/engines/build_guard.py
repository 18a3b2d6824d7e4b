"""Run a build command in a process group of its own, ended with the process that started it.

Usage: ``python build_guard.py PARENT_PID COMMAND [ARG ...]``. The command (``make`` and
the compilers it starts) runs in a new session; when the parent ends (``kill -9``
included) or this guard is interrupted, the whole group is killed, so no compiler
outlives the run that wanted it. The guard exits with the command's status.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

__all__ = ["guarded", "main"]

_POLL_S = 0.1


def guarded(command: list[str]) -> list[str]:
    """``command`` wrapped to run under this guard, tied to the current process."""
    return [sys.executable, os.path.abspath(__file__), str(os.getpid()), *command]


def _end_group(child: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def main(argv: list[str]) -> int:
    """Run ``argv[1:]`` tied to the process ``argv[0]``; its exit status, 1 when cut short."""
    parent, command = int(argv[0]), argv[1:]
    child = subprocess.Popen(command, start_new_session=True)

    def stop(signum: int, frame: object) -> None:
        _end_group(child)
        os._exit(128 + signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    while True:
        try:
            return child.wait(timeout=_POLL_S)
        except subprocess.TimeoutExpired:
            if os.getppid() != parent and not _alive(parent):
                _end_group(child)
                return 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
