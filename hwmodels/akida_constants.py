"""The AKD1000's constants, fitted to a course's template CNN and BrainChip's AkidaNet
figures, read by :mod:`hwmodels.akida`; and the assumption about the AkidaNet workload that
validation and calibration rebuild."""

from __future__ import annotations

from .constant import Constant, bounded_names
from .sources import COURSE, DOCS, FIT_AKIDA, GUIDE, HOST_AKIDA

__all__ = ["CONSTANTS", "WORKLOAD_CONSTANTS", "USED", "BOUNDED"]

CONSTANTS = (
    Constant(
        name="akida_floor_power",
        value=0.89426,
        unit="W",
        source=COURSE + "; range up to the 912.23 mW floor of " + GUIDE,
        description="board floor power, drawn for the whole period",
        low=0.89426,
        high=0.91223,
    ),
    Constant(
        name="akida_call_time",
        value=5.4205e-2,
        unit="s",
        source=FIT_AKIDA + DOCS + " (1 frame against 10 frames) and " + COURSE,
        description="activity-independent time per call (per predict)",
        low=4.120e-2,
        high=5.429e-2,
    ),
    Constant(
        name="akida_frame_time",
        value=5.7103e-4,
        unit="s",
        source=FIT_AKIDA + COURSE + " and " + DOCS,
        description="activity-independent time per frame and hardware sequence",
        low=4.886e-4,
        high=6.088e-4,
    ),
    Constant(
        name="akida_synop_time",
        value=9.5033e-10,
        unit="s",
        source=FIT_AKIDA + COURSE + " and " + DOCS,
        description="frame time per synaptic operation (event x non-zero weight) on one neural "
        "processor: the busiest NP's load sets a long call's frame time",
        low=4.735e-10,
        high=2.587e-09,
    ),
    Constant(
        name="akida_host_output_time",
        value=2.3635e-8,
        unit="s",
        source=HOST_AKIDA,
        description="host time per output (position x filter, before pooling) of a layer the AKD1000 "
        "cannot hold, in BrainChip's software engine; range 0.5x-2x (the course's host "
        "is not known)",
        low=1.182e-8,
        high=4.727e-8,
    ),
    Constant(
        name="akida_host_synop_time",
        value=3.9539e-10,
        unit="s",
        source=HOST_AKIDA,
        description="host time per synaptic op (event x non-zero weight) of such a layer; range 0.5x-2x",
        low=1.977e-10,
        high=7.908e-10,
    ),
    Constant(
        name="akida_frame_energy",
        value=5.4813e-5,
        unit="J",
        source=FIT_AKIDA + COURSE + " and " + GUIDE,
        description="activity-independent dynamic energy per frame",
        low=5.438e-5,
        high=5.503e-5,
    ),
    Constant(
        name="akida_synop_energy",
        value=1.6145e-11,
        unit="J",
        source=FIT_AKIDA + COURSE + " and " + GUIDE,
        description="dynamic energy per synaptic operation",
        low=8.072e-12,
        high=3.229e-11,
    ),
    Constant(
        name="akida_fire_energy",
        value=1.6145e-11,
        unit="J",
        source="assumption: one firing neuron costs about one synaptic "
        "operation (akida_synop_energy); range 0 to 2x",
        description="energy per neuron that fires",
        low=0.0,
        high=3.229e-11,
    ),
    Constant(
        name="akida_nps",
        value=78,
        unit="NPs",
        source="BrainChip AKD1000: 80 NPs, 78 usable",
        description="neural processors",
    ),
    Constant(
        name="akida_filters_per_np",
        value=64,
        unit="filters",
        source="assumption, used only when the akida package (BrainChip's mapper) is absent: no "
        "per-NP filter limit is published in docs/design.md's sources",
        description="filters (neurons per position) one neural processor holds",
    ),
    Constant(
        name="akida_frames_per_call",
        value=10000,
        unit="frames",
        source=COURSE + ": the 10,000 test images in one call",
        description="frames per call when none is given",
    ),
)

# read by the validation and the calibration of AkidaNet 0.5, not by the model
WORKLOAD_CONSTANTS = (
    Constant(
        name="akidanet_event_fraction",
        value=0.3,
        unit="1",
        source="assumption: AkidaNet 0.5 at 4-bit activations, "
        "events x non-zero weights over dense MACs; range 0.15-0.6",
        description="activity of the AkidaNet calibration point",
        low=0.15,
        high=0.6,
    ),
)

USED = [c.name for c in CONSTANTS]
BOUNDED = bounded_names(CONSTANTS)
