"""Published measurements: the validation targets, read-only, apart from the model constants.

:data:`MEASUREMENTS` holds the single figures papers and vendors report (Viale's CarSNN,
Chandarana's and Mohammadi's ratios, the course's and BrainChip's AkidaNet boards, Habara's
savings); the models are checked against them (:mod:`hwmodels.validation`), so they are
not model parameters and no constants file overrides them. The measured logs are copied
into the repository's ``data/`` (with their source):
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
from types import MappingProxyType

from .sources import BLOUW, CHANDARANA, COURSE, DOCS, GUIDE, HABARA, ISCAS, MOHAMMADI, VIALE

__all__ = [
    "MEASUREMENTS",
    "Measurement",
    "measured",
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


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """One published figure: its value, unit, the publication that reports it, its meaning."""

    name: str
    value: float
    unit: str
    source: str
    description: str


MEASUREMENTS = MappingProxyType(
    {
        m.name: m
        for m in (
            Measurement(
                name="blouw_idle_power",
                value=0.029,
                unit="W",
                source=BLOUW,
                description="Loihi idle power",
            ),
            Measurement(
                name="blouw_dynamic_energy",
                value=0.27e-3,
                unit="J",
                source=BLOUW,
                description="Loihi dynamic energy per inference",
            ),
            Measurement(
                name="carsnn_latency",
                value=0.72e-3,
                unit="s",
                source=VIALE,
                description="Loihi latency per sample (at most)",
            ),
            Measurement(
                name="carsnn_power",
                value=0.310,
                unit="W",
                source=VIALE,
                description="Loihi power running CarSNN",
            ),
            Measurement(
                name="published_power_ratio",
                value=27,
                unit="1",
                source=CHANDARANA,
                description="NCS2 over Loihi power, up to",
            ),
            Measurement(
                name="published_energy_ratio",
                value=5,
                unit="1",
                source=CHANDARANA,
                description="NCS2 over Loihi energy, up to",
            ),
            Measurement(
                name="asl_power_ratio",
                value=20.64,
                unit="1",
                source=MOHAMMADI,
                description="NCS2 over Loihi power, up to",
            ),
            Measurement(
                name="asl_energy_ratio",
                value=4.10,
                unit="1",
                source=MOHAMMADI,
                description="NCS2 over Loihi energy, up to",
            ),
            Measurement(
                name="akida_calibration_fps",
                value=770,
                unit="1/s",
                source=COURSE,
                description="template CNN frame rate",
            ),
            Measurement(
                name="akida_calibration_power",
                value=0.9368,
                unit="W",
                source=COURSE,
                description="template CNN average power",
            ),
            Measurement(
                name="akidanet_guide_fps",
                value=43.48,
                unit="1/s",
                source=GUIDE,
                description="frame rate, 10 frames",
            ),
            Measurement(
                name="akidanet_guide_power",
                value=1.021,
                unit="W",
                source=GUIDE,
                description="average power, 10 frames",
            ),
            Measurement(
                name="akidanet_guide_floor",
                value=0.91223,
                unit="W",
                source=GUIDE,
                description="floor power",
            ),
            Measurement(
                name="akidanet_guide_energy",
                value=23.48e-3,
                unit="J",
                source=GUIDE,
                description="energy per frame, 10 frames",
            ),
            Measurement(
                name="akidanet_docs_fps_1",
                value=10.99,
                unit="1/s",
                source=DOCS,
                description="frame rate, 1 frame",
            ),
            Measurement(
                name="akidanet_docs_fps_10",
                value=51.28,
                unit="1/s",
                source=DOCS,
                description="frame rate, 10 frames",
            ),
            Measurement(
                name="akidanet_docs_power",
                value=0.981,
                unit="W",
                source=DOCS,
                description="average power, 10 frames",
            ),
            Measurement(
                name="akidanet_docs_energy",
                value=19.13e-3,
                unit="J",
                source=DOCS,
                description="energy per frame, 10 frames",
            ),
            Measurement(
                name="habara_energy_reduction",
                value=0.122,
                unit="1",
                source=HABARA,
                description="energy per frame saved",
            ),
            Measurement(
                name="habara_activation_reduction",
                value=0.701,
                unit="1",
                source=HABARA,
                description="fewer non-zero activations",
            ),
            Measurement(
                name="habara_weight_reduction",
                value=0.142,
                unit="1",
                source=HABARA,
                description="fewer non-zero weights",
            ),
            Measurement(
                name="iscas_energy_reduction",
                value=0.138,
                unit="1",
                source=ISCAS,
                description="energy per frame saved",
            ),
            Measurement(
                name="iscas_activation_reduction",
                value=0.761,
                unit="1",
                source=ISCAS,
                description="fewer non-zero activations",
            ),
            Measurement(
                name="iscas_weight_reduction",
                value=0.221,
                unit="1",
                source=ISCAS,
                description="fewer non-zero weights",
            ),
        )
    }
)


def measured(name: str) -> float:
    """The value of a published measurement; KeyError names the accepted ones."""
    if name not in MEASUREMENTS:
        raise KeyError(
            f"unknown published measurement {name!r}; accepted: {', '.join(MEASUREMENTS)}"
        )
    return MEASUREMENTS[name].value


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
    """One NCS2 frame rate of an encoder-decoder (:func:`hwmodels.calibration.workloads.encoder_decoder_counts`)
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
