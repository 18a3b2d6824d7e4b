"""Intel Loihi (v1): network records in the chip's integers, its constants and its arithmetic.

A LoihiNet is a list of compartment layers, each fed by sparse projections from the input
or from any layer (earlier, later or itself: recurrent). All values are the integers the
chip stores (docs/design.md, "Loihi (v1) compartment arithmetic")::

    w_eff = w_mant * 2**(6 + w_exp)      (w_mant even in -256..254; multiples of 2**-w_exp when w_exp < 0)
    bias  = bias_mant * 2**bias_exp      (bias_mant in -4096..4095, bias_exp in 0..7)
    vth   = vth_mant * 2**6              (vth_mant in 0..2**17 - 1)

Per layer and step t (pure functions :func:`trunc_decay` and :func:`step_layer`)::

    u[t] = wrap24( trunc0(u[t-1] * (4096 - du) / 4096) + in[t] )
    v[t] = clip23( trunc0(v[t-1] * (4096 - dv) / 4096) + u[t] + bias )     (held at 0 while refractory)
    spike if v[t] > vth;  reset: v = 0 (then refractory - 1 held steps) or v -= vth
    in[t+1] = sum of w_eff over the synapses of neurons that spiked at t

Every projection, recurrent or backward ones included, delivers a spike of step t into
its target's u at step t + 1.

The input layer holds one compartment per pixel. With ``encoding="bias"`` each is driven
by a bias current ``level * 2**6`` (level = pixel in 0..255) against ``vth_mant = 255`` and
resets by subtraction, so it fires at rate level/255. With ``encoding="rate"`` it is a
Bernoulli generator: ``r = (r * 1103515245 + 12345) mod 2**31`` per step, firing when
``r // 8421505 < level`` (r // 8421505 spreads over 0..254, so probability level / 255);
the generator state starts at the sample's seed (:func:`input_seeds`, :func:`rate_spikes`).
With ``encoding="spikes"`` the input neurons replay given spike trains: per sample a
boolean raster (steps x input neurons) or events as (step, neuron) pairs
(:meth:`LoihiInput.raster`); input spikes of step t reach the first layers at t + 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .fields import INDEX_MAX, check_ranges, check_value, ints, reals
from .tree import digest

__all__ = [
    "LoihiProjection",
    "LoihiLayer",
    "LoihiInput",
    "LoihiNet",
    "QuantizationReport",
    "LayerState",
    "trunc_decay",
    "step_layer",
    "rate_spikes",
    "input_seeds",
    "effective_weights",
    "RESETS",
    "ENCODINGS",
    "INPUT_LEVELS",
    "MANT_SHIFT",
    "MANT_SCALE",
    "DECAY_SHIFT",
    "DECAY_ONE",
    "MAX_FAN_IN",
    "MAX_FAN_OUT",
    "U_RANGE",
    "V_MAX",
    "INPUT_RANGE",
    "WEIGHT_MANT_RANGE",
    "WEIGHT_EXP_RANGE",
    "BIAS_MANT_RANGE",
    "BIAS_EXP_RANGE",
    "VTH_MANT_MAX",
    "REFRACTORY_MAX",
    "LCG_MULTIPLIER",
    "LCG_INCREMENT",
    "LCG_MODULUS",
    "RATE_BIN",
]

RESETS = ("zero", "subtract")
ENCODINGS = ("bias", "rate", "spikes")
INPUT_LEVELS = 255  # input levels 0..255
MANT_SHIFT = 6  # weights, thresholds and input biases are mantissas times 2**6
MANT_SCALE = 2**MANT_SHIFT
DECAY_SHIFT = 12  # decays are fractions of 4096
DECAY_ONE = 2**DECAY_SHIFT  # decay_u = 4096: the current lasts one step
MAX_FAN_OUT = 4096  # synapses out of one compartment
MAX_FAN_IN = 4096  # synapses into one compartment
U_RANGE = 2**23  # u wraps to [-2**23, 2**23)
V_MAX = 2**23 - 1  # v clips to [-V_MAX, V_MAX]
INPUT_RANGE = 2**21  # a step's summed input beyond [-2**21, 2**21) is undefined on the chip
WEIGHT_MANT_RANGE = (-256, 254)
WEIGHT_EXP_RANGE = (-8, 7)
BIAS_MANT_RANGE = (-(2**12), 2**12 - 1)
BIAS_EXP_RANGE = (0, 7)
VTH_MANT_MAX = 2**17 - 1
REFRACTORY_MAX = 64
LCG_MULTIPLIER, LCG_INCREMENT, LCG_MODULUS = 1103515245, 12345, 2**31
RATE_BIN = -(-LCG_MODULUS // INPUT_LEVELS)  # 8421505: r // RATE_BIN lies in 0..254


def effective_weights(mant: np.ndarray, exp: int) -> np.ndarray:
    """``mant * 2**(6 + exp)`` as int64, floored per weight where 6 + exp < 0."""
    shift = MANT_SHIFT + exp
    w = np.asarray(mant).astype(np.int64)
    return w << shift if shift >= 0 else w >> -shift


@dataclass
class LoihiProjection:
    """Synapses from one layer into another, as sparse (pre, post, mantissa) triples.

    Convolutions are :class:`converters.chips.loihi_conv.LoihiConv` records instead, with
    the same interface (``source``, ``weight_exp``, ``pre``, ``post``, ``weight_mant``,
    ``weight_eff``, ``validate``, ``fan_in``, ``fan_out``, ``n_synapses``).
    """

    source: str
    pre: np.ndarray = ints(0, INDEX_MAX)  # [S] int32, index into the source layer
    post: np.ndarray = ints(0, INDEX_MAX)  # [S] int32, index into the target layer
    weight_mant: np.ndarray = ints(*WEIGHT_MANT_RANGE)  # [S] int16
    weight_exp: int = ints(*WEIGHT_EXP_RANGE, default=0)

    def __post_init__(self) -> None:
        self.pre = np.asarray(self.pre, dtype=np.int32)
        self.post = np.asarray(self.post, dtype=np.int32)
        self.weight_mant = np.asarray(self.weight_mant, dtype=np.int16)
        if not (len(self.pre) == len(self.post) == len(self.weight_mant)):
            raise ValueError("pre, post and weight_mant must have one entry per synapse")
        check_ranges(self)

    @property
    def weight_eff(self) -> np.ndarray:
        """Effective integer weights, floored per synapse where 6 + w_exp < 0."""
        return effective_weights(self.weight_mant, self.weight_exp)

    @property
    def n_synapses(self) -> int:
        return len(self.pre)

    def synapses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pre, post, weight_mant) of every synapse."""
        return self.pre, self.post, self.weight_mant

    def fan_in(self, target_size: int) -> np.ndarray:
        """Synapses into every target neuron."""
        return np.bincount(self.post, minlength=target_size)

    def fan_out(self, source_size: int) -> np.ndarray:
        """Synapses out of every source neuron."""
        return np.bincount(self.pre, minlength=source_size)

    def validate(self, source_size: int | None, target_size: int, where: str) -> None:
        """Raise ValueError if a synapse indexes outside the source or the target."""
        if len(self.post) and (self.post.min() < 0 or self.post.max() >= target_size):
            bad = self.post.max() if self.post.max() >= target_size else self.post.min()
            raise ValueError(
                f"{where}: a synapse targets neuron {bad}, outside 0..{target_size - 1}"
            )
        if (
            source_size is not None
            and len(self.pre)
            and (self.pre.min() < 0 or self.pre.max() >= source_size)
        ):
            bad = self.pre.min() if self.pre.min() < 0 else self.pre.max()
            raise ValueError(f"{where}: a synapse reads neuron {bad}, outside 0..{source_size - 1}")


