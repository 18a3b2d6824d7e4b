"""The Brian2 equations of Loihi compartments and input generators, in the chip's integers.

The compartment update is :func:`converters.chips.loihi.step_layer` written as Brian2 code
on int64 state; rate-coded inputs run the chip's linear congruential generator, spike
trains arrive as a raster packed :data:`SPIKE_WORD_BITS` spikes to a TimedArray value.
"""

from __future__ import annotations

import numpy as np

from converters.chips.loihi import (
    DECAY_ONE,
    INPUT_RANGE,
    LCG_INCREMENT,
    LCG_MODULUS,
    LCG_MULTIPLIER,
    RATE_BIN,
    U_RANGE,
    V_MAX,
)

__all__ = [
    "COMPARTMENT_MODEL",
    "COMPARTMENT_UPDATE",
    "GENERATOR_MODEL",
    "GENERATOR_THRESHOLD",
    "GENERATOR_UPDATE",
    "INT64",
    "RESET_CODE",
    "SPIKE_THRESHOLD",
    "SPIKE_WORD_BITS",
    "SYNAPSE_DTYPE",
    "pack_spikes",
]

SYNAPSE_DTYPE = np.int32  # effective weights are at most 2**21 in magnitude

COMPARTMENT_MODEL = """
u : integer
v : integer
inp : integer
refractory_left : integer
bias : integer
vth : integer
decay_u : integer
decay_v : integer
refractory_delay : integer
reset_zero : integer
count : integer
u_wrap : integer
v_clip : integer
input_overflow : integer
"""

COMPARTMENT_UPDATE = f"""
input_overflow += int(inp < -{INPUT_RANGE}) + int(inp >= {INPUT_RANGE})
u = int(u * ({DECAY_ONE:.1f} - decay_u) / {DECAY_ONE:.1f}) + inp
u_wrap += int(u < -{U_RANGE}) + int(u >= {U_RANGE})
u = (u + {U_RANGE}) % {2 * U_RANGE} - {U_RANGE}
inp = 0
v_raw = int(v * ({DECAY_ONE:.1f} - decay_v) / {DECAY_ONE:.1f}) + u + bias
v_clip += int(v_raw > {V_MAX}) + int(v_raw < -{V_MAX})
held = int(refractory_left > 0)
v = (1 - held) * clip(v_raw, -{V_MAX}, {V_MAX})
refractory_left = refractory_left - held
"""

RESET_CODE = """
v = (1 - reset_zero) * (v - vth)
refractory_left = reset_zero * (refractory_delay - 1)
count += 1
"""

GENERATOR_MODEL = """
rng : integer
level : integer
count : integer
"""
SPIKE_WORD_BITS = 16  # input spikes per TimedArray value (exact in float64 and int32)
SPIKE_THRESHOLD = (
    f"int(input_spike_bits(t, i // {SPIKE_WORD_BITS}) / 2.0**(i % {SPIKE_WORD_BITS})) % 2 == 1"
)

GENERATOR_UPDATE = f"rng = (rng * {LCG_MULTIPLIER} + {LCG_INCREMENT}) % {LCG_MODULUS}"
GENERATOR_THRESHOLD = f"rng // {RATE_BIN} < level"

INT64 = {
    name: np.int64
    for name in (
        "u",
        "v",
        "inp",
        "bias",
        "vth",
        "u_wrap",
        "v_clip",
        "input_overflow",
        "rng",
        "level",
    )
}


def pack_spikes(raster: np.ndarray) -> np.ndarray:
    """Rasters (batch, steps, size) as one row per step of 16-bit words, plus an empty row."""
    batch, steps, size = raster.shape
    words = -(-size // SPIKE_WORD_BITS)
    bits = np.zeros((batch * steps + 1, words * SPIKE_WORD_BITS), np.float64)
    bits[:-1, :size] = raster.reshape(batch * steps, size)
    weights = 2.0 ** np.arange(SPIKE_WORD_BITS)
    return bits.reshape(len(bits), words, SPIKE_WORD_BITS) @ weights
