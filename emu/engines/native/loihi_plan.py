"""The tables the native Loihi engine reads: a LoihiNet's layers and projections as ctypes structures.

Each layer keeps its compartments in an internal order: channels last, (H, W, C), for a
layer of shape (C, H, W), else its own. A projection becomes emitters (a source, or a
group of sources with identical synapse rows, :func:`emu.engines.fanout.share_fanout`) and how
they deliver: a convolution by its kernel (:func:`emu.engines.conv_delivery.conv_projection` reads
a convolution record, or finds geometry and kernel exactly from synapses), stored ``[KH][C][KW reversed][O]`` so that a kernel row of
stride 1 meets its targets in one contiguous run; a nearly full projection by dense rows;
any other by CSR rows of (target, effective weight). The accumulators are int32 when no
compartment's summed |weights| can reach 2**30, else int64.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

import numpy as np

from converters.chips.loihi import LoihiLayer, LoihiNet, LoihiProjection, effective_weights
from converters.chips.loihi_conv import LoihiConv

from ..conv_delivery import ConvProjection, conv_projection, finds_convolutions
from ..fanout import share_fanout

__all__ = ["Layer", "Projection", "Net", "NetPlan", "plan", "internal_order"]

ENCODINGS = {"bias": 0, "rate": 1, "spikes": 2}
KINDS = {"sparse": 0, "dense": 1, "conv": 2}
DENSE_FILL = 0.25  # a projection filling this share of its emitters x targets runs dense
DENSE_MAX = 2**22  # entries of a dense weight table at most
NARROW_BOUND = 2**30  # summed |weights| below this: int32 accumulators are exact

_P = ctypes.POINTER(ctypes.c_int32)


def _ints(*names: str) -> list[tuple[str, type]]:
    return [(name, ctypes.c_int32) for name in names]


class Layer(ctypes.Structure):
    """``struct Layer`` of loihi_engine.cpp: one layer's constants and biases."""

    _fields_ = _ints("size", "offset", "vth", "decay_u", "decay_v", "refractory", "reset_zero")
    _fields_ += _ints("pad") + [("bias", _P)]


class Projection(ctypes.Structure):
    """``struct Projection`` of loihi_engine.cpp: emitters, delivery kind and tables."""

    _fields_ = _ints("kind", "source", "target", "n_emitters", "pooled")
    _fields_ += _ints("C", "H", "W", "O", "OH", "OW", "KH", "KW", "SY", "SX", "PY", "PX")
    _fields_ += [(name, _P) for name in ("emitter_of", "ptr", "index", "weight", "position")]


class Net(ctypes.Structure):
    """``struct Net`` of loihi_engine.cpp: the whole network and the probed compartments."""

    _fields_ = _ints("n_layers", "n_projections", "timesteps", "encoding", "n_neurons")
    _fields_ += _ints("n_probes", "wide", "pad")
    _fields_ += [("layers", ctypes.POINTER(Layer)), ("projections", ctypes.POINTER(Projection))]
    _fields_ += [("probes", _P)]


@dataclass
class NetPlan:
    """The engine's structures and the arrays they point into (kept alive here)."""

    net: Net
    order: list[np.ndarray]  # per layer: the external index of each internal position
    offsets: np.ndarray  # [layers + 1] first internal index of each layer
    probes: dict[str, np.ndarray]  # layer -> global internal index of each probed neuron
    kinds: list[str]  # per projection
    keep: list = field(default_factory=list)


def internal_order(shape: tuple[int, ...]) -> np.ndarray:
    """External index of each internal position: (H, W, C) order for a (C, H, W) shape."""
    size = int(np.prod(shape))
    if len(shape) != 3:
        return np.arange(size)
    return np.arange(size).reshape(shape).transpose(1, 2, 0).ravel()


def _ranks(order: np.ndarray) -> np.ndarray:
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank


def _int32(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int32)


def _pointer(a: np.ndarray, keep: list):
    keep.append(a)
    return a.ctypes.data_as(_P)