@dataclass
class LoihiLayer:
    """A population of identical-parameter compartments and the projections into it."""

    name: str
    size: int = ints(0, INDEX_MAX)
    projections: list  # LoihiProjection or LoihiConv records
    vth_mant: int = ints(0, VTH_MANT_MAX)
    bias_mant: np.ndarray | None = ints(*BIAS_MANT_RANGE, default=None)  # [size], None: zeros
    bias_exp: int = ints(*BIAS_EXP_RANGE, default=0)
    decay_u: int = ints(0, DECAY_ONE, default=DECAY_ONE)
    decay_v: int = ints(0, DECAY_ONE, default=0)
    # v held at 0 for refractory - 1 steps after a spike
    refractory: int = ints(1, REFRACTORY_MAX, default=1)
    reset: str = "zero"
    shape: tuple[int, ...] = ints(0, INDEX_MAX, default=())
    # auxiliary compartments joined into each neuron (1: none)
    fan_in_split: int = ints(1, INDEX_MAX, default=1)

    def __post_init__(self) -> None:
        self.bias_mant = (
            np.zeros(self.size, np.int32) if self.bias_mant is None else np.asarray(self.bias_mant)
        )
        if self.bias_mant.shape != (self.size,):
            raise ValueError(f"layer {self.name!r}: bias_mant must have shape ({self.size},)")
        self.bias_mant = self.bias_mant.astype(np.int32)
        self.shape = tuple(self.shape) or (self.size,)
        where = f"layer {self.name!r}"
        check_ranges(self, where)
        if self.reset not in RESETS:
            raise ValueError(f"{where}: reset must be one of {RESETS}, got {self.reset!r}")
        for k, p in enumerate(self.projections):
            p.validate(None, self.size, f"{where}, projection {k} (from {p.source!r})")

    @property
    def bias(self) -> np.ndarray:
        return self.bias_mant.astype(np.int64) << self.bias_exp

    @property
    def vth(self) -> int:
        return int(self.vth_mant) << MANT_SHIFT

    @property
    def compartments_per_neuron(self) -> int:
        """Two with reset by subtraction, one with reset to zero, plus the fan-in split's
        auxiliary compartments when there are more than one."""
        soma = 2 if self.reset == "subtract" else 1
        return soma + (self.fan_in_split if self.fan_in_split > 1 else 0)

    @property
    def is_if(self) -> bool:
        """Integrate-and-fire: the current lasts one step and the voltage does not leak."""
        return self.decay_u == DECAY_ONE and self.decay_v == 0


