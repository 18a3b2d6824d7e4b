"""Loihi's constants: Davies et al.'s per-operation figures, the system parts fitted to
Blouw et al.'s logs, and the chip's sizes; read by :mod:`hwmodels.loihi`."""

from __future__ import annotations

from .constant import Constant, bounded_names
from .sources import BLOUW, DAVIES, FIT_LOIHI, T_RANGE, V_RANGE

__all__ = ["CONSTANTS", "USED", "BOUNDED"]


def _op(name: str, energy: float, time: float, what: str) -> tuple[Constant, Constant]:
    """The energy and the time of one operation of Davies et al.'s Table 2."""
    return (
        Constant(name=f"{name}_energy", value=energy, unit="J", source=DAVIES + V_RANGE,
                 description=what, low=energy, high=energy * 1.78),
        Constant(name=f"{name}_time", value=time, unit="s", source=DAVIES + T_RANGE,
                 description=what, low=time * 0.8, high=time * 1.25),
    )  # fmt: skip


_OPERATIONS = (
    *_op("loihi_synop", 23.6e-12, 3.5e-9, "synaptic spike operation"),
    *_op("loihi_neuron_active", 81e-12, 8.4e-9, "neuron update, active"),
    *_op("loihi_neuron_inactive", 52e-12, 5.3e-9, "neuron update, inactive"),
    *_op("loihi_spike_tile", 1.7e-12, 2.1e-9, "spike delivered within a tile"),
    *_op("loihi_hop_ew", 3.0e-12, 4.1e-9, "spike hop between tiles, east-west"),
    *_op("loihi_hop_ns", 4.0e-12, 6.5e-9, "spike hop between tiles, north-south"),
    Constant(
        name="loihi_barrier_time_1",
        value=113e-9,
        unit="s",
        source=DAVIES + T_RANGE,
        description="barrier sync, 1 tile",
        low=90e-9,
        high=141e-9,
    ),
    Constant(
        name="loihi_barrier_time_32",
        value=465e-9,
        unit="s",
        source=DAVIES + T_RANGE,
        description="barrier sync, 32 tiles",
        low=372e-9,
        high=581e-9,
    ),
)

_SYSTEM = (
    Constant(
        name="loihi_static_power",
        value=0.029,
        unit="W",
        source=BLOUW
        + ": idle power of the chip; range: +-20% for board-to-board and temperature spread",
        description="static power per chip in use",
        low=0.023,
        high=0.035,
    ),
    Constant(
        name="loihi_input_spike_energy",
        value=1e-9,
        unit="J",
        source="assumption: an embedded x86 core writes one "
        "spike message per input spike (tens of cycles at tens of mW); range 4x either way",
        description="energy per input spike injected from the host",
        low=0.25e-9,
        high=4e-9,
    ),
    Constant(
        name="loihi_input_spike_time",
        value=50e-9,
        unit="s",
        source="assumption: as loihi_input_spike_energy, the "
        "injecting core's time per spike; range 5x down, 4x up",
        description="time per input spike injected, serial within a step",
        low=10e-9,
        high=200e-9,
    ),
    Constant(
        name="loihi_output_spike_energy",
        value=1e-9,
        unit="J",
        source="assumption: like an input spike, read by an embedded core and sent to the host",
        description="energy per output-layer spike read out",
        low=0.25e-9,
        high=4e-9,
    ),
    Constant(
        name="loihi_output_spike_time",
        value=50e-9,
        unit="s",
        source="assumption: like an input spike",
        description="time per output-layer spike read out",
        low=10e-9,
        high=200e-9,
    ),
    Constant(
        name="loihi_inference_energy",
        value=2e-6,
        unit="J",
        source="assumption: one host round trip per inference "
        "(reset, start, read) over the host interface",
        description="energy per inference, host I/O",
        low=0.5e-6,
        high=8e-6,
    ),
    Constant(
        name="loihi_inference_time",
        value=100e-6,
        unit="s",
        source="assumption: as loihi_inference_energy",
        description="time per inference, host I/O",
        low=25e-6,
        high=400e-6,
    ),
    Constant(
        name="loihi_step_energy",
        value=0.0,
        unit="J",
        source=FIT_LOIHI + "; range: the fits with the other constants at their range ends",
        description="x86 dynamic: energy per step per chip in use, the embedded cores' management",
        low=0.0,
        high=0.0,
    ),
    Constant(
        name="loihi_step_time",
        value=3.8467e-06,
        unit="s",
        source=FIT_LOIHI + "; range: the fits with the other constants at their range ends",
        description="time per step: management by the embedded x86 cores",
        low=0.0,
        high=3.1880e-05,
    ),
    Constant(
        name="loihi_x86_active_power",
        value=0.067722,
        unit="W",
        source=FIT_LOIHI + "; range: the fits with the other constants at their range ends",
        description="x86 static: power the embedded cores draw while a model is loaded (the paper: ~70 mW)",
        low=0.054796,
        high=0.069052,
    ),
)

_CHIP = (
    Constant(
        name="loihi_cores_per_chip",
        value=128,
        unit="cores",
        source=DAVIES,
        description="neuromorphic cores per chip",
    ),
    Constant(
        name="loihi_cores_per_tile",
        value=4,
        unit="cores",
        source=DAVIES,
        description="cores per mesh tile (128 cores, 32 tiles)",
    ),
    Constant(
        name="loihi_mesh_columns",
        value=8,
        unit="tiles",
        source="assumption: the 32 tiles of a chip laid out 8 east-west by 4 north-south",
        description="tiles per east-west row of the mesh",
    ),
    Constant(
        name="loihi_compartments_per_core",
        value=1024,
        unit="compartments",
        source=DAVIES,
        description="compartments per core",
    ),
    Constant(
        name="loihi_synaptic_memory",
        value=131072,
        unit="bytes",
        source=DAVIES,
        description="synaptic memory per core",
    ),
    Constant(
        name="loihi_max_fan_in",
        value=4096,
        unit="synapses",
        source=DAVIES,
        description="fan-in per compartment",
    ),
    Constant(
        name="loihi_max_fan_out",
        value=4096,
        unit="cores",
        source=DAVIES,
        description="fan-out: destination cores of one compartment, an output axon each "
        "(4,096 output axons per core)",
    ),
    Constant(
        name="loihi_synapse_bits",
        value=16,
        unit="bit",
        source="assumption: 8-bit weight plus 8 bits of index in a sparse synapse encoding",
        description="synaptic memory taken by one synapse",
    ),
)

CONSTANTS = (*_OPERATIONS, *_SYSTEM, *_CHIP)
USED = [c.name for c in CONSTANTS]
BOUNDED = bounded_names(CONSTANTS)
