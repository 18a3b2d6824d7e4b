"""Command-line types that check a number against its accepted range, or an output path, before any work."""

from __future__ import annotations

import argparse
import math
import os
import stat
from collections.abc import Callable
from pathlib import Path

__all__ = ["int_range", "float_range", "check_output_file", "output_file"]


def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``low..high`` (``high`` None: no upper bound)."""
    accepted = f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {accepted}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {accepted}")
        return value

    parse.__name__ = "integer"
    return parse


def float_range(
    low: float, high: float = math.inf, low_open: bool = False
) -> Callable[[str], float]:
    """An argparse ``type``: a finite number in ``[low, high]`` (``(low, high]`` if ``low_open``)."""
    bracket = "(" if low_open else "["
    accepted = f"a number in {bracket}{low:g}, {high:g}]"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {accepted}") from None
        below = value <= low if low_open else value < low
        if not math.isfinite(value) or below or value > high:
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {accepted}")
        return value

    parse.__name__ = "number"
    return parse


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


def output_file(text: str) -> str:
    """An argparse ``type``: a path that is absent or a regular file (see check_output_file)."""
    try:
        check_output_file(text, "path")
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text
