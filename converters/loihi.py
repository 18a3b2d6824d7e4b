"""Loihi networks in the chip's integers, and quantization of a normalized graph into one.

A LoihiNet is a list of compartment layers, each fed by sparse projections. All values are
the integers the chip stores (DESIGN.md, "Loihi (v1) compartment arithmetic")::

    w_eff = w_mant * 2**(6 + w_exp)      (w_mant even in -256..254; multiples of 2**-w_exp when w_exp < 0)
    bias  = bias_mant * 2**bias_exp      (bias_mant in -4096..4095, bias_exp in 0..7)
    vth   = vth_mant * 2**6              (vth_mant in 0..2**17 - 1)

The input layer holds one compartment per pixel. With ``encoding="bias"`` each is driven
by a bias current ``level * 2**6`` (level = pixel in 0..255) against ``vth_mant = 255`` and
resets by subtraction, so it fires at rate level/255. With ``encoding="rate"`` it is a
Bernoulli generator firing with probability level/255 per step, drawn from a 31-bit linear
congruential generator (see :mod:`emu.loihi_reference`).
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field

import numpy as np

from .graph import Graph
from .populations import populations

__all__ = [
    "LoihiProjection",
    "LoihiLayer",
    "LoihiInput",
    "LoihiNet",
    "QuantizationReport",
    "to_loihi",
    "RESETS",
    "ENCODINGS",
]

RESETS = ("zero", "subtract")
ENCODINGS = ("bias", "rate")
INPUT_LEVELS = 255


def _check(name: str, value, low: int, high: int) -> None:
    arr = np.asarray(value)
    if arr.size and (
        not np.issubdtype(arr.dtype, np.integer) or arr.min() < low or arr.max() > high
    ):
        raise ValueError(
            f"{name} must be integers in [{low}, {high}], got range [{arr.min()}, {arr.max()}]"
        )


@dataclass
class LoihiProjection:
    """Synapses from one layer into another, as sparse (pre, post, mantissa) triples."""

    source: str
    pre: np.ndarray  # [S] int32, index into the source layer
    post: np.ndarray  # [S] int32, index into the target layer
    weight_mant: np.ndarray  # [S] int16
    weight_exp: int = 0

    def __post_init__(self) -> None:
        self.pre = np.asarray(self.pre, dtype=np.int32)
        self.post = np.asarray(self.post, dtype=np.int32)
        self.weight_mant = np.asarray(self.weight_mant, dtype=np.int16)
        if not (len(self.pre) == len(self.post) == len(self.weight_mant)):
            raise ValueError("pre, post and weight_mant must have one entry per synapse")
        _check("weight_exp", self.weight_exp, -8, 7)
        _check("weight_mant", self.weight_mant, -256, 254)

    @property
    def weight_eff(self) -> np.ndarray:
        """Effective integer weights, floored per synapse where 6 + w_exp < 0."""
        shift = 6 + self.weight_exp
        w = self.weight_mant.astype(np.int64)
        return w << shift if shift >= 0 else w >> -shift


@dataclass
class LoihiLayer:
    """A population of identical-parameter compartments and the projections into it."""

    name: str
    size: int
    projections: list[LoihiProjection]
    vth_mant: int
    bias_mant: np.ndarray | None = None  # [size] int, zeros if None
    bias_exp: int = 0
    decay_u: int = 4096
    decay_v: int = 0
    refractory: int = 1  # v held at 0 for refractory - 1 steps after a spike
    reset: str = "zero"
    shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        self.bias_mant = (
            np.zeros(self.size, np.int32) if self.bias_mant is None else np.asarray(self.bias_mant)
        )
        if self.bias_mant.shape != (self.size,):
            raise ValueError(f"layer {self.name!r}: bias_mant must have shape ({self.size},)")
        self.bias_mant = self.bias_mant.astype(np.int32)
        self.shape = tuple(self.shape) or (self.size,)
        _check(f"layer {self.name!r}: vth_mant", self.vth_mant, 0, 2**17 - 1)
        _check(f"layer {self.name!r}: bias_mant", self.bias_mant, -(2**12), 2**12 - 1)
        _check(f"layer {self.name!r}: bias_exp", self.bias_exp, 0, 7)
        _check(f"layer {self.name!r}: decay_u", self.decay_u, 0, 4096)
        _check(f"layer {self.name!r}: decay_v", self.decay_v, 0, 4096)
        _check(f"layer {self.name!r}: refractory", self.refractory, 1, 64)
        if self.reset not in RESETS:
            raise ValueError(
                f"layer {self.name!r}: reset must be one of {RESETS}, got {self.reset!r}"
            )
        for p in self.projections:
            if len(p.post) and (p.post.min() < 0 or p.post.max() >= self.size):
                raise ValueError(
                    f"layer {self.name!r}: a projection from {p.source!r} targets a missing neuron"
                )

    @property
    def bias(self) -> np.ndarray:
        return self.bias_mant.astype(np.int64) << self.bias_exp

    @property
    def vth(self) -> int:
        return int(self.vth_mant) << 6


@dataclass
class LoihiInput:
    """The input population: one compartment (or generator) per input value."""

    shape: tuple[int, ...]
    encoding: str = "bias"
    scale: float = 1.0  # an input x is coded as level round(clip(x / scale, 0, 1) * 255)
    name: str = "input"

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"input encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        self.shape = tuple(int(s) for s in self.shape)

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

    def as_layer(self) -> LoihiLayer:
        """The bias-encoded input as compartments (bias is set per sample)."""
        return LoihiLayer(
            self.name, self.size, [], INPUT_LEVELS, bias_exp=6, reset="subtract", shape=self.shape
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
    """A spiking network in Loihi's integers: input population, then layers in order."""

    target = "loihi"
    input: LoihiInput
    layers: list[LoihiLayer]
    timesteps: int
    report: QuantizationReport = field(default_factory=QuantizationReport)

    def __post_init__(self) -> None:
        if self.timesteps < 1:
            raise ValueError(f"timesteps must be >= 1, got {self.timesteps}")
        sizes = {self.input.name: self.input.size}
        for layer in self.layers:
            for p in layer.projections:
                if p.source not in sizes:
                    raise ValueError(
                        f"layer {layer.name!r} reads {p.source!r}, which is not an earlier layer"
                    )
                if len(p.pre) and p.pre.max() >= sizes[p.source]:
                    raise ValueError(
                        f"layer {layer.name!r}: a synapse reads a missing neuron of {p.source!r}"
                    )
            if layer.name in sizes:
                raise ValueError(f"layer name {layer.name!r} is used twice")
            sizes[layer.name] = layer.size

    @property
    def output(self) -> LoihiLayer:
        return self.layers[-1]

    @property
    def layer_names(self) -> list[str]:
        return [self.input.name] + [layer.name for layer in self.layers]

    def all_layers(self) -> list[LoihiLayer]:
        """The input (as bias-driven compartments) followed by the network's layers."""
        return [self.input.as_layer(), *self.layers]

    def digest(self) -> str:
        """A hash of every parameter, stable across processes."""
        h = hashlib.sha256()
        h.update(
            repr((self.input.shape, self.input.encoding, self.input.scale, self.timesteps)).encode()
        )
        for layer in self.layers:
            h.update(
                repr(
                    (
                        layer.name,
                        layer.size,
                        layer.vth_mant,
                        layer.bias_exp,
                        layer.decay_u,
                        layer.decay_v,
                    )
                    + (layer.refractory, layer.reset)
                ).encode()
            )
            h.update(layer.bias_mant.tobytes())
            for p in layer.projections:
                h.update(repr((p.source, p.weight_exp)).encode())
                for a in (p.pre, p.post, p.weight_mant):
                    h.update(a.tobytes())
        return h.hexdigest()[:16]


