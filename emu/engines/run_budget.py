"""The documented ranges of run settings and the memory a batch needs, checked before a run.

A batch records, per sample, every step's spike totals per layer and output spikes, and
keeps each neuron's state (at least 16 bytes: u, v, count, refractory period). That
estimate is checked against the memory available (:mod:`converters.resources`) when an
:class:`emu.Emulation` is made, so that an impossible batch size or number of steps is
refused in a second rather than after a compile or an allocation error.
"""

from __future__ import annotations

import numpy as np

from converters.resources import check_fits

from .settings import RunSettings

__all__ = ["MAX_SEED", "MAX_BATCH_SIZE", "MAX_TIMESTEPS", "batch_bytes", "check_run"]

MAX_SEED = 2**32 - 1
MAX_BATCH_SIZE = 1 << 20
MAX_TIMESTEPS = 1 << 24
_STATE_BYTES = 16  # per neuron and sample


def _shape(net) -> tuple[int, int, int, int]:
    """(neurons, layers, output neurons, steps) of a Loihi or Akida network."""
    if net.target == "akida":
        sizes = [int(np.prod(layer.output_shape)) for layer in net.layers]
        return sum(sizes) + int(np.prod(net.input_shape)), len(sizes) + 1, sizes[-1], 1
    sizes = [int(layer.size) for layer in net.all_layers()]
    return sum(sizes) + int(net.input.size), len(sizes), int(net.output.size), int(net.timesteps)


def batch_bytes(net, settings: RunSettings) -> int:
    """Bytes one batch of ``settings.batch_size`` samples needs for its state and recordings."""
    neurons, layers, outputs, steps = _shape(net)
    probes = sum(len(v) for v in settings.probe.values())
    per_sample = neurons * _STATE_BYTES + steps * (4 * layers + outputs + 8 * probes)
    return int(settings.batch_size) * per_sample


def check_run(net, settings: RunSettings) -> None:
    """Refuse (ValueError) a seed, batch size or step count outside its documented range,
    or a batch that does not fit in the available memory."""
    for name, value, high in (
        ("seed", settings.seed, MAX_SEED),
        ("batch_size", settings.batch_size, MAX_BATCH_SIZE),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(f"{name} must be an integer in 0..{high}, got {value!r}")
        if not 0 <= value <= high:
            raise ValueError(f"{name}={value} is out of range: must be an integer in 0..{high}")
    if getattr(net, "target", None) not in ("loihi", "akida"):
        return  # no engine emulates it: make_engine says so
    steps = _shape(net)[3]
    if steps > MAX_TIMESTEPS:
        raise ValueError(
            f"the network runs {steps} timesteps per sample; at most {MAX_TIMESTEPS} are accepted"
        )
    neurons, _, _, _ = _shape(net)
    check_fits(
        batch_bytes(net, settings),
        f"a batch of {settings.batch_size} samples ({neurons} neurons, {steps} steps each)",
        "lower the batch size (--batch-size) or the network's timesteps",
    )
