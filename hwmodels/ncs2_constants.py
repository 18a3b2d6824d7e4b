"""The NCS2's constants, from its product brief and fitted to Blouw et al.'s logs and
prg_prgncs's frame rates, read by :mod:`hwmodels.ncs2`; and the USB 2.0 link of the
prg_prgncs timings that validation and calibration rebuild."""

from __future__ import annotations

from .constant import Constant, bounded_names
from .sources import FIT_NCS2, NCS2_BRIEF, PRG

__all__ = ["CONSTANTS", "WORKLOAD_CONSTANTS", "USED", "BOUNDED"]

CONSTANTS = (
    Constant(
        name="ncs2_power",
        value=1.4382,
        unit="W",
        source=FIT_NCS2
        + ": mean running power (USB meter); range: the log's readings, 1.35-1.55 W",
        description="running power (stick total)",
        low=1.35,
        high=1.55,
    ),
    Constant(
        name="ncs2_tdp",
        value=1.5,
        unit="W",
        source=NCS2_BRIEF,
        description="thermal design power, the envelope's ceiling",
    ),
    Constant(
        name="ncs2_peak_ops",
        value=1e12,
        unit="op/s",
        source=NCS2_BRIEF + ": >1 TOPS",
        description="peak neural engine rate",
    ),
    Constant(
        name="ncs2_idle_power",
        value=0.496,
        unit="W",
        source=FIT_NCS2 + ": idle power (USB meter)",
        description="idle power of the stick, plugged in with no model running",
    ),
    Constant(
        name="ncs2_call_overhead",
        value=1.3937e-03,
        unit="s",
        source=FIT_NCS2 + ": 1 / 464.6 inferences/s less the modelled layer time and USB transfer "
        "of the 390-256-256-29 network (fitted jointly with ncs2_memory_bandwidth); range: "
        "the fits at the other constants' range ends",
        description="per-inference host, USB and runtime overhead (the call floor)",
        low=1.3665e-03,
        high=1.4769e-03,
    ),
    Constant(
        name="ncs2_utilization",
        value=0.25,
        unit="1",
        source="assumption: fraction of the peak rate a layer sustains",
        description="MAC efficiency of the neural engine",
        low=0.1,
        high=0.5,
    ),
    Constant(
        name="ncs2_memory_bandwidth",
        value=4.6237e08,
        unit="B/s",
        source="calibrated by scripts/calibrate_ncs2.py on " + PRG + ": the 256x256x1 encoder-"
        "decoder with filters 16-128 (7.5 frames/s over USB 2.0); far below the LPDDR4's "
        "peak: the frame rates there follow the tensors moved, not the MACs (half the width, "
        "a quarter of the MACs, 1.5x the rate); range: the fits at the utilization's and USB "
        "bandwidths' range ends",
        description="effective rate of a layer's data movement (weights, input and output in FP16)",
        low=4.4587e08,
        high=5.2059e08,
    ),
    Constant(
        name="ncs2_bytes_per_value",
        value=2,
        unit="B",
        source="the MYRIAD plugin computes in FP16",
        description="bytes per weight and activation",
    ),
    Constant(
        name="ncs2_usb_bandwidth",
        value=3e8,
        unit="B/s",
        source="assumption: USB 3.0 effective throughput",
        description="transfer of input and output tensors",
        low=2e8,
        high=4e8,
    ),
)

# read by the validation and the calibration on prg_prgncs's timings, not by the model
WORKLOAD_CONSTANTS = (
    Constant(
        name="ncs2_usb2_bandwidth",
        value=35e6,
        unit="B/s",
        source="assumption: USB 2.0 high speed (480 Mbit/s) effective bulk throughput",
        description="transfer of input and output tensors over USB 2.0 (prg_prgncs's timings)",
        low=25e6,
        high=45e6,
    ),
)

USED = [c.name for c in CONSTANTS]
BOUNDED = bounded_names(CONSTANTS)
