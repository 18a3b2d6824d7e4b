"""The registered constants' data: (name, value, unit, source, description, low, high)."""

from __future__ import annotations

__all__ = ["ENTRIES", "SOURCES"]

DAVIES = "Davies et al., IEEE Micro 2018, Table 2 (0.75 V, pre-silicon)"
BLOUW = "Blouw et al. 2019 (arXiv 1812.01739), keyword spotting 390-256-256-29, measured"
VIALE = "Viale et al., IJCNN 2021 (CarSNN on Loihi), measured"
CHANDARANA = "Chandarana et al., arXiv 2210.05006, 2022 (image classification), measured"
MOHAMMADI = "Mohammadi, Chandarana et al., Neuromorph. Comput. Eng. 2022 (ASL), measured"
COURSE = (
    "university course measurement on an AKD1000 board (not a BrainChip publication): MNIST "
    "template CNN, 10,000 test images, 770 fps, 936.8 mW over a 894.26 mW floor, 1.22 mJ/frame"
)
GUIDE = "BrainChip user guide, AkidaNet 0.5 224x224 (15 layers, 68 NPs), 10 frames, measured"
DOCS = 'BrainChip docs ("See the power number"), AkidaNet 0.5 224x224, measured'
HABARA = "Habara et al. 2024, 2-conv + 2-FC MNIST on an AKD1000, measured"
ISCAS = "Habara et al., ISCAS 2025, 3-conv + 2-FC MNIST on an AKD1000, measured"
NCS2_BRIEF = "Intel NCS2 product brief (Myriad X, 16 nm)"
LOGS = "Blouw et al. 2019's raw logs (abr/power_benchmarks), data/published_power.json"
FIT_LOIHI = (
    "calibrated by scripts/calibrate_loihi.py from " + LOGS + ": the keyword-spotting runs "
    "and the N=0 point of the scaled sweep"
)
PRG = (
    "the NCS2 frame rates in github.com/NitinJSanket/prg_prgncs (README), data/published_ncs2.json"
)
FIT_NCS2 = "calibrated by scripts/calibrate_ncs2.py from " + LOGS + ": NCS2 keyword spotting"
FIT_AKIDA = "calibrated by scripts/calibrate_akida.py from "
HOST_AKIDA = (
    "measured by scripts/calibrate_akida.py --host: akida 2.19.3's software engine "
    "(akida.Model.forward) on max-pooled 3x3 convolutions, one thread of this project's "
    "2-core build machine while other jobs shared it"
)
V_RANGE = "; range: pre-silicon 0.75 V figure up to (1.0 V / 0.75 V)^2 for silicon at 1.0 V"
T_RANGE = "; range: 0.8x-1.25x for clock and process spread"
SOURCES = {"davies": DAVIES, "blouw": BLOUW, "course": COURSE, "guide": GUIDE, "docs": DOCS}


def _op(name: str, energy: float, time: float, what: str) -> tuple[tuple, tuple]:
    return (
        (f"{name}_energy", energy, "J", DAVIES + V_RANGE, what, energy, energy * 1.78),
        (f"{name}_time", time, "s", DAVIES + T_RANGE, what, time * 0.8, time * 1.25),
    )


def _measured(name: str, value: float, unit: str, source: str, what: str) -> tuple:
    return (name, value, unit, source, what, value, value)


_LOIHI_OPS = (
    *_op("loihi_synop", 23.6e-12, 3.5e-9, "synaptic spike operation"),
    *_op("loihi_neuron_active", 81e-12, 8.4e-9, "neuron update, active"),
    *_op("loihi_neuron_inactive", 52e-12, 5.3e-9, "neuron update, inactive"),
    *_op("loihi_spike_tile", 1.7e-12, 2.1e-9, "spike delivered within a tile"),
    *_op("loihi_hop_ew", 3.0e-12, 4.1e-9, "spike hop between tiles, east-west"),
    *_op("loihi_hop_ns", 4.0e-12, 6.5e-9, "spike hop between tiles, north-south"),
    ("loihi_barrier_time_1", 113e-9, "s", DAVIES + T_RANGE, "barrier sync, 1 tile", 90e-9, 141e-9),
    (
        "loihi_barrier_time_32",
        465e-9,
        "s",
        DAVIES + T_RANGE,
        "barrier sync, 32 tiles",
        372e-9,
        581e-9,
    ),
)

