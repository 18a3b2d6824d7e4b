"""What every Loihi engine shares: layer names, input encoding and trace attributes."""

from __future__ import annotations

import numpy as np

from converters.chips.loihi import LoihiNet

from .base import Engine

__all__ = ["LoihiEngine"]


class LoihiEngine(Engine):
    """A LoihiNet on any device: rate levels, bias levels or spike rasters in, spikes out."""

    target = "loihi"
    net: LoihiNet

    def layer_names(self) -> list[str]:
        return self.net.layer_names

    def encode(self, samples) -> np.ndarray:
        """Input levels (N, size), or for spike-train input the rasters (N, steps, size)."""
        if self.net.input.encoding == "spikes":
            return self.net.input.raster(samples, self.net.timesteps)
        return self.net.input.levels(samples)

    def attrs(self) -> dict:
        return {
            "target": "loihi",
            "net_digest": self.net.digest(),
            "timesteps": self.net.timesteps,
            "dt": 1.0,
            "dt_unit": "Loihi algorithmic timestep",
            "input_encoding": self.net.input.encoding,
            "reset": sorted({layer.reset for layer in self.net.layers}),
            "seed": self.settings.seed,
        }
