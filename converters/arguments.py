"""Command-line number types that check a value against its accepted range before any work."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["int_range", "float_range"]


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
