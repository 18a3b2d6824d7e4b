"""What every Akida engine shares: layer names, input encoding and trace attributes."""

from __future__ import annotations

import numpy as np

from converters.chips.akida import AkidaNet

from .base import Engine

__all__ = ["AkidaEngine"]


class AkidaEngine(Engine):
    """An AkidaNet on any device: one frame of integer levels per sample in, outputs out."""

    target = "akida"
    net: AkidaNet

    def _probe_layers(self) -> list[str]:
        return [layer.name for layer in self.net.layers]

    def layer_names(self) -> list[str]:
        return self.net.layer_names

    def encode(self, samples: np.ndarray) -> np.ndarray:
        """Integer input levels, one row per sample (flattened (H, W, C))."""
        levels = self.net.levels(samples)
        return levels.reshape(len(levels), -1).astype(np.int64)

    def attrs(self) -> dict:
        return {
            "target": self.target,
            "net_digest": self.net.digest(),
            "timesteps": 1,
            "dt": 1.0,
            "dt_unit": "Akida frame",
            "input_bits": self.net.input_bits,
        }
