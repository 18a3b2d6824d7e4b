"""The Estimate record: energy, power and latency per inference, split and attributed.

Energy per inference is ``dynamic + static``; the time between inferences (``period``) is
the latency when inferences run back to back, or ``1 / rate`` when inputs arrive at a
given rate; power is energy per inference over the period. ``bounds`` holds, per figure,
the lowest and highest value over the two corners of the constants' stated ranges
(every ranged constant at its low end, then at its high end); see :func:`with_bounds`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["Estimate", "LayerEstimate", "BOUNDED", "load_estimate", "with_bounds"]

BOUNDED = (
    "energy",
    "energy_static",
    "energy_dynamic",
    "latency",
    "power",
    "power_static",
    "power_dynamic",
)


@dataclass
class LayerEstimate:
    """One layer's share of an estimate, per inference."""

    name: str
    energy_dynamic: float  # J
    counts: dict[str, float] = field(default_factory=dict)  # operation counts per inference
    units: int = 0  # cores (Loihi) or neural processors (Akida) the layer occupies


@dataclass
class Estimate:
    """Energy (J), power (W) and latency (s) of one platform, per inference.

    ``model`` names the model that produced it, ``constants`` holds every constant it read
    (value, unit, source) and ``assumptions`` what it took for granted.
    """

    platform: str
    label: str
    model: str
    latency: float  # s per inference
    period: float  # s between inferences
    energy_dynamic: float  # J per inference
    energy_static: float  # J per inference
    accuracy: float | None
    samples: int
    layers: list[LayerEstimate] = field(default_factory=list)
    constants: dict[str, dict] = field(default_factory=dict)
    constants_origin: str = "defaults"
    assumptions: list[str] = field(default_factory=list)
    details: dict[str, object] = field(default_factory=dict)
    bounds: dict[str, list[float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def energy(self) -> float:
        """Total energy per inference (J)."""
        return self.energy_dynamic + self.energy_static

    @property
    def power(self) -> float:
        """Average power while running (W)."""
        return self.energy / self.period

    @property
    def power_dynamic(self) -> float:
        return self.energy_dynamic / self.period

    @property
    def power_static(self) -> float:
        return self.energy_static / self.period

    def low(self, name: str) -> float:
        """The low end of a figure's range (the figure itself without bounds)."""
        return self.bounds.get(name, [getattr(self, name)] * 2)[0]

    def high(self, name: str) -> float:
        """The high end of a figure's range (the figure itself without bounds)."""
        return self.bounds.get(name, [getattr(self, name)] * 2)[1]

    def to_dict(self) -> dict:
        """A JSON-ready dict, derived figures included."""
        out = asdict(self)
        out.update(energy=self.energy, power=self.power)
        out.update(power_dynamic=self.power_dynamic, power_static=self.power_static)
        return out

    def save(self, path: str | os.PathLike) -> Path:
        """Write the estimate as JSON."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    def summary(self) -> str:
        """One paragraph: the figures, the model, where the constants came from."""
        acc = "n/a" if self.accuracy is None else f"{100 * self.accuracy:.2f}%"

        def fig(name: str, scale: float = 1.0) -> str:
            v, lo, hi = (scale * f(name) for f in (lambda n: getattr(self, n), self.low, self.high))
            return f"{v:.4g} [{lo:.4g}-{hi:.4g}]"

        text = (
            f"{self.label} [{self.platform}]: accuracy {acc} on {self.samples} samples; "
            f"latency {fig('latency', 1e3)} ms; power {fig('power')} W "
            f"({fig('power_static')} static + {fig('power_dynamic')} dynamic); "
            f"energy {fig('energy', 1e3)} mJ/inference "
            f"({fig('energy_static', 1e3)} static + {fig('energy_dynamic', 1e3)} dynamic)\n"
            f"  model: {self.model}; constants: {self.constants_origin}"
        )
        return text + "".join(f"\n  WARNING: {w}" for w in self.warnings)


def load_estimate(path: str | os.PathLike) -> Estimate:
    """Read an estimate written by :meth:`Estimate.save`."""
    path = Path(path)
    data = json.loads(path.read_text())
    for derived in ("energy", "power", "power_dynamic", "power_static"):
        data.pop(derived, None)
    try:
        data["layers"] = [LayerEstimate(**layer) for layer in data.get("layers", [])]
        return Estimate(**data)
    except TypeError as err:
        raise ValueError(f"{path} is not an estimate file: {err}") from err


def with_bounds(compute: Callable[..., Estimate], constants, names: list[str]) -> Estimate:
    """Run ``compute(constants)`` at the registry values and at both corners of the named
    constants' ranges; the central estimate comes back with ``bounds`` filled."""
    central = compute(constants)
    corners = [compute(constants.corner(end, names)) for end in ("low", "high")]
    for name in BOUNDED:
        values = [getattr(e, name) for e in (central, *corners)]
        central.bounds[name] = [float(min(values)), float(max(values))]
    return central
