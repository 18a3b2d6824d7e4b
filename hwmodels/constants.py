"""The registry of hardware constants: value, range, unit, source and meaning, overridable from a file.

Every number an energy, power or latency model uses is declared once, as a
:class:`~hwmodels.constant.Constant` beside the model that reads it (``loihi_constants``,
``akida_constants``, ``akida_v2_constants``, ``ncs2_constants``), with the publication or
measurement it comes from, or the script that fitted it ("calibrated by scripts/... from
..."), or, where nothing gives it, the word "assumption" and the reasoning. A bounded
constant states a ``low``..``high`` range; the models evaluate every estimate at both ends
(see :mod:`hwmodels.estimate`). A JSON or TOML file of ``name = value`` pairs overrides
defaults; unknown names, published measurements (:data:`hwmodels.published.MEASUREMENTS`,
which :class:`Constants` reads but never overrides) and values outside the unit's physical
range are refused.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path

from . import akida_constants, akida_v2_constants, loihi_constants, ncs2_constants
from .constant import Constant
from .published import MEASUREMENTS

__all__ = [
    "Constant",
    "Constants",
    "ConstantsError",
    "REGISTRY",
    "UNIT_LIMITS",
    "check_physical",
    "load_constants",
]


# accepted (minimum, maximum, integer) per unit: what is physical for one chip or board
UNIT_LIMITS: dict[str, tuple[float, float, bool]] = {
    "J": (0.0, 1.0, False),
    "s": (0.0, 100.0, False),
    "W": (0.0, 100.0, False),
    "1/s": (1e-6, 1e9, False),
    "op/s": (1.0, 1e16, False),
    "B/s": (1.0, 1e13, False),
    "1": (0.0, 1e4, False),
    "B": (1.0, 64.0, False),
    "bit": (1.0, 64.0, True),
    "bytes": (1.0, 1e9, True),
    "cores": (1.0, 1e6, True),
    "tiles": (1.0, 1e5, True),
    "compartments": (1.0, 1e7, True),
    "synapses": (1.0, 1e9, True),
    "NPs": (1.0, 1e4, True),
    "filters": (1.0, 1e5, True),
    "frames": (1.0, 1e9, True),
}

REGISTRY: dict[str, Constant] = {
    c.name: c
    for c in (
        *loihi_constants.CONSTANTS,
        *akida_constants.CONSTANTS,
        *akida_constants.WORKLOAD_CONSTANTS,
        *ncs2_constants.CONSTANTS,
        *ncs2_constants.WORKLOAD_CONSTANTS,
        *akida_v2_constants.CONSTANTS,
    )
}


class ConstantsError(ValueError):
    """An override names an unknown constant or gives a value outside its unit's physical range."""


def accepted_range(name: str) -> str:
    """The accepted values of a constant, in words, with its unit."""
    unit = REGISTRY[name].unit
    lo, hi, integer = UNIT_LIMITS[unit]
    kind = "an integer" if integer else "a finite number"
    return f"{kind} in [{lo:g}, {hi:g}] {unit}"


class Constants(Mapping[str, float]):
    """The registry's values, with overrides; read it like a dict of name to value.

    A published measurement is answered by name too (read-only, never iterated): it is a
    validation target, not a model parameter.

    Parameters
    ----------
    overrides
        Values that replace defaults, by name.
    origin
        Where the overrides came from (a file path), recorded in every estimate.
    """

    def __init__(self, overrides: Mapping[str, float] | None = None, origin: str = "defaults"):
        overrides = dict(overrides or {})
        for name, value in overrides.items():
            _validate(name, value, origin)
        self._values = {name: c.value for name, c in REGISTRY.items()}
        self._values.update({k: float(v) for k, v in overrides.items()})
        check_physical(self._values, origin)
        self.overridden = sorted(overrides)
        self.origin = origin

    def __getitem__(self, name: str) -> float:
        if name in self._values:
            return self._values[name]
        if name in MEASUREMENTS:
            return MEASUREMENTS[name].value
        raise KeyError(_unknown(name))

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def replace(self, **overrides: float) -> Constants:
        """A copy with more overrides (values moved by :meth:`corner` are kept)."""
        kept = {k: v for k, v in self._values.items() if v != REGISTRY[k].value}
        merged = kept | {k: self._values[k] for k in self.overridden} | overrides
        return Constants(merged, self.origin if not overrides else f"{self.origin} + code")

    def corner(self, end: str, names: list[str]) -> Constants:
        """A copy with every named constant that was not overridden at the ``low`` or ``high``
        end of its stated range (an overridden value is taken as exact)."""
        index = {"low": 0, "high": 1}[end]
        moved = {
            n: REGISTRY[n].range[index]
            for n in names
            if n not in self.overridden and REGISTRY[n].range[index] != self._values[n]
        }
        merged = {k: self._values[k] for k in self.overridden} | moved
        out = Constants(merged, self.origin)
        out.overridden = list(self.overridden)
        return out

    def record(self, names: list[str]) -> dict[str, dict]:
        """Value, range, unit and source (or "override"), for the named constants."""
        out = {}
        for n in names:
            over = n in self.overridden
            low, high = (self[n], self[n]) if over else REGISTRY[n].range
            out[n] = {
                "value": self[n],
                "low": low,
                "high": high,
                "unit": REGISTRY[n].unit,
                "source": "override" if over else REGISTRY[n].source,
            }
        return out


def _unknown(name: str) -> str:
    return f"unknown constant {name!r}; accepted names: {', '.join(sorted(REGISTRY))}"


def _validate(name: str, value: object, origin: str) -> None:
    if name in MEASUREMENTS:
        raise ConstantsError(
            f"{origin}: {name!r} is a published measurement ({MEASUREMENTS[name].source}), "
            "a validation target, not a model parameter: it cannot be overridden"
        )
    if name not in REGISTRY:
        raise ConstantsError(f"{origin}: {_unknown(name)}")
    unit = REGISTRY[name].unit
    lo, hi, integer = UNIT_LIMITS[unit]
    ok = (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and lo <= value <= hi
        and (not integer or float(value).is_integer())
    )
    if not ok:
        raise ConstantsError(
            f"{origin}: constant {name!r} ({unit}) must be {accepted_range(name)}, got {value!r}"
        )


def check_physical(values: Mapping[str, float], origin: str) -> None:
    """Refuse (ConstantsError) values that are each in range but together not physical:
    a chip whose every time constant is 0 would have no latency, so no frame rate or power
    (fixed overheads, such as a call's, may be 0)."""
    chips: dict[str, list[str]] = {}
    for name, constant in REGISTRY.items():
        if constant.unit == "s" and "overhead" not in name:
            chips.setdefault(name.split("_")[0], []).append(name)
    for chip, names in sorted(chips.items()):
        if all(values[n] == 0 for n in names):
            raise ConstantsError(
                f"{origin}: every time constant of {chip} is 0 ({', '.join(names)}); a chip "
                "with no latency has no frame rate or power: give at least one a value > 0"
            )


def load_constants(path: str | os.PathLike | None) -> Constants:
    """Defaults overridden by a JSON or TOML file of ``name = value`` pairs (None: defaults)."""
    if path is None:
        return Constants()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"constants file {path} does not exist")
    text = path.read_text()
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise ConstantsError(f"{path}: cannot parse as {path.suffix or 'JSON'}: {err}") from err
    except RecursionError:
        raise ConstantsError(f"{path}: nested too deeply; expected name = value pairs") from None
    if not isinstance(data, dict):
        raise ConstantsError(f"{path}: expected a table of name = value pairs")
    return Constants(data, str(path))
