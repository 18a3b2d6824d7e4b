"""The publications, measurements and fits the hardware constants and measurements cite."""

from __future__ import annotations

__all__ = [
    "DAVIES",
    "BLOUW",
    "VIALE",
    "CHANDARANA",
    "MOHAMMADI",
    "COURSE",
    "GUIDE",
    "DOCS",
    "HABARA",
    "ISCAS",
    "NCS2_BRIEF",
    "LOGS",
    "FIT_LOIHI",
    "PRG",
    "FIT_NCS2",
    "FIT_AKIDA",
    "HOST_AKIDA",
    "V_RANGE",
    "T_RANGE",
    "SOURCES",
]

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