@dataclass
class LoihiInput:
    """The input population: one compartment (or generator) per input value."""

    shape: tuple[int, ...] = ints(1, INDEX_MAX)
    encoding: str = "bias"
    # an input x is coded as level round(clip(x / scale, 0, 1) * 255)
    scale: float = reals(1e-30, 1e30, default=1.0)
    name: str = "input"

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"input encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        self.shape = tuple(int(s) for s in self.shape)
        check_ranges(self, "input")

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def levels(self, samples: np.ndarray) -> np.ndarray:
        """Integer input levels 0..255 of shape (N, size) for a batch of samples."""
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim == len(self.shape):
            x = x[None]
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(
                f"input samples have shape {tuple(x.shape[1:])}, the network expects {self.shape}"
            )
        if not np.all(np.isfinite(x)):
            raise ValueError("input samples contain NaN or infinite values")
        q = np.rint(np.clip(x / self.scale, 0.0, 1.0) * INPUT_LEVELS)
        return q.reshape(len(x), self.size).astype(np.int64)

    def raster(self, samples, steps: int) -> np.ndarray:
        """Spike-train inputs as a boolean raster of shape (N, steps, size).

        ``samples`` is either an array (N, steps, size) or (N, steps, *shape) of booleans
        (or 0/1), or a sequence with one entry per sample of events: an integer array
        (E, 2) of (step, neuron) rows, or a pair (steps, neurons) of arrays. Neurons index
        the flattened input; repeated events of one neuron in one step count once.
        """
        if isinstance(samples, np.ndarray) and samples.dtype != object:
            return self._check_raster(samples, steps)
        out = np.zeros((len(samples), steps, self.size), bool)
        for k, events in enumerate(samples):
            if isinstance(events, tuple | list) and len(events) == 2:
                step, neuron = (np.asarray(a) for a in events)
            else:
                pairs = np.asarray(events).reshape(-1, 2)
                step, neuron = pairs[:, 0], pairs[:, 1]
            where = f"spike-train input, sample {k}"
            check_value(f"{where}: event steps", step, "int", 0, steps - 1)
            check_value(f"{where}: event neurons", neuron, "int", 0, self.size - 1)
            if step.shape != neuron.shape:
                raise ValueError(f"{where}: {step.size} event steps but {neuron.size} neurons")
            out[k, step, neuron] = True
        return out

    def _check_raster(self, raster: np.ndarray, steps: int) -> np.ndarray:
        accepted = [(steps, self.size), (steps, *self.shape)]
        if raster.ndim < 2 or tuple(raster.shape[1:]) not in accepted:
            raise ValueError(
                f"a spike raster must have shape (N, {steps}, {self.size}) or "
                f"(N, {steps}, *{self.shape}), got {raster.shape}"
            )
        numeric = raster.dtype == bool or np.issubdtype(raster.dtype, np.number)
        if not numeric or not np.isin(raster, (0, 1)).all():
            raise ValueError("a spike raster must hold booleans or 0/1")
        return raster.reshape(len(raster), steps, self.size).astype(bool)

    def as_layer(self) -> LoihiLayer:
        """The bias-encoded input as compartments (bias is set per sample)."""
        return LoihiLayer(
            self.name,
            self.size,
            [],
            INPUT_LEVELS,
            bias_exp=MANT_SHIFT,
            reset="subtract",
            shape=self.shape,
        )


@dataclass
class QuantizationReport:
    """What quantization had to clip, per layer."""

    clipped_weights: dict[str, int] = field(default_factory=dict)
    zeroed_weights: dict[str, int] = field(default_factory=dict)
    clipped_biases: dict[str, int] = field(default_factory=dict)

    @property
    def saturated(self) -> bool:
        return any(self.clipped_weights.values()) or any(self.clipped_biases.values())