def _quantize_weights(w: np.ndarray, weight_bits: int) -> tuple[np.ndarray, int, int]:
    """Mantissas on the chip's grid and an exponent for float effective weights ``w``.

    Returns (mantissa, exponent, number of clipped weights).
    """
    grid = 2 ** (9 - weight_bits)  # mixed sign mode drops the low 9 - weight_bits bits
    top = 256 - grid
    peak = float(np.max(np.abs(w))) if w.size else 0.0
    exp = -8 if peak == 0 else int(np.clip(np.ceil(np.log2(peak / top)) - 6, -8, 7))
    step = max(grid, 2**-exp if exp < 0 else 1)
    mant = np.rint(w / 2 ** (6 + exp) / step) * step
    clipped = int(np.count_nonzero((mant > top) | (mant < -256)))
    return np.clip(mant, -256, top).astype(np.int16), exp, clipped


def _quantize_bias(b: np.ndarray) -> tuple[np.ndarray, int, int]:
    peak = float(np.max(np.abs(b))) if b.size else 0.0
    exp = 0 if peak == 0 else int(np.clip(np.ceil(np.log2(peak / 4095)), 0, 7))
    mant = np.rint(b / 2**exp)
    clipped = int(np.count_nonzero((mant > 4095) | (mant < -4096)))
    return np.clip(mant, -4096, 4095).astype(np.int32), exp, clipped


START_FANOUT = 4096  # Loihi's fan-out per compartment


