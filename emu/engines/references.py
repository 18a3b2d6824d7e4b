"""The numpy references as the ``reference`` device of every chip: the test oracles run as engines.

Each runs its chip's batched numpy simulator (:mod:`emu.engines.loihi_reference`,
:mod:`emu.engines.akida_reference`, :mod:`emu.engines.akida_v2_reference`), so their
traces come out of :class:`emu.Emulation` like every other device's. Nothing is built.
"""

from __future__ import annotations

import numpy as np

from converters.chips.loihi import input_seeds

from ..traces.records import BatchRecord
from . import akida_reference, akida_v2_reference, loihi_reference
from .akida_tensor import AkidaTensorBackend
from .akida_v2_tensor import AkidaV2TensorBackend
from .loihi_engine import LoihiEngine

__all__ = ["AkidaReferenceEngine", "AkidaV2ReferenceEngine", "LoihiReferenceEngine"]


class LoihiReferenceEngine(LoihiEngine):
    """A LoihiNet's batches on :func:`emu.engines.loihi_reference.simulate`."""

    def run_batch(self, levels: np.ndarray, first_sample: int = 0) -> BatchRecord:
        """Simulate a batch of encoded samples; ``first_sample`` places its rate-input seeds."""
        levels = self.check_batch(levels)
        seeds = input_seeds(len(levels), self.net.input.size, self.settings.seed, first_sample)
        return loihi_reference.simulate(
            self.net, levels, seeds, self.probe, self.settings.record_events
        )


class AkidaReferenceEngine(AkidaTensorBackend):
    """An AkidaNet's batches on :func:`emu.engines.akida_reference.simulate`."""

    def load(self, net) -> None:
        """Take ``net`` (any topology) for the next runs."""
        self.net = net

    def _simulate(self, levels: np.ndarray) -> BatchRecord:
        return akida_reference.simulate(
            self.net, levels, bool(self.probe), self.settings.record_events
        )


class AkidaV2ReferenceEngine(AkidaV2TensorBackend):
    """An AkidaV2Net's graphs on :func:`emu.engines.akida_v2_reference.simulate`."""

    def _simulate(self, levels: np.ndarray) -> BatchRecord:
        return akida_v2_reference.simulate(
            self.net, levels, bool(self.probe), self.settings.record_events
        )
