"""Vectorized numpy reference of Loihi compartment arithmetic, batched over samples.

Per layer and step t, all integers (DESIGN.md)::

    u[t] = wrap24( trunc0(u[t-1] * (4096 - du) / 4096) + in[t] )
    v[t] = clip23( trunc0(v[t-1] * (4096 - dv) / 4096) + u[t] + bias )     (held at 0 while refractory)
    spike if v[t] > vth;  reset: v = 0 (then refractory - 1 held steps) or v -= vth
    in[t+1] = sum of w_eff over the synapses of neurons that spiked at t

Rate-coded inputs draw ``r = (r * 1103515245 + 12345) mod 2**31`` per step and fire when
``r // 8421505 < level``: r // 8421505 spreads over 0..254, so a level of 0..255 fires with
probability level / 255. The generator state starts at the sample's seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from converters.loihi import INPUT_LEVELS, LoihiLayer, LoihiNet

from .records import BatchRecord

__all__ = [
    "LayerState",
    "step_layer",
    "simulate",
    "input_seeds",
    "LCG_MULTIPLIER",
    "LCG_INCREMENT",
    "LCG_MODULUS",
]

U_RANGE = 2**23
V_MAX = 2**23 - 1
INPUT_RANGE = 2**21
LCG_MULTIPLIER, LCG_INCREMENT, LCG_MODULUS = 1103515245, 12345, 2**31
RATE_BIN = -(-LCG_MODULUS // INPUT_LEVELS)  # 8421505: r // RATE_BIN lies in 0..254


def trunc_decay(x: np.ndarray, decay: int) -> np.ndarray:
    """trunc0(x * (4096 - decay) / 4096), truncation toward zero."""
    prod = x * (4096 - decay)
    return np.sign(prod) * (np.abs(prod) >> 12)


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
    """Advance one layer by one step in place; return its spikes (bool, batch x size)."""
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


def input_seeds(n_samples: int, size: int, seed: int = 0, offset: int = 0) -> np.ndarray:
    """Per-sample, per-input generator seeds in [0, 2**31), independent of chunking."""
    rng = np.random.default_rng([seed, 0x5EED])
    all_seeds = rng.integers(0, LCG_MODULUS, size=(offset + n_samples, size), dtype=np.int64)
    return all_seeds[offset:]


def simulate(
    net: LoihiNet,
    levels: np.ndarray,
    seeds: np.ndarray | None = None,
    probe: dict[str, np.ndarray] | None = None,
    record_events: bool = False,
    external_spikes: np.ndarray | None = None,
) -> BatchRecord:
    """Run ``net`` on a batch of integer input levels (batch x input size, 0..255).

    ``external_spikes`` (batch x steps x input size, bool) replaces the input population
    with given spike trains, for testing layers on arbitrary inputs.
    """
    batch = len(levels)
    layers = net.all_layers()
    index = {layer.name: k for k, layer in enumerate(layers)}
    states = [LayerState.zeros(batch, layer.size) for layer in layers]
    biases = [np.broadcast_to(layer.bias, (batch, layer.size)) for layer in layers]
    biases[0] = np.asarray(levels, np.int64) << 6
    matrices = [
        [
            (
                index[p.source],
                sp.csr_matrix(
                    (p.weight_eff, (p.pre, p.post)),
                    shape=(layers[index[p.source]].size, layer.size),
                ),
            )
            for p in layer.projections
        ]
        for layer in layers
    ]
    rate = net.input.encoding == "rate"
    rng = None if seeds is None else np.asarray(seeds, np.int64).copy()
    if rate and rng is None:
        rng = input_seeds(batch, net.input.size)
    levels = np.asarray(levels, np.int64)
    inputs = [np.zeros((batch, layer.size), np.int64) for layer in layers]
    steps = net.timesteps
    per_step = np.zeros((batch, steps, len(layers)), np.int32)
    out_steps = np.zeros((batch, steps, layers[-1].size), np.uint8)
    counts = [np.zeros((batch, layer.size), np.int32) for layer in layers]
    probe = probe or {}
    probes = {
        f"{n}.{var}": np.zeros((batch, steps, len(idx)), np.int64)
        for n, idx in probe.items()
        for var in "uv"
    }
    events = []
    for t in range(steps):
        spikes = []
        for k, layer in enumerate(layers):
            if k == 0 and external_spikes is not None:
                s = np.asarray(external_spikes[:, t], bool)
            elif k == 0 and rate:
                rng = (rng * LCG_MULTIPLIER + LCG_INCREMENT) % LCG_MODULUS
                s = rng // RATE_BIN < levels
            else:
                s = step_layer(states[k], layer, inputs[k], biases[k])
            spikes.append(s)
            if layer.name in probe:
                probes[f"{layer.name}.u"][:, t] = states[k].u[:, probe[layer.name]]
                probes[f"{layer.name}.v"][:, t] = states[k].v[:, probe[layer.name]]
        for k, layer in enumerate(layers):
            acc = np.zeros((batch, layer.size), np.int64)
            for src, m in matrices[k]:
                if spikes[src].any():
                    acc += (sp.csr_matrix(spikes[src].astype(np.int64)) @ m).toarray()
            inputs[k] = acc
            counts[k] += spikes[k]
            per_step[:, t, k] = spikes[k].sum(axis=1)
            if record_events:
                b, n = np.nonzero(spikes[k])
                events.append((b, np.full(len(b), t), np.full(len(b), k), n))
        out_steps[:, t] = spikes[-1]
    return BatchRecord(
        counts={layer.name: c for layer, c in zip(layers, counts, strict=True)},
        spikes_per_step=per_step,
        output_per_step=out_steps,
        saturation=np.stack([s.saturation for s in states]),
        probes=probes,
        events=tuple(np.concatenate([e[k] for e in events]) for k in range(4))
        if record_events
        else None,
    )
