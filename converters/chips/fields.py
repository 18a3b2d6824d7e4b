"""Ranges that chip-record fields declare where they are defined, and the check that reads them.

A record field states the values it accepts in its ``dataclasses.field`` metadata::

    vth_mant: int = ints(0, VTH_MANT_MAX)
    bias_exp: int = ints(*BIAS_EXP_RANGE, default=0)
    weights: np.ndarray = ints_by("weight_bits", WEIGHT_RANGES)

The record's ``__post_init__`` calls :func:`check_ranges`; the network-file checks
(:mod:`converters.chips.checks`) and the command line's argument types
(:func:`declared_range`) read the same declarations, so every range is written once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "INDEX_MAX",
    "FieldRange",
    "ranged",
    "ints",
    "reals",
    "ints_by",
    "declared_range",
    "declared_ranges",
    "describe",
    "offending",
    "check_value",
    "check_ranges",
]

INDEX_MAX = 2**31 - 1  # the largest index, size or count a record holds
_KEY = "range"


@dataclasses.dataclass(frozen=True)
class FieldRange:
    """The values a field accepts: ``kind`` "int" or "real" in ``low..high`` (None: no bound).

    A range that depends on another field of the record (``by``, e.g. the weights' range on
    ``weight_bits``) takes its bounds from ``table`` by that field's value; ``low`` and
    ``high`` then span every entry of the table.
    """

    kind: str
    low: float | None
    high: float | None
    by: str | None = None
    table: tuple[tuple[Any, tuple[float, float]], ...] = ()

    def bounds(self, selector: Any = None) -> tuple[float | None, float | None]:
        """``(low, high)``, or the table's entry for the ``by`` field's value ``selector``."""
        return dict(self.table)[selector] if self.by else (self.low, self.high)

    @property
    def choices(self) -> tuple:
        """The values of the ``by`` field that the table covers."""
        return tuple(key for key, _ in self.table)


def ranged(kind: str, low: float | None, high: float | None, **field_options: Any) -> Any:
    """A ``dataclasses.field`` declaring the range ``low..high`` of ``kind`` "int" or "real"."""
    if kind not in ("int", "real"):
        raise ValueError(f"a field range is of kind 'int' or 'real', got {kind!r}")
    metadata = {_KEY: FieldRange(kind, low, high)}
    return dataclasses.field(metadata=metadata, **field_options)


def ints(low: int | None, high: int | None, **field_options: Any) -> Any:
    """A field of integers in ``low..high`` (a scalar, a tuple or an array of them)."""
    return ranged("int", low, high, **field_options)


def reals(low: float | None, high: float | None, **field_options: Any) -> Any:
    """A field of finite numbers in ``[low, high]``."""
    return ranged("real", low, high, **field_options)


def ints_by(by: str, table: Mapping[Any, tuple[int, int]], **field_options: Any) -> Any:
    """A field of integers whose range ``table[value of field by]`` depends on field ``by``."""
    lows, highs = zip(*table.values(), strict=True)
    rng = FieldRange("int", min(lows), max(highs), by, tuple(table.items()))
    return dataclasses.field(metadata={_KEY: rng}, **field_options)


def declared_ranges(record_cls: type) -> dict[str, FieldRange]:
    """Field name -> declared range, for every field of ``record_cls`` that declares one."""
    return {f.name: f.metadata[_KEY] for f in dataclasses.fields(record_cls) if _KEY in f.metadata}


def declared_range(record_cls: type, field_name: str) -> FieldRange:
    """The range field ``field_name`` of ``record_cls`` declares (KeyError where none)."""
    ranges = declared_ranges(record_cls)
    if field_name not in ranges:
        raise KeyError(f"{record_cls.__name__}.{field_name} declares no range")
    return ranges[field_name]


def describe(kind: str, low: float | None, high: float | None) -> str:
    """The accepted values in words: "integers in 0..7", "finite numbers in [0, 1]"."""
    if kind == "int":
        return f"integers in {low}..{high}" if high is not None else f"integers >= {low}"
    return (
        f"finite numbers in [{low:g}, {high:g}]"
        if high is not None
        else f"finite numbers >= {low:g}"
    )


def offending(value: Any, kind: str, low: float | None, high: float | None) -> Any:
    """The first value of ``value`` (a scalar, tuple or array) outside the range, or None.

    Booleans, strings and other non-numbers are never inside; nor are floats where integers
    are expected (never truncated), nor NaN or infinities.
    """
    arr = np.asarray(value)
    if arr.dtype == object:
        return value
    flat = arr.reshape(-1)
    if not flat.size:
        return None
    if arr.dtype.kind not in "iuf" or (kind == "int" and arr.dtype.kind == "f"):
        return flat[0].item()
    bad = ~np.isfinite(flat) if arr.dtype.kind == "f" else np.zeros(len(flat), bool)
    if low is not None:
        bad |= flat < low
    if high is not None:
        bad |= flat > high
    return flat[bad][0].item() if bad.any() else None


def check_value(name: str, value: Any, kind: str, low: float | None, high: float | None) -> None:
    """Raise ValueError "``name`` must be <accepted values>, got <the first value outside>"."""
    bad = offending(value, kind, low, high)
    if bad is not None:
        raise ValueError(f"{name} must be {describe(kind, low, high)}, got {bad!r}")


def check_ranges(record: Any, where: str = "") -> None:
    """Raise ValueError naming the field, the value and the accepted range of the first field
    of ``record`` outside its declared range (``where`` prefixes the message); None passes."""
    prefix = f"{where}: " if where else ""
    for name, rng in declared_ranges(type(record)).items():
        value = getattr(record, name)
        selector = getattr(record, rng.by) if rng.by else None
        if value is None:
            continue
        if rng.by and selector not in rng.choices:
            raise ValueError(f"{prefix}{rng.by} must be one of {rng.choices}, got {selector!r}")
        check_value(f"{prefix}{name}", value, rng.kind, *rng.bounds(selector))
