"""Akida 2.0's constants, read by :mod:`hwmodels.akida_v2`: assumptions, the AKD1000's values
with wider ranges (no Akida 2.0 device has a published measurement)."""

from __future__ import annotations

import dataclasses

from .akida_constants import CONSTANTS as AKD1000
from .constant import Constant

__all__ = ["CONSTANTS", "v2_name"]


def _v2(name: str, low: float, high: float, why: str) -> Constant:
    """An Akida 2.0 assumption: the AKD1000 constant ``name``'s value, its range scaled by
    ``low``..``high``; no Akida 2.0 device has a published measurement."""
    akd1000 = next(c for c in AKD1000 if c.name == name)
    lo, hi = akd1000.range
    source = (
        f"assumption: no Akida 2.0 measurement is published; the AKD1000's {name} stands in "
        f"(not validated against silicon); {why}; range {low:g}x its low to {high:g}x its high"
    )
    return dataclasses.replace(
        akd1000, name=v2_name(name), source=source, low=lo * low, high=hi * high
    )


def v2_name(name: str) -> str:
    """The Akida 2.0 name of an AKD1000 constant (``akida_x`` -> ``akida_v2_x``)."""
    return name.replace("akida_", "akida_v2_", 1)


CONSTANTS = (
    _v2("akida_floor_power", 0.5, 1.5, "the board around an AKD1500 or PicoIP is not measured"),
    _v2("akida_call_time", 0.5, 2.0, "host driver and transfer, as on the AKD1000"),
    _v2("akida_frame_time", 0.5, 2.0, "per-frame and per-sequence overheads of another mesh"),
    _v2("akida_synop_time", 0.5, 2.0, "an 8-bit event may take up to twice a 4-bit one"),
    _v2("akida_frame_energy", 0.5, 2.0, "per-frame dynamic energy of another mesh"),
    _v2("akida_synop_energy", 0.5, 4.0, "8-bit weights and events move up to 2x the bits"),
    _v2("akida_fire_energy", 0.5, 4.0, "an 8-bit output costs up to 2x a 4-bit one"),
    _v2("akida_host_output_time", 1.0, 1.0, "the same software engine runs host layers"),
    _v2("akida_host_synop_time", 1.0, 1.0, "the same software engine runs host layers"),
)
