"""The registry of hardware constants: value, unit, source and meaning, overridable from a file.

Every number an energy, power or latency model uses is registered here once, with the
publication it comes from (docs/design.md, "Energy, power, latency models") or, where no
publication gives it, the word "assumption" and the reasoning. A JSON or TOML file of
``name = value`` pairs overrides defaults; unknown names and negative values are refused.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Constant", "Constants", "ConstantsError", "REGISTRY", "load_constants"]

DAVIES = "Davies et al., IEEE Micro 2018, Table 2 (0.75 V, pre-silicon)"
BLOUW = "Blouw et al. 2019, keyword spotting on silicon"
AKIDA_MNIST = "BrainChip AKD1000 MNIST CNN: 770 fps, 936.8 mW over a 894 mW floor, 1.22 mJ/frame"
CHANDARANA = "Chandarana et al., arXiv 2210.05006, 2022 (image classification)"
NCS2_BRIEF = "Intel NCS2 product brief (Myriad X, 16 nm)"


@dataclass(frozen=True)
class Constant:
    """One registered constant."""

    name: str
    value: float
    unit: str
    source: str
    description: str


_ENTRIES = (
    # Loihi per-operation energy and time
    Constant("loihi_synop_energy", 23.6e-12, "J", DAVIES, "synaptic spike operation"),
    Constant("loihi_synop_time", 3.5e-9, "s", DAVIES, "synaptic spike operation"),
    Constant("loihi_neuron_active_energy", 81e-12, "J", DAVIES, "neuron update, active"),
    Constant("loihi_neuron_active_time", 8.4e-9, "s", DAVIES, "neuron update, active"),
    Constant("loihi_neuron_inactive_energy", 52e-12, "J", DAVIES, "neuron update, inactive"),
    Constant("loihi_neuron_inactive_time", 5.3e-9, "s", DAVIES, "neuron update, inactive"),
    Constant("loihi_spike_tile_energy", 1.7e-12, "J", DAVIES, "spike delivered within a tile"),
    Constant("loihi_spike_tile_time", 2.1e-9, "s", DAVIES, "spike delivered within a tile"),
    Constant("loihi_hop_ew_energy", 3.0e-12, "J", DAVIES, "spike hop between tiles, east-west"),
    Constant("loihi_hop_ew_time", 4.1e-9, "s", DAVIES, "spike hop between tiles, east-west"),
    Constant("loihi_hop_ns_energy", 4.0e-12, "J", DAVIES, "spike hop between tiles, north-south"),
    Constant("loihi_hop_ns_time", 6.5e-9, "s", DAVIES, "spike hop between tiles, north-south"),
    Constant("loihi_barrier_time_1", 113e-9, "s", DAVIES, "barrier synchronisation, 1 tile"),
    Constant("loihi_barrier_time_32", 465e-9, "s", DAVIES, "barrier synchronisation, 32 tiles"),
    Constant(
        "loihi_static_power",
        0.104,
        "W",
        "Frady et al. 2020 (3.34 W for 32 chips)",
        "static power per chip in use",
    ),
    # Loihi measured on silicon, the reference the model is held against
    Constant("blouw_running_power", 0.110, "W", BLOUW, "Loihi running power, keyword spotting"),
    Constant("blouw_idle_power", 0.029, "W", BLOUW, "Loihi idle power"),
    Constant("blouw_inference_rate", 296, "1/s", BLOUW, "Loihi keyword-spotting inferences/s"),
    Constant("blouw_dynamic_energy", 0.27e-3, "J", BLOUW, "Loihi dynamic energy per inference"),
    Constant("published_power_ratio", 27, "1", CHANDARANA, "NCS2 power over Loihi power, up to"),
    Constant("published_energy_ratio", 5, "1", CHANDARANA, "NCS2 energy over Loihi energy, up to"),
    # Loihi chip organisation and limits
    Constant("loihi_cores_per_chip", 128, "cores", DAVIES, "neuromorphic cores per chip"),
    Constant(
        "loihi_cores_per_tile", 4, "cores", DAVIES, "cores per mesh tile (128 cores, 32 tiles)"
    ),
    Constant(
        "loihi_mesh_columns",
        8,
        "tiles",
        "assumption: the 32 tiles of a chip laid out 8 east-west by 4 north-south",
        "tiles per east-west row of the mesh",
    ),
    Constant("loihi_compartments_per_core", 1024, "compartments", DAVIES, "compartments per core"),
    Constant("loihi_synaptic_memory", 131072, "bytes", DAVIES, "synaptic memory per core"),
    Constant("loihi_max_fan_in", 4096, "synapses", DAVIES, "fan-in per compartment"),
    Constant("loihi_max_fan_out", 4096, "synapses", DAVIES, "fan-out per compartment"),
    Constant(
        "loihi_synapse_bits",
        16,
        "bit",
        "assumption: 8-bit weight plus 8 bits of index in a sparse synapse encoding",
        "synaptic memory taken by one synapse",
    ),
    # Akida
    Constant(
        "akida_floor_power",
        0.894,
        "W",
        AKIDA_MNIST,
        "board floor power, drawn for the whole frame time",
    ),
    Constant("akida_calibration_fps", 770, "1/s", AKIDA_MNIST, "calibration target: frame rate"),
    Constant(
        "akida_calibration_power", 0.9368, "W", AKIDA_MNIST, "calibration target: average power"
    ),
    Constant(
        "akida_synop_energy",
        3.4366e-10,
        "J",
        "calibrated by scripts/calibrate_akida.py against " + AKIDA_MNIST,
        "energy per event times non-zero weight it touches",
    ),
    Constant(
        "akida_fire_energy",
        3.4366e-10,
        "J",
        "assumption: one firing neuron costs as much as one synaptic operation",
        "energy per neuron that fires (non-zero output)",
    ),
    Constant(
        "akida_synop_time",
        8.1099e-9,
        "s",
        "calibrated by scripts/calibrate_akida.py against " + AKIDA_MNIST,
        "frame time per synaptic operation, spread over the neural processors in use",
    ),
    Constant("akida_nps", 78, "NPs", "BrainChip AKD1000: 80 NPs, 78 usable", "neural processors"),
    Constant(
        "akida_filters_per_np",
        64,
        "filters",
        "assumption: BrainChip does not publish a per-NP filter limit in the sources of docs/design.md",
        "filters (neurons per position) one neural processor holds",
    ),
    # NCS2
    Constant("ncs2_power", 1.0, "W", NCS2_BRIEF + ': "around 1 W" typical', "running power"),
    Constant("ncs2_tdp", 1.5, "W", NCS2_BRIEF, "thermal design power, the envelope's ceiling"),
    Constant("ncs2_peak_ops", 1e12, "op/s", NCS2_BRIEF + ": >1 TOPS", "peak neural engine rate"),
    Constant("ncs1_idle_power", 0.210, "W", BLOUW + " (NCS1)", "measured idle power of the NCS1"),
    Constant(
        "ncs1_running_power", 0.647, "W", BLOUW + " (NCS1)", "measured running power of the NCS1"
    ),
    Constant(
        "ncs1_inference_rate",
        300,
        "1/s",
        BLOUW + " (NCS1, 390-256-256-29 network)",
        "measured inferences per second; for a network of ~0.2 MMAC this is the per-inference "
        "host, USB and runtime overhead",
    ),
    Constant(
        "ncs2_utilization",
        0.25,
        "1",
        "assumption: fraction of the peak rate a layer sustains on the neural engine",
        "MAC efficiency of the neural engine",
    ),
    Constant(
        "ncs2_memory_bandwidth",
        8e9,
        "B/s",
        "assumption: Myriad X LPDDR4 on package, effective",
        "bandwidth for weights and activations that do not stay on chip",
    ),
    Constant(
        "ncs2_bytes_per_value",
        2,
        "B",
        "the MYRIAD plugin computes in FP16",
        "bytes per weight and activation",
    ),
    Constant(
        "ncs2_usb_bandwidth",
        3e8,
        "B/s",
        "assumption: USB 3.0 effective throughput",
        "transfer of input and output tensors",
    ),
)

REGISTRY: dict[str, Constant] = {c.name: c for c in _ENTRIES}


class ConstantsError(ValueError):
    """An override names an unknown constant or gives a value that is not a non-negative number."""


class Constants(Mapping[str, float]):
    """The registry's values, with overrides; read it like a dict of name to value.

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
        self.overridden = sorted(overrides)
        self.origin = origin

    def __getitem__(self, name: str) -> float:
        if name not in self._values:
            raise KeyError(_unknown(name))
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def replace(self, **overrides: float) -> Constants:
        """A copy with more overrides."""
        merged = {k: self._values[k] for k in self.overridden} | overrides
        return Constants(merged, self.origin if not overrides else f"{self.origin} + code")

    def record(self, names: list[str]) -> dict[str, dict]:
        """Value, unit, source and whether overridden, for the named constants."""
        return {
            n: {
                "value": self[n],
                "unit": REGISTRY[n].unit,
                "source": "override" if n in self.overridden else REGISTRY[n].source,
            }
            for n in names
        }


def _unknown(name: str) -> str:
    return f"unknown constant {name!r}; accepted names: {', '.join(sorted(REGISTRY))}"


def _validate(name: str, value: object, origin: str) -> None:
    if name not in REGISTRY:
        raise ConstantsError(f"{origin}: {_unknown(name)}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConstantsError(f"{origin}: constant {name!r} must be a number, got {value!r}")
    if not value >= 0 or value == float("inf"):
        raise ConstantsError(
            f"{origin}: constant {name!r} must be a finite non-negative number "
            f"({REGISTRY[name].unit}), got {value!r}"
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
    if not isinstance(data, dict):
        raise ConstantsError(f"{path}: expected a table of name = value pairs")
    return Constants(data, str(path))
