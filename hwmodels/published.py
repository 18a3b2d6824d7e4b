"""Published measurements copied into ``data/published_power.json`` (with their source).

The file is written by ``scripts/extract_power_benchmarks.py`` from Blouw et al. 2019's raw
logs (the public repository ``abr/power_benchmarks``); nothing is fetched at run time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["PATH", "Point", "load", "ncs2_kws", "loihi_kws", "loihi_scaled"]

PATH = Path(__file__).resolve().parents[1] / "data" / "published_power.json"


@dataclass(frozen=True)
class Point:
    """One measured operating point: mean running and idle power (W), inferences per second."""

    running_power: float
    idle_power: float
    rate: float
    runs: int = 1

    @property
    def dynamic_power(self) -> float:
        """Running minus idle (from boot) power, W."""
        return self.running_power - self.idle_power

    @property
    def dynamic_energy(self) -> float:
        """Running minus idle energy per inference, J (Blouw et al.'s figure)."""
        return self.dynamic_power / self.rate


@cache
def load() -> dict:
    """The data file's contents."""
    return json.loads(PATH.read_text())


def _mean(runs: list[dict]) -> Point:
    n = len(runs)
    return Point(
        sum(r["running_power"] for r in runs) / n,
        sum(r["idle_power"] for r in runs) / n,
        sum(r["rate"] for r in runs) / n,
        n,
    )


def ncs2_kws() -> Point:
    """The NCS2 on the 390-256-256-29 keyword spotter (one 900 s run)."""
    return _mean([load()["ncs2_kws"]])


def loihi_kws() -> Point:
    """Loihi on the keyword spotter, the mean of the five runs."""
    return _mean(load()["loihi_kws"])


def loihi_scaled() -> dict[int, Point]:
    """Loihi on the scaled sweep: copies (N) -> the mean of its three runs."""
    runs = load()["loihi_scaled"]
    return {
        n: _mean([r for r in runs if r["copies"] == n]) for n in sorted({r["copies"] for r in runs})
    }