_LOIHI_SYSTEM = (
    (
        "loihi_static_power",
        0.029,
        "W",
        BLOUW + ": idle power of the chip; range: +-20% for board-to-board and temperature spread",
        "static power per chip in use",
        0.023,
        0.035,
    ),
    (
        "loihi_input_spike_energy",
        1e-9,
        "J",
        "assumption: an embedded x86 core writes one "
        "spike message per input spike (tens of cycles at tens of mW); range 4x either way",
        "energy per input spike injected from the host",
        0.25e-9,
        4e-9,
    ),
    (
        "loihi_input_spike_time",
        50e-9,
        "s",
        "assumption: as loihi_input_spike_energy, the "
        "injecting core's time per spike; range 5x down, 4x up",
        "time per input spike injected, serial within a step",
        10e-9,
        200e-9,
    ),
    (
        "loihi_output_spike_energy",
        1e-9,
        "J",
        "assumption: like an input spike, read by an embedded core and sent to the host",
        "energy per output-layer spike read out",
        0.25e-9,
        4e-9,
    ),
    (
        "loihi_output_spike_time",
        50e-9,
        "s",
        "assumption: like an input spike",
        "time per output-layer spike read out",
        10e-9,
        200e-9,
    ),
    (
        "loihi_inference_energy",
        2e-6,
        "J",
        "assumption: one host round trip per inference "
        "(reset, start, read) over the host interface",
        "energy per inference, host I/O",
        0.5e-6,
        8e-6,
    ),
    (
        "loihi_inference_time",
        100e-6,
        "s",
        "assumption: as loihi_inference_energy",
        "time per inference, host I/O",
        25e-6,
        400e-6,
    ),
    (
        "loihi_step_energy",
        0.0,
        "J",
        FIT_LOIHI + "; range: the fits with the other constants at their range ends",
        "x86 dynamic: energy per step per chip in use, the embedded cores' management",
        0.0,
        0.0,
    ),
    (
        "loihi_step_time",
        3.8467e-06,
        "s",
        FIT_LOIHI + "; range: the fits with the other constants at their range ends",
        "time per step: management by the embedded x86 cores",
        0.0,
        3.1880e-05,
    ),
    (
        "loihi_x86_active_power",
        0.067722,
        "W",
        FIT_LOIHI + "; range: the fits with the other constants at their range ends",
        "x86 static: power the embedded cores draw while a model is loaded (the paper: ~70 mW)",
        0.054796,
        0.069052,
    ),
)

_LOIHI_CHIP = (
    ("loihi_cores_per_chip", 128, "cores", DAVIES, "neuromorphic cores per chip"),
    ("loihi_cores_per_tile", 4, "cores", DAVIES, "cores per mesh tile (128 cores, 32 tiles)"),
    (
        "loihi_mesh_columns",
        8,
        "tiles",
        "assumption: the 32 tiles of a chip laid out 8 east-west by 4 north-south",
        "tiles per east-west row of the mesh",
    ),
    ("loihi_compartments_per_core", 1024, "compartments", DAVIES, "compartments per core"),
    ("loihi_synaptic_memory", 131072, "bytes", DAVIES, "synaptic memory per core"),
    ("loihi_max_fan_in", 4096, "synapses", DAVIES, "fan-in per compartment"),
    (
        "loihi_max_fan_out",
        4096,
        "cores",
        DAVIES,
        "fan-out: destination cores of one compartment, an output axon each (4,096 output "
        "axons per core)",
    ),
    (
        "loihi_synapse_bits",
        16,
        "bit",
        "assumption: 8-bit weight plus 8 bits of index in a sparse synapse encoding",
        "synaptic memory taken by one synapse",
    ),
)

