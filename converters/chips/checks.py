"""The checks of a network file's raw values against the ranges their records declare."""

from __future__ import annotations

from typing import Any

from .fields import FieldRange, declared_ranges, describe, offending

__all__ = ["NetworkFormatError", "check_fields"]


class NetworkFormatError(ValueError):
    """A file is not a neuroemu network file, or one of its fields is out of range."""


def _check(where: str, value: Any, kind: str, low: float | None, high: float | None) -> None:
    if value is None:
        return
    bad = offending(value, kind, low, high)
    if bad is not None:
        accepted = describe(kind, low, high)
        raise NetworkFormatError(f"{where} = {bad!r} is out of range: accepted {accepted}")


def _check_dependent(where: str, name: str, rng: FieldRange, fields: dict[str, Any]) -> None:
    selector = fields.get(rng.by)
    if not isinstance(selector, int):
        return  # the selecting field's own range refuses it
    if selector not in rng.choices:
        raise NetworkFormatError(
            f"{where}.{rng.by} = {selector!r} is out of range: accepted {rng.choices}"
        )
    _check(f"{where}.{name}", fields.get(name), rng.kind, *rng.bounds(selector))


def check_fields(record_cls: type, fields: dict[str, Any], where: str) -> None:
    """Raise NetworkFormatError naming the field, the value and the range of any field of
    ``fields`` (raw, not yet cast) outside the range ``record_cls`` declares for it."""
    ranges = declared_ranges(record_cls)
    for name, value in fields.items():
        rng = ranges.get(name)
        if rng is not None and rng.by is None:
            _check(f"{where}.{name}", value, rng.kind, *rng.bounds())
    for name, rng in ranges.items():
        if rng.by is not None:
            _check_dependent(where, name, rng, fields)
