"""Published measurements copied into the repository's ``data/`` (with their source).

``data/published_power.json`` is written by ``scripts/extract_power_benchmarks.py`` from
Blouw et al. 2019's raw logs (the public repository ``abr/power_benchmarks``);
``data/published_ncs2.json`` holds the NCS2 frame rates of the encoder-decoders timed in the
public repository ``NitinJSanket/prg_prgncs``. Nothing is fetched at run time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = [
    "PATH",
    "NCS2_PATH",
    "Point",
    "Timing",
    "load",
    "ncs2_kws",
    "ncs2_timings",
    "loihi_kws",
    "loihi_scaled",
]

PATH = Path(__file__).resolve().parents[1] / "data" / "published_power.json"
NCS2_PATH = PATH.with_name("published_ncs2.json")


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


@dataclass(frozen=True)
class Timing:
    """One NCS2 frame rate of an encoder-decoder (:func:`hwmodels.workloads.encoder_decoder_counts`)
    at input ``side`` x ``side`` x ``channels``; ``params`` and ``flops`` as published."""

    side: int
    channels: int
    filters: tuple[int, ...]
    fps: float
    params: int
    flops: float

    @property
    def name(self) -> str:
        """Short label: input shape and filters."""
        return f"{self.side}x{self.side}x{self.channels}, filters {list(self.filters)}"


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


def ncs2_timings() -> list[Timing]:
    """The NCS2 frame rates of ``data/published_ncs2.json`` (USB 2.0, FP16, batch 1)."""
    runs = json.loads(NCS2_PATH.read_text())["runs"]
    return [
        Timing(r["side"], r["channels"], tuple(r["filters"]), r["fps"], r["params"], r["flops"])
        for r in runs
    ]