_PUBLISHED = (
    _measured("blouw_idle_power", 0.029, "W", BLOUW, "Loihi idle power"),
    _measured("blouw_dynamic_energy", 0.27e-3, "J", BLOUW, "Loihi dynamic energy per inference"),
    _measured("carsnn_latency", 0.72e-3, "s", VIALE, "Loihi latency per sample (at most)"),
    _measured("carsnn_power", 0.310, "W", VIALE, "Loihi power running CarSNN"),
    _measured("published_power_ratio", 27, "1", CHANDARANA, "NCS2 over Loihi power, up to"),
    _measured("published_energy_ratio", 5, "1", CHANDARANA, "NCS2 over Loihi energy, up to"),
    _measured("asl_power_ratio", 20.64, "1", MOHAMMADI, "NCS2 over Loihi power, up to"),
    _measured("asl_energy_ratio", 4.10, "1", MOHAMMADI, "NCS2 over Loihi energy, up to"),
    _measured("akida_calibration_fps", 770, "1/s", COURSE, "template CNN frame rate"),
    _measured("akida_calibration_power", 0.9368, "W", COURSE, "template CNN average power"),
    _measured("akidanet_guide_fps", 43.48, "1/s", GUIDE, "frame rate, 10 frames"),
    _measured("akidanet_guide_power", 1.021, "W", GUIDE, "average power, 10 frames"),
    _measured("akidanet_guide_floor", 0.91223, "W", GUIDE, "floor power"),
    _measured("akidanet_guide_energy", 23.48e-3, "J", GUIDE, "energy per frame, 10 frames"),
    _measured("akidanet_docs_fps_1", 10.99, "1/s", DOCS, "frame rate, 1 frame"),
    _measured("akidanet_docs_fps_10", 51.28, "1/s", DOCS, "frame rate, 10 frames"),
    _measured("akidanet_docs_power", 0.981, "W", DOCS, "average power, 10 frames"),
    _measured("akidanet_docs_energy", 19.13e-3, "J", DOCS, "energy per frame, 10 frames"),
    _measured("habara_energy_reduction", 0.122, "1", HABARA, "energy per frame saved"),
    _measured("habara_activation_reduction", 0.701, "1", HABARA, "fewer non-zero activations"),
    _measured("habara_weight_reduction", 0.142, "1", HABARA, "fewer non-zero weights"),
    _measured("iscas_energy_reduction", 0.138, "1", ISCAS, "energy per frame saved"),
    _measured("iscas_activation_reduction", 0.761, "1", ISCAS, "fewer non-zero activations"),
    _measured("iscas_weight_reduction", 0.221, "1", ISCAS, "fewer non-zero weights"),
)

_AKIDA = (
    (
        "akida_floor_power",
        0.89426,
        "W",
        COURSE + "; range up to the 912.23 mW floor of " + GUIDE,
        "board floor power, drawn for the whole period",
        0.89426,
        0.91223,
    ),
    (
        "akida_call_time",
        5.4205e-2,
        "s",
        FIT_AKIDA + DOCS + " (1 frame against 10 frames) and " + COURSE,
        "activity-independent time per call (per predict)",
        4.120e-2,
        5.429e-2,
    ),
    (
        "akida_frame_time",
        5.7103e-4,
        "s",
        FIT_AKIDA + COURSE + " and " + DOCS,
        "activity-independent time per frame and hardware sequence",
        4.886e-4,
        6.088e-4,
    ),
    (
        "akida_synop_time",
        9.5033e-10,
        "s",
        FIT_AKIDA + COURSE + " and " + DOCS,
        "frame time per synaptic operation (event x non-zero weight) on one neural "
        "processor: the busiest NP's load sets a long call's frame time",
        4.735e-10,
        2.587e-09,
    ),
    (
        "akida_host_output_time",
        2.3635e-8,
        "s",
        HOST_AKIDA,
        "host time per output (position x filter, before pooling) of a layer the AKD1000 "
        "cannot hold, in BrainChip's software engine; range 0.5x-2x (the course's host "
        "is not known)",
        1.182e-8,
        4.727e-8,
    ),
    (
        "akida_host_synop_time",
        3.9539e-10,
        "s",
        HOST_AKIDA,
        "host time per synaptic op (event x non-zero weight) of such a layer; range 0.5x-2x",
        1.977e-10,
        7.908e-10,
    ),
    (
        "akida_frame_energy",
        5.4813e-5,
        "J",
        FIT_AKIDA + COURSE + " and " + GUIDE,
        "activity-independent dynamic energy per frame",
        5.438e-5,
        5.503e-5,
    ),
    (
        "akida_synop_energy",
        1.6145e-11,
        "J",
        FIT_AKIDA + COURSE + " and " + GUIDE,
        "dynamic energy per synaptic operation",
        8.072e-12,
        3.229e-11,
    ),
    (
        "akida_fire_energy",
        1.6145e-11,
        "J",
        "assumption: one firing neuron costs about one synaptic "
        "operation (akida_synop_energy); range 0 to 2x",
        "energy per neuron that fires",
        0.0,
        3.229e-11,
    ),
    (
        "akidanet_event_fraction",
        0.3,
        "1",
        "assumption: AkidaNet 0.5 at 4-bit activations, "
        "events x non-zero weights over dense MACs; range 0.15-0.6",
        "activity of the AkidaNet calibration point",
        0.15,
        0.6,
    ),
    ("akida_nps", 78, "NPs", "BrainChip AKD1000: 80 NPs, 78 usable", "neural processors"),
    (
        "akida_filters_per_np",
        64,
        "filters",
        "assumption, used only when the akida package (BrainChip's mapper) is absent: no "
        "per-NP filter limit is published in docs/design.md's sources",
        "filters (neurons per position) one neural processor holds",
    ),
    (
        "akida_frames_per_call",
        10000,
        "frames",
        COURSE + ": the 10,000 test images in one call",
        "frames per call when none is given",
    ),
)