def _rows(pre, post, weight, n_source: int) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """Emitters of explicit synapses (sorted by source): tables, row of each, targets, weights."""
    fan = share_fanout(pre, post, weight)
    direct = np.unique(pre[fan.direct])
    emitter_of = np.full(n_source, -1, np.int64)
    emitter_of[direct] = np.arange(len(direct))
    emitter_of[fan.members] = len(direct) + fan.cells
    row = np.concatenate([emitter_of[pre[fan.direct]], len(direct) + fan.cell_pre])
    targets = np.concatenate([post[fan.direct], fan.cell_post])
    weights = np.concatenate([weight[fan.direct], fan.cell_weight])
    tables = {"emitter_of": emitter_of, "n_emitters": len(direct) + fan.n_cells}
    return tables | {"pooled": int(len(fan.members) > 0)}, row, targets, weights


def _explicit(p: LoihiProjection | LoihiConv, src_rank, tgt_rank, tgt_size: int) -> dict:
    """A projection's CSR or dense emitter rows in internal indices."""
    pre, post, mant = p.synapses()
    pre, post = src_rank[pre], tgt_rank[post]
    weight = effective_weights(mant, p.weight_exp)
    order = np.lexsort((post, pre))
    tables, row, targets, weights = _rows(pre[order], post[order], weight[order], len(src_rank))
    cells = tables["n_emitters"] * tgt_size
    if len(row) >= DENSE_FILL * cells and cells <= DENSE_MAX:
        dense = np.zeros(cells, np.int64)
        np.add.at(dense, row * tgt_size + targets, weights)
        return tables | {"kind": "dense", "weight": dense}
    ptr = np.zeros(tables["n_emitters"] + 1, np.int64)
    np.add.at(ptr, row + 1, 1)
    order = np.argsort(row, kind="stable")
    return tables | {
        "kind": "sparse",
        "ptr": np.cumsum(ptr),
        "index": targets[order],
        "weight": weights[order],
    }


