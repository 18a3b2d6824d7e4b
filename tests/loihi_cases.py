"""Randomized Loihi networks for exactness tests, kept inside the range every reference defines."""

from __future__ import annotations

import numpy as np

from converters.chips.loihi import LoihiInput, LoihiLayer, LoihiNet, LoihiProjection


def random_projection(
    rng,
    source: str,
    n_pre: int,
    n_post: int,
    density: float,
    weight_exp=None,
    shared_rows: bool = False,
) -> LoihiProjection:
    """Random synapses on the chip's weight grid (even mantissas; multiples of 2**-exp below 0).

    With ``shared_rows`` sources come in random groups with identical outgoing synapses,
    as average pooling composed into a projection makes them.
    """
    exp = int(rng.integers(-3, 5)) if weight_exp is None else weight_exp
    step = max(2, 2**-exp)
    rows = max(1, n_pre // 2) if shared_rows else n_pre
    mask = rng.random((rows, n_post)) < density
    mant = rng.integers(-254 // step, 254 // step + 1, mask.shape) * step
    if shared_rows:
        row_of = rng.integers(0, rows, n_pre)
        mask, mant = mask[row_of], mant[row_of]
    pre, post = np.nonzero(mask)
    return LoihiProjection(source, pre, post, mant[pre, post], exp)


def random_net(
    rng,
    encoding: str = "bias",
    timesteps: int = 40,
    with_bias: bool = True,
    sizes: tuple[int, ...] | None = None,
    n_in: int | None = None,
    reset: str | None = None,
    shared_rows: bool = False,
    recurrent: bool = False,
) -> LoihiNet:
    """A random input population and 1-3 layers with random decays, thresholds and refractory delays.

    With ``recurrent`` layers also get projections onto themselves, from later layers
    (backward) and from any earlier one (skipping), each with probability one half.
    """
    n_in = n_in or int(rng.integers(4, 16))
    sizes = sizes or tuple(int(s) for s in rng.integers(2, 12, int(rng.integers(1, 4))))
    layers, prev = [], [("input", n_in)]
    for k, n in enumerate(sizes):
        projections = [
            random_projection(
                rng, name, size, n, float(rng.uniform(0.2, 0.8)), shared_rows=shared_rows
            )
            for name, size in prev[-2:]
        ]
        layers.append(
            LoihiLayer(
                f"l{k}",
                n,
                projections,
                vth_mant=int(rng.integers(20, 800)),
                bias_mant=rng.integers(-400, 600, n) if with_bias else None,
                bias_exp=int(rng.integers(0, 4)),
                decay_u=int(rng.integers(0, 4097)),
                decay_v=int(rng.integers(0, 4097)),
                refractory=int(rng.integers(1, 6)),
                reset=reset or str(rng.choice(["zero", "subtract"])),
            )
        )
        prev.append((f"l{k}", n))
    if recurrent:
        _add_recurrent(rng, layers, prev, shared_rows)
    return LoihiNet(LoihiInput((n_in,), encoding), layers, timesteps)


def _add_recurrent(rng, layers: list[LoihiLayer], sources: list, shared_rows: bool) -> None:
    """Add self, backward and skipping projections to ``layers`` (sources: (name, size))."""
    for k, layer in enumerate(layers):
        target = k + 1  # index of this layer in ``sources``
        picks = [target] + list(range(target + 1, len(sources))) + list(range(target - 1))
        for j in picks:
            if rng.random() < 0.5 and not any(p.source == sources[j][0] for p in layer.projections):
                name, size = sources[j]
                density = float(rng.uniform(0.1, 0.6))
                layer.projections.append(
                    random_projection(rng, name, size, layer.size, density, shared_rows=shared_rows)
                )


def in_range_nets(rng, count: int, **kwargs) -> list[LoihiNet]:
    """Random networks whose reference run on full-scale inputs never wraps, clips or overflows."""
    from emu.engines import loihi_reference as ref

    nets = []
    while len(nets) < count:
        net = random_net(rng, **kwargs)
        if net.input.encoding == "spikes":
            levels = np.ones((2, net.timesteps, net.input.size), bool)
        else:
            levels = rng.integers(0, 256, (2, net.input.size))
        if ref.simulate(net, levels).saturation.sum() == 0:
            nets.append(net)
    return nets


def union(nets: list[LoihiNet]) -> LoihiNet:
    """The disjoint union of networks of one encoding and step count, as one LoihiNet.

    Inputs are concatenated; layer ``l`` of network ``k`` becomes ``n<k>_l``.
    """
    offsets = np.cumsum([0] + [net.input.size for net in nets])
    layers = []
    for k, net in enumerate(nets):
        for layer in net.layers:
            projections = []
            for p in layer.projections:
                source = "input" if p.source == "input" else f"n{k}_{p.source}"
                pre = p.pre + (offsets[k] if p.source == "input" else 0)
                projections.append(
                    LoihiProjection(source, pre, p.post, p.weight_mant, p.weight_exp)
                )
            layers.append(
                LoihiLayer(
                    f"n{k}_{layer.name}",
                    layer.size,
                    projections,
                    layer.vth_mant,
                    layer.bias_mant,
                    layer.bias_exp,
                    layer.decay_u,
                    layer.decay_v,
                    layer.refractory,
                    layer.reset,
                )
            )
    first = nets[0]
    return LoihiNet(LoihiInput((int(offsets[-1]),), first.input.encoding), layers, first.timesteps)
