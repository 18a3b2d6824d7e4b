"""Accounting conventions: which parts of a chip's power an energy-per-inference figure counts.

Loihi's power comes in NxSDK's energy-probe parts, plus the host's I/O::

    neurocore_static   chip idle from boot (leakage), per chip in use, over the period
    x86_static         the embedded x86 cores' active power while a model is loaded
    neurocore_dynamic  the per-operation energies (Davies et al. 2018) over the traces' counts
    x86_dynamic        the embedded cores' management per step and their input/output spikes
    host_io            the host round trip per inference

Conventions, as users report them:

    all      every part (SNN Toolbox's Loihi backend: total power x time per step x steps)
    dynamic  the dynamic parts only (above the idle power of a loaded model)
    blouw    running minus idle from boot (Blouw et al. 2019): dynamic parts + x86 static

The NCS2 has two parts, ``idle`` (the stick plugged in) and ``dynamic`` (running minus
idle); ``all`` counts both, ``dynamic`` and ``blouw`` the dynamic part (Blouw et al.
subtracted every device's idle power).
"""

from __future__ import annotations

__all__ = [
    "CONVENTIONS",
    "DEFAULT",
    "DESCRIPTION",
    "LOIHI_PARTS",
    "NCS2_PARTS",
    "counted",
    "check",
    "split",
    "energy_under",
    "loihi_parts",
]

LOIHI_PARTS = ("neurocore_static", "x86_static", "neurocore_dynamic", "x86_dynamic", "host_io")
NCS2_PARTS = ("idle", "dynamic")
_STATIC = {"neurocore_static", "x86_static", "idle"}

CONVENTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "all": {"loihi": LOIHI_PARTS, "ncs2": NCS2_PARTS},
    "dynamic": {
        "loihi": ("neurocore_dynamic", "x86_dynamic", "host_io"),
        "ncs2": ("dynamic",),
    },
    "blouw": {
        "loihi": ("x86_static", "neurocore_dynamic", "x86_dynamic", "host_io"),
        "ncs2": ("dynamic",),
    },
}
DEFAULT = "all"
DESCRIPTION = {
    "all": "all parts (SNN Toolbox's convention)",
    "dynamic": "dynamic parts only (above a loaded model's idle)",
    "blouw": "running minus idle from boot (Blouw et al. 2019)",
}


def loihi_parts(
    on_chip: float, io_spikes: float, steps: float, chips: int, period: float, c
) -> dict[str, float]:
    """Loihi's five parts per inference (J) from the per-op energy on chip, the energy of
    spikes injected and read by the x86 cores, chip-steps, chips, period and constants."""
    return {
        "neurocore_static": c["loihi_static_power"] * chips * period,
        "x86_static": c["loihi_x86_active_power"] * period,
        "neurocore_dynamic": float(on_chip),
        "x86_dynamic": float(steps * c["loihi_step_energy"] + io_spikes),
        "host_io": c["loihi_inference_energy"],
    }


def check(accounting: str) -> str:
    """The convention's name, or a ValueError naming the accepted ones."""
    if accounting not in CONVENTIONS:
        raise ValueError(
            f"unknown accounting convention {accounting!r}; accepted: {', '.join(CONVENTIONS)}"
        )
    return accounting


def counted(platform: str, accounting: str) -> tuple[str, ...]:
    """The parts of ``platform`` ("loihi" or "ncs2") that ``accounting`` counts."""
    return CONVENTIONS[check(accounting)][platform]


def split(platform: str, parts: dict[str, float], accounting: str) -> tuple[float, float]:
    """(static, dynamic) energy per inference under ``accounting``: the counted parts, with
    the static ones reported as static only where the idle power is counted (``all``)."""
    names = counted(platform, accounting)
    total = sum(parts[n] for n in names)
    static = sum(parts[n] for n in names if n in _STATIC) if accounting == "all" else 0.0
    return float(static), float(total - static)


def energy_under(estimate, accounting: str) -> float:
    """An estimate's energy per inference (J) under another convention, from its parts."""
    parts = estimate.details.get("parts")
    if parts is None:
        raise ValueError(f"{estimate.label}: the estimate holds no parts (made before them)")
    return float(sum(parts[n] for n in counted(estimate.platform, accounting)))