def _axis(t: np.ndarray, k: int, s: int, n_out: int) -> tuple[np.ndarray, ...]:
    """Along one axis, per emitter at padded position ``t``: the highest kernel offset that
    reaches a target, how many offsets do (every ``s``-th), and the first target reached."""
    hi = np.minimum(t, k - 1)
    hi -= (hi - t) % s
    lo = np.maximum(t - s * (n_out - 1), 0)
    lo += (t - lo) % s
    return hi, np.maximum((hi - lo) // s + 1, 0), (t - hi) // s


def _conv(c: ConvProjection, src_rank) -> dict:
    """A convolution's emitters (pooled groups at their first member), their table rows
    (kernel offset, target offset, rows, columns) and the kernel [KH][C][KW reversed][O]."""
    g = c.geometry
    n = int(np.prod(g.in_shape))
    emitter = np.full(n, -1, np.int64)
    emitter[c.sources] = 0
    emitter[c.members] = -2
    alone = np.flatnonzero(emitter == 0)
    emitter[alone] = np.arange(len(alone))
    n_cells = int(c.cells.max()) + 1 if len(c.cells) else 0
    first = np.full(n_cells, n)
    np.minimum.at(first, c.cells, c.members)
    emitter[c.members] = len(alone) + c.cells
    local = np.concatenate([alone, first])
    (n_c, h, w), (o, oh, ow) = g.in_shape, g.out_shape
    (kh, kw), (sy, sx), (py, px) = g.kernel, g.stride, g.padding
    ky, rows, oy = _axis(local // w % h + py, kh, sy, oh)
    kx, cols, ox = _axis(local % w + px, kw, sx, ow)
    reach = (rows > 0) & (cols > 0)
    table = np.stack(
        [((ky * n_c + local // (h * w)) * kw + kw - 1 - kx) * o, (oy * ow + ox) * o, rows, cols], 1
    )
    table[~reach] = 0
    emitter_of = np.full(n, -1, np.int64)
    emitter_of[src_rank] = emitter
    return {
        "kind": "conv",
        "emitter_of": emitter_of,
        "n_emitters": len(local),
        "pooled": int(n_cells > 0),
        "position": table.ravel(),
        "weight": c.kernel.transpose(1, 0, 2, 3)[:, :, ::-1].ravel(),
        "geometry": (*g.in_shape, o, oh, ow, *g.kernel, *g.stride, *g.padding),
    }


def _projection(tables: dict, source: int, target: int, keep: list) -> Projection:
    s = Projection(
        kind=KINDS[tables["kind"]],
        source=source,
        target=target,
        n_emitters=tables["n_emitters"],
        pooled=tables["pooled"],
    )
    for name, value in zip(
        ("C", "H", "W", "O", "OH", "OW", "KH", "KW", "SY", "SX", "PY", "PX"),
        tables.get("geometry", (0,) * 12),
        strict=True,
    ):
        setattr(s, name, int(value))
    for name in ("emitter_of", "ptr", "index", "weight", "position"):
        if name in tables:
            setattr(s, name, _pointer(_int32(tables[name]), keep))
    return s


def _bound(layer: LoihiLayer) -> int:
    """The largest summed |effective weight| into one compartment of ``layer``."""
    total = np.zeros(layer.size, np.int64)
    for p in layer.projections:
        if isinstance(p, LoihiConv):  # a bound: every kernel entry reached, pools full
            per_channel = np.abs(p.kernel_eff()).sum(axis=(1, 2, 3)) * p.pool_area
            total += np.repeat(per_channel, layer.size // len(per_channel))
        else:
            np.add.at(total, p.post, np.abs(p.weight_eff.astype(np.int64)))
    return int(total.max(initial=0))


def _projections(layers: list[LoihiLayer], ranks: list[np.ndarray], keep: list) -> tuple:
    """Every projection's engine structure and kind, in the order the layers list them."""
    index = {layer.name: k for k, layer in enumerate(layers)}
    search = finds_convolutions(layers)
    structs, kinds = [], []
    for k, layer in enumerate(layers):
        for p in layer.projections:
            s = index[p.source]
            conv = conv_projection(p, layers[s].shape, layer.shape, 0, 0, search)
            if conv is not None:
                tables = _conv(conv, ranks[s])
            else:
                tables = _explicit(p, ranks[s], ranks[k], layer.size)
            structs.append(_projection(tables, s, k, keep))
            kinds.append(tables["kind"])
    return structs, kinds


def plan(net: LoihiNet, probe: dict[str, np.ndarray]) -> NetPlan:
    """The engine's view of ``net``, recording the neurons ``probe`` names (layer -> indices)."""
    layers = net.all_layers()
    keep: list = []
    order = [internal_order(layer.shape) for layer in layers]
    ranks = [_ranks(o) for o in order]
    offsets = np.cumsum([0] + [layer.size for layer in layers])
    structs = []
    for k, layer in enumerate(layers):
        s = Layer(layer.size, int(offsets[k]), layer.vth, layer.decay_u, layer.decay_v)
        s.refractory, s.reset_zero = layer.refractory, int(layer.reset == "zero")
        s.bias = _pointer(_int32(layer.bias[order[k]]), keep)
        structs.append(s)
    projections, kinds = _projections(layers, ranks, keep)
    index = {layer.name: k for k, layer in enumerate(layers)}
    probes = {name: offsets[index[name]] + ranks[index[name]][idx] for name, idx in probe.items()}
    all_probes = np.concatenate([np.zeros(0, np.int64), *probes.values()])
    layer_array = (Layer * len(structs))(*structs)
    projection_array = (Projection * max(1, len(projections)))(*projections)
    keep += [layer_array, projection_array]
    c_net = Net(
        len(layers), len(projections), net.timesteps, ENCODINGS[net.input.encoding],
        int(offsets[-1]), len(all_probes), int(max(map(_bound, layers)) >= NARROW_BOUND),
    )  # fmt: skip
    c_net.layers, c_net.projections = layer_array, projection_array
    c_net.probes = _pointer(_int32(all_probes), keep)
    return NetPlan(c_net, order, offsets, probes, kinds, keep)
