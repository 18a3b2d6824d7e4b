"""Command-line types that check a number against its accepted range, or an output path, before
any work, and the ``--accounting`` option."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from converters.output_paths import check_output_file
from hwmodels.accounting import CONVENTIONS, DEFAULT, DESCRIPTION

__all__ = ["int_range", "float_range", "output_file", "add_accounting"]


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


def output_file(text: str) -> str:
    """An argparse ``type``: a path that is absent or a regular file (see check_output_file)."""
    try:
        check_output_file(text, "path")
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def add_accounting(parser: argparse.ArgumentParser) -> None:
    """Add ``--accounting``: which power parts an energy counts, one of the conventions."""
    parser.add_argument(
        "--accounting",
        choices=list(CONVENTIONS),
        default=DEFAULT,
        help="power parts the energy counts: "
        + "; ".join(f"{name}: {text}" for name, text in DESCRIPTION.items())
        + " (default: %(default)s)",
    )