def start_layers(targets: int, taken: set[str]) -> list[LoihiLayer]:
    """A clock, its one-step relay and a one-shot population that fires once, at step 1.

    The clock fires every step from step 0 on its bias; the relay repeats it one step
    later; each start neuron reads +clock and -relay, so its input is non-zero at step 1
    only. There is one start neuron per 4096 targets, the chip's fan-out limit.
    """
    names = []
    for base in ("clock", "clock_relay", "start"):
        name = base
        while name in taken:
            name = f"{name}_"
        names.append(name)
    clock = LoihiLayer(names[0], 1, [], 1, np.array([2]), 6, reset="zero")
    one = np.zeros(1, np.int32)
    relay = LoihiLayer(names[1], 1, [LoihiProjection(names[0], one, one, [2])], 1, reset="zero")
    n = -(-targets // START_FANOUT)
    every = np.arange(n)
    start = LoihiLayer(
        names[2],
        n,
        [
            LoihiProjection(names[0], np.zeros(n), every, np.full(n, 2)),
            LoihiProjection(names[1], np.zeros(n), every, np.full(n, -2)),
        ],
        1,
        decay_v=4096,
        reset="zero",
    )
    return [clock, relay, start]


def _kick(start: LoihiLayer):
    """A factory of projections from the start population adding a charge once per neuron."""
    used = [0]

    def projection(charge: np.ndarray) -> LoihiProjection:
        mant, exp, _ = _quantize_weights(charge, 8)
        size = len(charge)
        pre = (used[0] + np.arange(size)) // START_FANOUT
        used[0] += size
        keep = mant != 0
        return LoihiProjection(start.name, pre[keep], np.arange(size)[keep], mant[keep], exp)

    return projection


def _depths(pops) -> dict[str, int]:
    """Spiking hops from the input to every population along its shortest path."""
    depth = {pops[0].name: 0}
    for pop in pops[1:]:
        depth[pop.name] = 1 + min(depth[s] for s in pop.inputs)
    return depth


def to_loihi(
    graph: Graph,
    timesteps: int = 128,
    reset: str = "subtract",
    input_encoding: str = "bias",
    threshold_mant: int = 1024,
    weight_bits: int = 8,
    refractory: int = 1,
    warm_start: float = 0.0,
) -> LoihiNet:
    """Quantize a normalized graph (see :func:`converters.normalize`) into a LoihiNet.

    Every population's threshold ``threshold_mant * 64`` stands for activation 1.0; each
    projection gets the smallest weight exponent whose mantissas hold its largest weight.

    Parameters
    ----------
    graph
        A float graph, normalized so that activations lie mostly in [0, 1].
    timesteps
        Steps per sample.
    reset
        ``"subtract"`` (reset by subtraction, two compartments on the chip) or ``"zero"``.
    input_encoding
        ``"bias"`` (bias-current input compartments) or ``"rate"`` (Bernoulli spikes).
    threshold_mant
        vth mantissa of every layer (0..2**17-1); larger means finer weights.
    weight_bits
        Weight mantissa precision, 1..8 bits (mixed sign mode).
    refractory
        Refractory delay of every compartment (1 means none).
    warm_start
        Charge, as a fraction of the threshold, delivered once to every compartment at
        step 2 by a one-shot start population (see :func:`start_layers`), less the bias
        the compartment integrates before spikes can reach it (its depth in steps); 0.5
        makes spike counts round the rate instead of flooring it, which shortens the
        latency of deep and residual networks. 0 adds nothing.
    """
    if reset not in RESETS:
        raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
    if not 1 <= weight_bits <= 8:
        raise ValueError(f"weight_bits must be in 1..8, got {weight_bits}")
    if not 1 <= threshold_mant < 2**17:
        raise ValueError(f"threshold_mant must be in 1..131071, got {threshold_mant}")
    if not 0.0 <= warm_start < 1.0:
        raise ValueError(f"warm_start must lie in [0, 1), got {warm_start}")
    pops = populations(graph)
    report = QuantizationReport()
    vth = threshold_mant * 64
    taken = {p.name for p in pops}
    layers = start_layers(sum(p.size for p in pops[1:]), taken) if warm_start else []
    kick = _kick(layers[-1]) if warm_start else None
    depth = _depths(pops)
    for pop in pops[1:]:
        projections = []
        clipped = zeroed = 0
        for source, m in pop.inputs.items():
            coo = m.tocoo()
            mant, exp, n_clip = _quantize_weights(coo.data * vth, weight_bits)
            keep = mant != 0
            zeroed += int(np.count_nonzero(~keep & (coo.data != 0)))
            clipped += n_clip
            projections.append(
                LoihiProjection(source, coo.col[keep], coo.row[keep], mant[keep], exp)
            )
        bias_mant, bias_exp, n_bias = _quantize_bias(pop.bias * vth)
        if kick:
            early_bias = depth[pop.name] * (bias_mant.astype(np.int64) << bias_exp)
            projections.append(kick(warm_start * vth - early_bias))
        report.clipped_weights[pop.name] = clipped
        report.zeroed_weights[pop.name] = zeroed
        report.clipped_biases[pop.name] = n_bias
        layers.append(
            LoihiLayer(
                pop.name,
                pop.size,
                projections,
                threshold_mant,
                bias_mant,
                bias_exp,
                refractory=refractory,
                reset=reset,
                shape=pop.shape,
            )
        )
    if report.saturated:
        warnings.warn(
            "Loihi quantization saturated: clipped weights "
            f"{ {k: v for k, v in report.clipped_weights.items() if v} }, clipped biases "
            f"{ {k: v for k, v in report.clipped_biases.items() if v} }",
            stacklevel=2,
        )
    net_input = LoihiInput(
        tuple(graph.input.shape), input_encoding, graph.input.scale, graph.input.name
    )
    return LoihiNet(net_input, layers, timesteps, report)
