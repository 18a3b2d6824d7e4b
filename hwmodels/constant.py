"""The record of one hardware constant: value, unit, source, meaning and stated range."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Constant", "bounded_names"]


@dataclass(frozen=True, kw_only=True)
class Constant:
    """One registered constant; ``low``..``high`` is its stated range (default: the value).

    A constant with a stated range is *bounded*: the models evaluate every estimate at both
    ends of the ranges of the bounded constants they read (see :mod:`hwmodels.estimate`).
    """

    name: str
    value: float
    unit: str
    source: str
    description: str
    low: float | None = None
    high: float | None = None

    @property
    def range(self) -> tuple[float, float]:
        low = self.value if self.low is None else self.low
        high = self.value if self.high is None else self.high
        return low, high

    @property
    def bounded(self) -> bool:
        """Whether the constant states a range (its estimates are bounded over it)."""
        return self.low is not None or self.high is not None


def bounded_names(constants: tuple[Constant, ...]) -> list[str]:
    """The names of the constants that state a range."""
    return [c.name for c in constants if c.bounded]