def _v2(name: str, low: float, high: float, why: str) -> tuple:
    """An Akida 2.0 assumption: the AKD1000 constant ``name``'s value, its range scaled by
    ``low``..``high``; no Akida 2.0 device has a published measurement."""
    _, value, unit, _, what, lo, hi = next(e for e in _AKIDA if e[0] == name)
    source = (
        f"assumption: no Akida 2.0 measurement is published; the AKD1000's {name} stands in "
        f"(not validated against silicon); {why}; range {low:g}x its low to {high:g}x its high"
    )
    return (name.replace("akida_", "akida_v2_", 1), value, unit, source, what, lo * low, hi * high)


_AKIDA_V2 = (
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

_NCS2 = (
    (
        "ncs2_power",
        1.4382,
        "W",
        FIT_NCS2 + ": mean running power (USB meter); range: the log's readings, 1.35-1.55 W",
        "running power (stick total)",
        1.35,
        1.55,
    ),
    ("ncs2_tdp", 1.5, "W", NCS2_BRIEF, "thermal design power, the envelope's ceiling"),
    ("ncs2_peak_ops", 1e12, "op/s", NCS2_BRIEF + ": >1 TOPS", "peak neural engine rate"),
    (
        "ncs2_idle_power",
        0.496,
        "W",
        FIT_NCS2 + ": idle power (USB meter)",
        "idle power of the stick, plugged in with no model running",
    ),
    (
        "ncs2_call_overhead",
        1.3937e-03,
        "s",
        FIT_NCS2 + ": 1 / 464.6 inferences/s less the modelled layer time and USB transfer "
        "of the 390-256-256-29 network (fitted jointly with ncs2_memory_bandwidth); range: "
        "the fits at the other constants' range ends",
        "per-inference host, USB and runtime overhead (the call floor)",
        1.3665e-03,
        1.4769e-03,
    ),
    (
        "ncs2_utilization",
        0.25,
        "1",
        "assumption: fraction of the peak rate a layer sustains",
        "MAC efficiency of the neural engine",
        0.1,
        0.5,
    ),
    (
        "ncs2_memory_bandwidth",
        4.6237e08,
        "B/s",
        "calibrated by scripts/calibrate_ncs2.py on " + PRG + ": the 256x256x1 encoder-"
        "decoder with filters 16-128 (7.5 frames/s over USB 2.0); far below the LPDDR4's "
        "peak: the frame rates there follow the tensors moved, not the MACs (half the width, "
        "a quarter of the MACs, 1.5x the rate); range: the fits at the utilization's and USB "
        "bandwidths' range ends",
        "effective rate of a layer's data movement (weights, input and output in FP16)",
        4.4587e08,
        5.2059e08,
    ),
    (
        "ncs2_bytes_per_value",
        2,
        "B",
        "the MYRIAD plugin computes in FP16",
        "bytes per weight and activation",
    ),
    (
        "ncs2_usb2_bandwidth",
        35e6,
        "B/s",
        "assumption: USB 2.0 high speed (480 Mbit/s) effective bulk throughput",
        "transfer of input and output tensors over USB 2.0 (prg_prgncs's timings)",
        25e6,
        45e6,
    ),
    (
        "ncs2_usb_bandwidth",
        3e8,
        "B/s",
        "assumption: USB 3.0 effective throughput",
        "transfer of input and output tensors",
        2e8,
        4e8,
    ),
)

ENTRIES = (*_LOIHI_OPS, *_LOIHI_SYSTEM, *_LOIHI_CHIP, *_PUBLISHED, *_AKIDA, *_NCS2, *_AKIDA_V2)