@dataclass
class LoihiNet:
    """A spiking network in Loihi's integers: input population, then layers.

    Projections may connect any two layers (forward, skipping, backward, or a layer onto
    itself); the order of ``layers`` only names the output (the last one).
    """

    target = "loihi"
    input: LoihiInput
    layers: list[LoihiLayer]
    timesteps: int = ints(1, INDEX_MAX)
    report: QuantizationReport = field(default_factory=QuantizationReport)

    def __post_init__(self) -> None:
        check_ranges(self)
        sizes = {self.input.name: self.input.size}
        for layer in self.layers:
            if layer.name in sizes:
                raise ValueError(f"layer name {layer.name!r} is used twice")
            sizes[layer.name] = layer.size
        for layer in self.layers:
            for k, p in enumerate(layer.projections):
                where = f"layer {layer.name!r}, projection {k} (from {p.source!r})"
                if p.source not in sizes:
                    raise ValueError(
                        f"{where}: no such source; a projection reads the input "
                        f"{self.input.name!r} or any layer, itself included: {list(sizes)[1:]}"
                    )
                p.validate(sizes[p.source], layer.size, where)

    @property
    def output(self) -> LoihiLayer:
        return self.layers[-1]

    @property
    def layer_names(self) -> list[str]:
        return [self.input.name] + [layer.name for layer in self.layers]

    def all_layers(self) -> list[LoihiLayer]:
        """The input (as bias-driven compartments) followed by the network's layers.

        For rate and spike-train inputs the first entry only stands for the input neurons.
        """
        return [self.input.as_layer(), *self.layers]

    def digest(self) -> str:
        """A hash of every field, stable across processes."""
        return digest(self)


# --- the arithmetic, as pure functions on state and parameters ------------------------


def trunc_decay(x: np.ndarray, decay: int) -> np.ndarray:
    """trunc0(x * (4096 - decay) / 4096), truncation toward zero."""
    prod = x * (DECAY_ONE - decay)
    return np.sign(prod) * (np.abs(prod) >> DECAY_SHIFT)


@dataclass
class LayerState:
    """Compartment state of one layer for a batch: arrays of shape (batch, size)."""

    u: np.ndarray
    v: np.ndarray
    refractory_left: np.ndarray
    saturation: np.ndarray = field(default_factory=lambda: np.zeros(3, np.int64))

    @classmethod
    def zeros(cls, batch: int, size: int) -> LayerState:
        z = np.zeros((batch, size), np.int64)
        return cls(z.copy(), z.copy(), z.copy())


def step_layer(
    state: LayerState, layer: LoihiLayer, synaptic_input: np.ndarray, bias: np.ndarray
) -> np.ndarray:
    """Advance one layer by one step in place; return its spikes (bool, batch x size).

    ``state.saturation`` counts u wraps, v clips and out-of-range inputs, in that order.
    """
    state.saturation[2] += np.count_nonzero(
        (synaptic_input < -INPUT_RANGE) | (synaptic_input >= INPUT_RANGE)
    )
    u = trunc_decay(state.u, layer.decay_u) + synaptic_input
    state.saturation[0] += np.count_nonzero((u < -U_RANGE) | (u >= U_RANGE))
    state.u = (u + U_RANGE) % (2 * U_RANGE) - U_RANGE
    v = trunc_decay(state.v, layer.decay_v) + state.u + bias
    state.saturation[1] += np.count_nonzero(np.abs(v) > V_MAX)
    held = state.refractory_left > 0
    state.v = np.where(held, 0, np.clip(v, -V_MAX, V_MAX))
    state.refractory_left = np.where(held, state.refractory_left - 1, 0)
    spikes = state.v > layer.vth
    if layer.reset == "zero":
        state.v[spikes] = 0
        state.refractory_left[spikes] = layer.refractory - 1
    else:
        state.v[spikes] -= layer.vth
    return spikes


def rate_spikes(state: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step of the rate-coded input generators: (new generator state, spikes)."""
    state = (state * LCG_MULTIPLIER + LCG_INCREMENT) % LCG_MODULUS
    return state, state // RATE_BIN < levels


def input_seeds(n_samples: int, size: int, seed: int = 0, offset: int = 0) -> np.ndarray:
    """Per-sample, per-input generator seeds in [0, 2**31), independent of chunking."""
    rng = np.random.default_rng([seed, 0x5EED])
    all_seeds = rng.integers(0, LCG_MODULUS, size=(offset + n_samples, size), dtype=np.int64)
    return all_seeds[offset:]
