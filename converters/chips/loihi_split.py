"""Fan-in beyond one compartment's limit, split the way Loihi holds it.

A neuron whose fan-in exceeds :data:`~converters.chips.loihi.MAX_FAN_IN` becomes ``K =
ceil(fan_in / MAX_FAN_IN)`` auxiliary compartments, each receiving a slice of at most
``ceil(fan_in / K)`` synapses, whose currents join (multi-compartment ADD of u) into the
soma in the same step. With ``decay_u = 4096`` the joined sum equals the unsplit sum, except
that each auxiliary u wraps to signed 24 bits on its own; the split is therefore exact when
no slice can sum beyond ``±(2**23 - 1)``, which :func:`split_fan_in` checks from the weights
(worst case: every synapse of the slice delivering at once, pooled sources included).
"""

from __future__ import annotations

import numpy as np

from .loihi import DECAY_ONE, MAX_FAN_IN, U_RANGE, LoihiLayer
from .loihi_conv import LoihiConv

__all__ = ["FanInSplitError", "split_factor", "partial_bound", "split_fan_in"]

PARTIAL_MAX = U_RANGE - 1  # an auxiliary compartment's u must not wrap


class FanInSplitError(ValueError):
    """A layer whose fan-in cannot be split exactly over auxiliary compartments."""


def split_factor(fan_in: int, limit: int = MAX_FAN_IN) -> int:
    """Auxiliary compartments per neuron for a fan-in: 1 (no split) up to ``limit``."""
    return max(1, -(-int(fan_in) // limit))


def _top_sum(values: np.ndarray, counts: np.ndarray, per: int) -> int:
    """The largest sum of ``per`` entries of a multiset (``values[i]`` ``counts[i]`` times)."""
    order = np.argsort(-values, kind="stable")
    v, n = values[order], counts[order]
    taken = np.minimum(n, np.maximum(per - (np.cumsum(n) - n), 0))
    return int(np.dot(v.astype(np.int64), taken))


def _conv_bound(p: LoihiConv, per: int) -> int:
    k = p.kernel_eff().reshape(len(p.kernel_mant), -1)
    counts = np.full(k.shape[1], p.pool_area)
    return max(
        max(_top_sum(row.clip(0), counts, per), _top_sum((-row).clip(0), counts, per)) for row in k
    )


def _synapse_bound(p, size: int, per: int) -> int:
    _, post, _ = p.synapses()
    w = p.weight_eff
    bound = 0
    for signed in (w.clip(0), (-w).clip(0)):
        order = np.lexsort((-signed, post))
        post_s, w_s = post[order], signed[order]
        first = np.searchsorted(post_s, np.arange(size))
        rank = np.arange(len(post_s)) - first[post_s]
        sums = np.bincount(post_s[rank < per], weights=w_s[rank < per], minlength=size)
        bound = max(bound, int(sums.max(initial=0)))
    return bound


def partial_bound(layer: LoihiLayer, per: int) -> int:
    """An upper bound of ``|u|`` of any slice of at most ``per`` synapses of a neuron of
    ``layer``: per projection, its ``per`` largest weights of one sign, summed over
    projections (convolutions from their kernels, never written out as synapses)."""
    return sum(
        _conv_bound(p, per) if isinstance(p, LoihiConv) else _synapse_bound(p, layer.size, per)
        for p in layer.projections
    )


def split_fan_in(layer: LoihiLayer, fan_in: int, limit: int = MAX_FAN_IN) -> None:
    """Set ``layer.fan_in_split`` for its largest fan-in, or raise FanInSplitError in one
    line naming the layer and the remedy when a slice's partial sum could wrap."""
    k = split_factor(fan_in, limit)
    layer.fan_in_split = k
    if k == 1:
        return
    where = f"layer {layer.name!r} (fan-in {fan_in}, above Loihi's {limit} per compartment)"
    if layer.decay_u != DECAY_ONE:
        raise FanInSplitError(
            f"{where}: the fan-in split joins currents that last one step, but decay_u is "
            f"{layer.decay_u}; remedy: decay_u = {DECAY_ONE}, or fewer inputs into this layer"
        )
    per = -(-fan_in // k)
    bound = partial_bound(layer, per)
    if bound > PARTIAL_MAX:
        raise FanInSplitError(
            f"{where}: split over {k} compartments of {per} synapses, a slice could sum to "
            f"{bound}, beyond u's 24 bits (±{PARTIAL_MAX}); remedy: a smaller threshold_mant "
            "or weight exponent (coarser weights), or fewer input channels or a smaller kernel "
            "or pooling window into this layer"
        )
