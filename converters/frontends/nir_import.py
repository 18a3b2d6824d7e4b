"""NIR (Neuromorphic Intermediate Representation): Loihi networks out, NIR graphs in.

Import (:func:`from_nir`) follows the NIR primitives' equations, stepped by forward Euler at
the time step ``dt`` (argument, or the graph's ``dt`` metadata), spike where v > v_threshold,
then v = v_reset (which must be 0); x = M s + b is the affine map of the incoming spikes s
that the Affine, Linear, Conv2d, SumPool2d, AvgPool2d, Flatten and Scale edges compose::

    IF       v += r x
    LIF      tau dv/dt = (v_leak - v) + r x:      v = (1 - a) v + a (r x + v_leak),  a = dt / tau
    CubaLIF  tau_syn di/dt = -i + w_in x:         i = (1 - a_s) i + a_s w_in x
             tau_mem dv/dt = (v_leak - v) + r i:  v = (1 - a_m) v + a_m (r i + v_leak)

On Loihi (u = (1 - du/4096) u + W s; v = (1 - dv/4096) v + u + bias, multiplicative decays
truncated toward zero) that is ``dv = 4096 a`` (a_m), ``du = 4096 a_s`` (4096 for IF and LIF),
``W = lam g M``, ``bias = lam (g b + a v_leak)``, ``vth = lam theta``, with the input gain
g = r (IF), a r (LIF), a_s w_in a_m r (CubaLIF; a bias in its edge is refused). Graphs
neuroemu wrote (metadata ``target = "loihi"`` or its input population) hold integers there
and are read exactly. Other tools' graphs are quantized, per neuron ``lam = V_UNITS / theta``
(vth = 2**18; v clips at 2**23, 32 thresholds) unless the largest weight would not fit
254 * 2**13: weights to even mantissas at the smallest exponent >= 0 that holds a
projection's largest weight (error <= 1/127 of it), biases to 13-bit mantissas, decays to
1/4096 (|error of a| <= 1/8192: snntorch beta = 0.9 gives dv = 410, beta 0.89990), the
truncation of decays < 2**-18 thresholds per step; the clipped and zeroed counts go to the
net's report. What the source libraries run differently is not followed:

- Loihi delays a spike one step per projection; the libraries do not (answers come K steps
  later through K layers). Other tools' Inputs take spike trains: neuroemu's input population
  makes them from inputs x in [0, 1] (level round(255 x), regular spikes at rate level / 255).
- snntorch's default Leaky resets by subtraction, sinabs' IAF fires floor(v / theta) spikes
  (v >= theta) and subtracts: their NIR nodes say reset to v_reset, which is read, with a
  note, unless ``reset="subtract"`` (:mod:`converters.frontends.nir_quirks`, which also drops batch
  dimensions of 1 and reads files that nir's type check refuses).
- norse 1.1.0 writes ``tau = dt / tau_inv`` (dt = 1e-3: 1e-3 times the time constant):
  read its graphs with ``dt = 1e-6``.

Measured on 200 digits (tests/test_nir_libraries.py), predictions of the import emulated
against the source library's own run: snntorch Leaky 99.0% (Synaptic, as CubaLIF, 99.0%),
sinabs IAF 99.0%, norse IAF + LIFBox 98.5%. Output spike counts (200 x 10) are identical for
87-89% with snntorch and sinabs set to NIR's reset to zero (mean difference 0.14 spikes of
1.8: weight rounding and the delay), 76-79% with their default subtraction (0.8-1.7 spikes).

Export (:func:`to_nir`) writes a LoihiNet in the chip's integer units, ``dt`` per step: the
input population as an IF (r = 1, v_threshold = 255) fed the levels 0..255 (or, with
``input_population=False``, an Input of its spike trains), then per layer an IF (r = 1,
bias in the Affine or Conv2d edge; w_eff = w_mant * 2**(6 + w_exp)) or, leaky, a CubaLIF
(tau_syn = 4096 / du, w_in = tau_syn, tau_mem = r = 4096 / dv, v_leak = bias * tau_mem, in
steps times dt). ``neuron="LIF"`` writes every layer as a LIF (IF: tau = 1e12 steps,
r = 1e12) for snntorch, which reads IF as a leaky neuron of beta 0.9. Exact in NIR's
semantics up to what NIR cannot say, kept in node metadata that :func:`from_nir` reads back:
reset by subtraction (sinabs subtracts, snntorch resets to zero), refractory periods,
truncated integer decays (a float leak instead: < 1 unit per step), the 24-bit wrap and clip
(unreached by converted networks), the one-step delay per projection. Measured on 200
digits, a converted MLP's export against neuroemu: sinabs (IF) 100% with reset by
subtraction, 99.5% with reset to zero; snntorch (LIF, spike input) 99.0% and 99.5%.
Rate-coded inputs (Bernoulli generators) and Akida networks have no NIR form and are refused.

:func:`nir_to_graph` reads a graph of IF nodes into the float layer graph by rate instead, an
IF of gain r and threshold theta standing for ``relu(r (W x + b)) / theta``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import graphlib
import os
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..chips.loihi import (
    BIAS_EXP_RANGE,
    BIAS_MANT_RANGE,
    DECAY_ONE,
    INPUT_LEVELS,
    INPUT_RANGE,
    MANT_SCALE,
    MANT_SHIFT,
    RESETS,
    V_MAX,
    WEIGHT_EXP_RANGE,
    WEIGHT_MANT_RANGE,
    LoihiInput,
    LoihiLayer,
    LoihiNet,
    LoihiProjection,
    QuantizationReport,
)
from ..chips.loihi_conv import LoihiConv
from ..graph import Add, AvgPool2d, Conv2d, Dense, Flatten, Graph, Input
from ..targets.populations import AffineMap, conv_matrix, pool_matrix
from .nir_quirks import NIRImportError, input_shape, per_neuron, read_graph, reset_note

__all__ = [
    "NEURONS",
    "V_UNITS",
    "DEFAULT_EXPORT_DT",
    "LIBRARY_IMPORT_DT",
    "export_dt",
    "saturation_risks",
    "NIRExportError",
    "NIRImportError",
    "to_nir",
    "from_nir",
    "neuron_inputs",
    "nir_to_graph",
    "write_nir",
    "read_nir",
]

_RESERVED = ("input", "output")
# the time step each target library runs an exported graph at (to_nir's default)
DEFAULT_EXPORT_DT = {"IF": 1.0, "LIF": 1e-4}
# the dt to read other libraries' graphs at (from_nir's dt)
LIBRARY_IMPORT_DT = {"snntorch": 1e-4, "sinabs": 1.0, "norse": 1e-6}
V_UNITS = 2**18  # an imported layer's threshold in Loihi units: v clips at 32 thresholds


class NIRExportError(ValueError):
    """A network, or a part of it, that NIR cannot express."""


def _key(name: str) -> str:
    return f"{name}_neurons" if name in _RESERVED else name


def _neuron_kinds(nir) -> tuple[type, ...]:
    """NIR neuron classes a LoihiNet layer is read from."""
    return (nir.IF, nir.LIF, nir.CubaLIF)


def _linear_kinds(nir) -> tuple[type, ...]:
    """NIR linear edge classes (the last, Scale, only for LoihiNets)."""
    return (
        nir.Affine,
        nir.Linear,
        nir.Conv2d,
        nir.Flatten,
        nir.AvgPool2d,
        nir.SumPool2d,
        nir.Scale,
    )


def _names(kinds: tuple[type, ...]) -> tuple[str, ...]:
    return tuple(k.__name__ for k in kinds)


def _unsupported(graph, kinds: tuple[type, ...]) -> dict[str, str]:
    """The graph's nodes of none of ``kinds``, by key, with their class names."""
    return {k: type(n).__name__ for k, n in graph.nodes.items() if not isinstance(n, kinds)}


def _topological(graph) -> list[str]:
    """The graph's node keys, each after every node with an edge into it."""
    order = graphlib.TopologicalSorter()
    for key in graph.nodes:
        order.add(key)
    for a, b in graph.edges:
        order.add(b, a)
    try:
        return list(order.static_order())
    except graphlib.CycleError as err:
        raise NIRImportError(
            "the graph has a cycle: neuroemu reads feed-forward graphs only"
        ) from err


@contextlib.contextmanager
def _reading(key: str, node):
    """Turn any failure to read ``node`` into an NIRImportError that names it."""
    import nir

    try:
        yield
    except NIRImportError:
        raise
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as err:
        raise NIRImportError(
            f"node {key!r} ({type(node).__name__}) cannot be read: {err}; neuroemu reads "
            f"neurons {_names(_neuron_kinds(nir))} and edges {_names(_linear_kinds(nir))}"
        ) from err


def _check_edges(graph) -> None:
    missing = sorted({k for e in graph.edges for k in e if k not in graph.nodes})
    if missing:
        raise NIRImportError(f"the graph's edges name nodes it does not have: {missing}")


def _predecessors(graph) -> dict[str, list[str]]:
    preds: dict[str, list[str]] = {k: [] for k in graph.nodes}
    for a, b in graph.edges:
        preds[b].append(a)
    return preds


NEURONS = ("IF", "LIF")
_IF_LEAK = 1e12  # an IF written as a LIF: tau = 1e12 steps, r = 1e12 (leak 1e-12 per step)


def to_nir(
    net: LoihiNet,
    strict: bool = False,
    neuron: str = "IF",
    dt: float | None = None,
    input_population: bool = True,
):
    """Describe ``net`` as a ``nir.NIRGraph`` (see the module docstring for the mapping).

    Parameters
    ----------
    net
        A LoihiNet with bias-encoded input.
    strict
        Refuse, instead of warning, when the network relies on what NIR cannot say (reset by
        subtraction, refractory periods, the bias-driven input population).
    neuron
        ``"IF"``: IF layers as ``nir.IF`` (r = 1), leaky ones as ``nir.CubaLIF`` (sinabs,
        Norse); ``"LIF"``: every layer as a ``nir.LIF`` (snntorch, which reads IF as a
        leaky neuron of beta 0.9).
    dt
        Seconds per Loihi step in the graph's time constants; default
        ``DEFAULT_EXPORT_DT[neuron]``, the step the target library runs: 1 for IF (sinabs
        counts in steps), 1e-4 for LIF (snntorch; at dt = 1 its network is silent).
        Must be finite and > 0.
    input_population
        Write the bias-driven input population as an IF node fed by the input levels;
        without it the graph's Input takes the population's spike trains.
    """
    import nir

    dt = export_dt(neuron, dt)
    _check_exportable(net, neuron)
    _check_expressible(net, strict, input_population)
    shapes = {net.input.name: tuple(net.input.shape)}
    shapes.update({layer.name: tuple(layer.shape) for layer in net.layers})
    nodes = _input_nodes(nir, net.input, input_population)
    keys = {net.input.name: _key(net.input.name) if input_population else "input"}
    keys.update({layer.name: _key(layer.name) for layer in net.layers})
    edges = [("input", keys[net.input.name])] if input_population else []
    for layer in net.layers:
        edges += _layer_nodes(nir, layer, shapes, keys, nodes, (neuron, dt))
    out_key = keys[net.output.name]
    out_shape = nodes[out_key].output_type["output"]
    nodes["output"] = nir.Output(output_type={"output": np.array(out_shape)})
    edges.append((out_key, "output"))
    meta = {
        "target": "loihi",
        "timesteps": int(net.timesteps),
        "net_digest": net.digest(),
        "dt": float(dt),
        "input": "levels" if input_population else "spikes",
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def _check_exportable(net, neuron: str) -> None:
    if not isinstance(net, LoihiNet):
        raise NIRExportError(
            f"cannot export a {type(net).__name__} to NIR: only LoihiNets. Akida layers "
            "integrate a whole frame and fire once with a quantized multi-bit activation "
            "(clip(ceil(16 (p - th) / S), 0, 2**bits - 1)), which no NIR neuron expresses"
        )
    if net.input.encoding != "bias":
        raise NIRExportError(
            "rate-coded input (per-step Bernoulli generators drawn from a linear congruential "
            "generator) has no NIR node; convert with input_encoding='bias' to export"
        )
    if neuron not in NEURONS:
        raise NIRExportError(f"neuron must be one of {NEURONS}, got {neuron!r}")
    leaky_current = [lay.name for lay in net.layers if lay.decay_u != DECAY_ONE]
    if neuron == "LIF" and leaky_current:
        raise NIRExportError(
            f"layers {leaky_current} filter their current (delta_u < {DECAY_ONE}): a LIF has "
            "no synaptic current; export with neuron='IF' (CubaLIF)"
        )


def _layer_nodes(nir, layer: LoihiLayer, shapes, keys, nodes, style) -> list[tuple[str, str]]:
    """Add the neuron node of ``layer`` and its incoming edges to ``nodes``; return the edges."""
    neuron, dt = style
    key = keys[layer.name]
    convs = _conv_edges(layer, shapes, neuron)
    shape = shapes[layer.name] if convs is not None else (layer.size,)
    nodes[key] = _neuron(nir, layer, shape, neuron, dt)
    edges = []
    for k, p in enumerate(layer.projections):
        edge = f"{p.source}_to_{layer.name}"
        source = keys[p.source]
        if convs is not None:
            nodes[edge] = convs[k]
        else:
            if len(shapes[p.source]) > 1:
                flat = f"{p.source}_flat"
                if flat not in nodes:
                    nodes[flat] = nir.Flatten(
                        input_type={"input": np.array(shapes[p.source])}, start_dim=0
                    )
                    edges.append((source, flat))
                source = flat
            n_pre = int(np.prod(shapes[p.source]))
            nodes[edge] = _affine(nir, p, layer, n_pre, k == 0, neuron)
        nodes[edge].metadata = {"weight_exp": int(p.weight_exp)}
        edges += [(source, edge), (edge, key)]
    return edges


def _input_nodes(nir, inp: LoihiInput, population: bool) -> dict[str, object]:
    """The NIR Input and, with ``population``, the IF input population it drives."""
    meta = {"levels": INPUT_LEVELS, "scale": float(inp.scale), "layer": inp.name}
    source = nir.Input(input_type={"input": np.array(inp.shape)}, metadata=meta)
    if not population:
        return {"input": source}
    full = np.ones(inp.shape)
    population = nir.IF(
        r=full,
        v_threshold=float(INPUT_LEVELS) * full,
        v_reset=0.0 * full,
        metadata=_neuron_metadata(inp.as_layer(), "input"),
    )
    return {"input": source, _key(inp.name): population}


def _check_expressible(net: LoihiNet, strict: bool, input_population: bool) -> None:
    subtract = [lay.name for lay in net.layers if lay.reset == "subtract"]
    refractory = [lay.name for lay in net.layers if lay.refractory > 1]
    decays = [
        lay.name for lay in net.layers if not lay.is_if and (lay.decay_v == 0 or lay.decay_u == 0)
    ]
    if decays:
        raise NIRExportError(
            f"layers {decays} decay their current (delta_u < {DECAY_ONE}) but not their voltage, or "
            "keep their current forever (delta_u = 0): neither IF nor CubaLIF expresses that"
        )
    notes = ["the input population resets by subtraction (NIR resets to v_reset)"]
    notes = notes if input_population else []
    if subtract:
        notes.append(f"layers {subtract} reset by subtraction")
    if refractory:
        notes.append(f"layers {refractory} have refractory periods (NIR has none)")
    if not notes:
        return
    message = (
        "; ".join(notes) + ": kept in node metadata that neuroemu reads back and other NIR "
        "tools ignore"
    )
    if strict:
        raise NIRExportError(message)
    warnings.warn(message, stacklevel=3)


def _neuron_metadata(layer: LoihiLayer, role: str) -> dict:
    return {
        "layer": layer.name,
        "role": role,
        "reset": layer.reset,
        "refractory": int(layer.refractory),
        "vth_mant": int(layer.vth_mant),
        "bias_exp": int(layer.bias_exp),
        "decay_u": int(layer.decay_u),
        "decay_v": int(layer.decay_v),
        "shape": np.array(layer.shape),
    }


def _neuron(nir, layer: LoihiLayer, shape: tuple[int, ...], neuron: str, dt: float):
    ones = np.ones(shape)
    meta = _neuron_metadata(layer, "layer")
    vth = layer.vth * ones
    if neuron == "LIF":
        steps = _IF_LEAK if layer.is_if else DECAY_ONE / layer.decay_v
        return nir.LIF(
            tau=steps * dt * ones,
            r=steps * ones,
            v_leak=0 * ones,
            v_threshold=vth,
            v_reset=0 * ones,
            metadata=meta,
        )
    if layer.is_if:
        return nir.IF(r=ones, v_threshold=vth, v_reset=0 * ones, metadata=meta)
    tau_syn = DECAY_ONE / layer.decay_u
    tau_mem = DECAY_ONE / layer.decay_v
    bias = layer.bias.reshape(shape)
    return nir.CubaLIF(
        tau_syn=tau_syn * dt * ones,
        tau_mem=tau_mem * dt * ones,
        r=tau_mem * ones,
        v_leak=bias * tau_mem * ones,
        v_threshold=vth,
        v_reset=0 * ones,
        w_in=tau_syn * ones,
        metadata=meta,
    )


def _bias_in_edge(layer: LoihiLayer, neuron: str) -> np.ndarray:
    """The layer's bias where the neuron node adds it through its input edge (IF, LIF)."""
    if layer.is_if or neuron == "LIF":
        return layer.bias.astype(np.float64)
    return np.zeros(layer.size)


def _affine(nir, p: LoihiProjection, layer: LoihiLayer, n_pre: int, first: bool, neuron: str):
    weight = _projection_matrix(p, layer.size, n_pre).toarray()
    bias = _bias_in_edge(layer, neuron) if first else np.zeros(layer.size)
    return nir.Affine(weight=weight.astype(np.float32), bias=bias.astype(np.float32))


def _projection_matrix(p: LoihiProjection, n_post: int, n_pre: int) -> sp.csr_matrix:
    return sp.csr_matrix((p.weight_eff.astype(np.float64), (p.post, p.pre)), shape=(n_post, n_pre))


def _conv_edges(layer: LoihiLayer, shapes: dict[str, tuple[int, ...]], neuron: str):
    """Conv2d nodes for every projection of ``layer``, or None if one is not a convolution."""
    import nir

    if len(layer.shape) != 3:
        return None
    bias = _bias_in_edge(layer, neuron).reshape(layer.shape)
    if np.any(bias != bias[:, :1, :1]):
        return None
    nodes = []
    for k, p in enumerate(layer.projections):
        src = shapes[p.source]
        if len(src) != 3:
            return None
        if isinstance(p, LoihiConv):
            found = _record_conv(p)
        else:
            found = _as_conv(p, src, tuple(layer.shape))
            found = found and (*found, (1, 1), 1)
        if found is None:
            return None
        weight, stride, padding, dilation, groups = found
        nodes.append(
            nir.Conv2d(
                input_shape=np.array(src[1:]),
                weight=weight,
                stride=np.array(stride),
                padding=np.array(padding),
                dilation=np.array(dilation),
                groups=groups,
                bias=bias[:, 0, 0] if k == 0 else np.zeros(layer.shape[0]),
            )
        )
    return nodes


def _record_conv(p: LoihiConv):
    """(kernel, stride, padding, dilation, groups) of a convolution record over its source's
    grid (pooling and dilation folded in), or None where NIR's Conv2d cannot say it: an
    output that symmetric padding misses, or source rows beyond the pooling cells."""
    kernel, stride, padding = p.unpooled()
    (_, h, w), (_, oh, ow) = p.source_shape, p.out_shape
    sizes = [
        (n + 2 * pad - k) // st + 1
        for n, pad, k, st in zip((h, w), padding, kernel.shape[2:], stride, strict=True)
    ]
    cells = (p.in_shape[1] * p.pool[0], p.in_shape[2] * p.pool[1])
    if sizes != [oh, ow] or cells != (h, w):
        return None
    return kernel.astype(np.float32), stride, padding, (1, 1), p.groups


def _as_conv(p: LoihiProjection, src: tuple[int, ...], dst: tuple[int, ...]):
    """(kernel, stride, padding) of a convolution equal to projection ``p``, or None."""
    if len(p.pre) == 0:
        return None
    c, y, x = np.unravel_index(p.pre, src)
    o, i, j = np.unravel_index(p.post, dst)
    w = p.weight_eff.astype(np.float64)
    target = _projection_matrix(p, int(np.prod(dst)), int(np.prod(src)))
    for sh in _strides(src[1], dst[1]):
        for sw in _strides(src[2], dst[2]):
            dy, dx = y - sh * i, x - sw * j
            top, left = max(0, -int(dy.min())), max(0, -int(dx.min()))
            kh, kw = int(dy.max()) + top + 1, int(dx.max()) + left + 1
            bottom = (dst[1] - 1) * sh + kh - src[1] - top
            right = (dst[2] - 1) * sw + kw - src[2] - left
            if (bottom, right) != (top, left):
                continue
            kernel = np.zeros((dst[0], src[0], kh, kw))
            kernel[o, c, dy + top, dx + left] = w
            if not np.array_equal(kernel[o, c, dy + top, dx + left], w):
                continue
            m = conv_matrix(kernel, src, (sh, sw), (top, left, bottom, right))
            m.eliminate_zeros()
            if (m != target).nnz == 0:
                return kernel.astype(np.float32), (sh, sw), (top, left)
    return None


def _strides(size_in: int, size_out: int) -> list[int]:
    return sorted({max(1, size_in // size_out), max(1, -(-size_in // size_out))})


def export_dt(neuron: str, dt: float | None) -> float:
    """``dt``, or the target library's step for ``neuron``; NIRExportError unless finite and > 0."""
    if neuron not in DEFAULT_EXPORT_DT:
        raise NIRExportError(f"neuron {neuron!r} is not one of {list(DEFAULT_EXPORT_DT)}")
    value = DEFAULT_EXPORT_DT[neuron] if dt is None else float(dt)
    if not np.isfinite(value) or value <= 0:
        raise NIRExportError(f"dt must be a finite number of seconds > 0, got {dt!r}")
    return value


def saturation_risks(net: LoihiNet) -> list[str]:
    """What an imported network's weights can saturate, per layer, worst case (all inputs spike).

    Counts the weights clipped to the mantissa range, the neurons whose inputs of one step can
    sum beyond +-2**21 (undefined on the chip: emulation and chip may part) and those whose
    inputs of one step alone can reach v's clip at 2**23 - 1 (the chip's own arithmetic).
    """
    out = []
    for layer in net.layers:
        pos, neg = np.zeros(layer.size), np.zeros(layer.size)
        for p in layer.projections:
            w = p.weight_eff.astype(np.float64)
            np.add.at(pos, p.post, np.maximum(w, 0))
            np.add.at(neg, p.post, np.minimum(w, 0))
        overflow = int(np.count_nonzero((pos >= INPUT_RANGE) | (neg < -INPUT_RANGE)))
        clip = int(np.count_nonzero((pos > V_MAX) | (neg < -V_MAX)))
        clipped = net.report.clipped_weights.get(layer.name, 0)
        if overflow or clip or clipped:
            out.append(
                f"layer {layer.name!r}: {clipped} weights clipped to Loihi's mantissa range; "
                f"{overflow} of {layer.size} neurons can take inputs beyond +-2**21 in one step "
                f"(undefined on the chip), {clip} can reach v's clip at 2**23 - 1 in one step"
            )
    return out


def write_nir(net: LoihiNet, path: str | os.PathLike, strict: bool = False, **style) -> Path:
    """Export ``net`` with :func:`to_nir` (``style``: its neuron, dt, input_population)."""
    import nir

    path = Path(path)
    nir.write(path, to_nir(net, strict, **style))
    return path


def read_nir(
    path: str | os.PathLike,
    timesteps: int | None = None,
    dt: float | None = None,
    reset: str | None = None,
) -> LoihiNet:
    """Read a NIR HDF5 file into a LoihiNet with :func:`from_nir`.

    A file that nir's own type check refuses is read without it, with a warning
    (:mod:`converters.frontends.nir_quirks`).
    """
    graph, note = read_graph(path)
    if note:
        warnings.warn(note, stacklevel=2)
    return from_nir(graph, timesteps, dt, reset)


def from_nir(
    graph, timesteps: int | None = None, dt: float | None = None, reset: str | None = None
) -> LoihiNet:
    """Read a NIR graph of IF / LIF / CubaLIF nodes and linear edges into a LoihiNet.

    Parameters
    ----------
    graph
        A ``nir.NIRGraph``: an Input, IF / LIF / CubaLIF nodes joined by Affine, Linear,
        Conv2d, Flatten, AvgPool2d, SumPool2d and Scale nodes, and an Output. neuroemu's own
        graphs (``target`` metadata ``"loihi"``, or an input population: an IF fed by the
        Input alone with v_threshold / r = 255) are read exactly; any other graph is
        quantized onto Loihi's grid as the module docstring says.
    timesteps
        Steps per sample; default: the graph's ``timesteps`` metadata.
    dt
        The graph's time per step (snntorch writes its graphs for 1e-4, sinabs for 1);
        default: the graph's ``dt`` metadata, else 1 for neuroemu's graphs. Required for
        other graphs with LIF or CubaLIF nodes.
    reset
        ``"zero"`` or ``"subtract"`` for every layer of another tool's graph (sinabs' IAF
        subtracts); default: reset to zero, with a warning where IF or LIF nodes are read so.
        neuroemu's own graphs keep the reset their metadata names.

    Raises
    ------
    NIRImportError
        Naming the node that neuroemu cannot map and why.
    """
    import nir

    if reset is not None and reset not in RESETS:
        raise NIRImportError(f"reset {reset!r} is not one of {RESETS}")
    meta = {k: _plain(v) for k, v in (graph.metadata or {}).items()}
    steps = timesteps if timesteps is not None else meta.get("timesteps")
    if steps is None:
        raise NIRImportError("the graph has no 'timesteps' metadata: pass timesteps=")
    neuron_kinds, linear_kinds = _neuron_kinds(nir), _linear_kinds(nir)
    unsupported = _unsupported(graph, (*neuron_kinds, *linear_kinds, nir.Input, nir.Output))
    if unsupported:
        raise NIRImportError(
            f"nodes {unsupported} have no Loihi counterpart; supported: neurons "
            f"{_names(neuron_kinds)}, edges {_names(linear_kinds)}"
        )
    inputs = [k for k, n in graph.nodes.items() if isinstance(n, nir.Input)]
    if len(inputs) != 1:
        raise NIRImportError(f"a LoihiNet has one input; the graph has {inputs}")
    _check_edges(graph)
    neurons = _neuron_inputs(nir, graph, neuron_kinds)
    population = _population_key(nir, graph, inputs[0], neurons)
    own = population is not None or meta.get("target") == "loihi"
    step = _time_step(nir, graph, dt, meta, own)
    if own:
        with _reading(inputs[0], graph.nodes[inputs[0]]):
            return _loihi_net(graph, inputs[0], population, neurons, (int(steps), step))
    plain = [k for k, _ in neurons if isinstance(graph.nodes[k], nir.IF | nir.LIF)]
    if reset is None and plain:
        warnings.warn(reset_note(plain), stacklevel=2)
    with _reading(inputs[0], graph.nodes[inputs[0]]):
        return _quantized_net(graph, inputs[0], neurons, (int(steps), step), reset or "zero")


def neuron_inputs(graph) -> list[tuple[str, AffineMap]]:
    """Each IF / LIF / CubaLIF node of ``graph`` in order, with the affine map into it."""
    import nir

    return _neuron_inputs(nir, graph, _neuron_kinds(nir))


def _neuron_inputs(nir, graph, neuron_kinds) -> list[tuple[str, AffineMap]]:
    """Each neuron node, in order, with the affine map of the neurons and Input into it."""
    preds = _predecessors(graph)
    values: dict[str, AffineMap] = {}
    neurons: list[tuple[str, AffineMap]] = []
    for key in _topological(graph):
        node = graph.nodes[key]
        with _reading(key, node):
            if isinstance(node, nir.Input):
                values[key] = AffineMap.identity(key, input_shape(key, node.input_type["input"]))
                continue
            if not preds[key]:
                raise NIRImportError(f"node {key!r} has no input edge")
            incoming = _sum([values[p] for p in preds[key]], key)
            if isinstance(node, nir.Output):
                continue
            if isinstance(node, neuron_kinds):
                neurons.append((key, incoming))
                values[key] = AffineMap.identity(key, incoming.shape)
            else:
                values[key] = _apply(nir, node, incoming, key)
    return neurons


def _sum(parts: list[AffineMap], key: str) -> AffineMap:
    sizes = {int(np.prod(p.shape)) for p in parts}
    if len(sizes) > 1:
        raise NIRImportError(f"node {key!r} sums inputs of different sizes {sorted(sizes)}")
    return AffineMap.sum(parts)


def _apply(nir, node, x: AffineMap, key: str) -> AffineMap:
    """The affine map of linear node ``node`` applied to its input ``x``."""
    kind, n_in = type(node).__name__, int(np.prod(x.shape))
    if isinstance(node, nir.Affine | nir.Linear):
        weight = np.asarray(node.weight, np.float64)
        if weight.ndim != 2 or weight.shape[1] != n_in:
            raise NIRImportError(
                f"{kind} {key!r} has weight {weight.shape} for an input of {n_in} values"
            )
        bias = np.asarray(node.bias, np.float64) if isinstance(node, nir.Affine) else 0.0
        return x.then(sp.csr_matrix(weight), bias + np.zeros(weight.shape[0]), (weight.shape[0],))
    if isinstance(node, nir.Flatten):
        return AffineMap(x.maps, x.bias, (n_in,))
    if isinstance(node, nir.Scale):
        scale = np.broadcast_to(np.asarray(node.scale, np.float64), x.shape).ravel()
        return x.then(sp.diags(scale, format="csr"), np.zeros(n_in), x.shape)
    if len(x.shape) != 3:
        raise NIRImportError(f"{kind} {key!r} needs a (C, H, W) input, gets shape {x.shape}")
    if isinstance(node, nir.Conv2d):
        if np.any(np.asarray(node.dilation) != 1):
            raise NIRImportError(f"Conv2d {key!r} is dilated; Loihi conversion supports dilation 1")
        weight = np.asarray(node.weight, np.float64)
        stride = tuple(int(s) for s in np.broadcast_to(node.stride, 2))
        padding = _padding(node.padding, weight.shape[2:], key)
        m = conv_matrix(weight, x.shape, stride, padding, int(node.groups))
        c_out = weight.shape[0]
        out_shape = (c_out, *_conv_out(x.shape[1:], weight.shape[2:], stride, padding))
        bias = np.repeat(np.asarray(node.bias, np.float64), int(np.prod(out_shape[1:])))
        return x.then(m, bias, out_shape)
    kernel = tuple(int(s) for s in np.broadcast_to(node.kernel_size, 2))
    stride = tuple(int(s) for s in np.broadcast_to(node.stride, 2))
    pad = tuple(int(s) for s in np.broadcast_to(node.padding, 2))
    padding = (pad[0], pad[1], pad[0], pad[1])
    m = pool_matrix(x.shape, kernel, stride, padding)
    if isinstance(node, nir.SumPool2d):
        m = m * (kernel[0] * kernel[1])
    out_shape = (x.shape[0], *_conv_out(x.shape[1:], kernel, stride, padding))
    return x.then(sp.csr_matrix(m), np.zeros(m.shape[0]), out_shape)


def _padding(padding, kernel, key: str) -> tuple[int, int, int, int]:
    if isinstance(padding, str | bytes):
        padding = padding.decode() if isinstance(padding, bytes) else padding
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            top, left = (kernel[0] - 1) // 2, (kernel[1] - 1) // 2
            return (top, left, kernel[0] - 1 - top, kernel[1] - 1 - left)
        raise NIRImportError(f"Conv2d {key!r} has padding {padding!r}")
    ph, pw = (int(p) for p in np.broadcast_to(padding, 2))
    return (ph, pw, ph, pw)


def _conv_out(size, kernel, stride, padding) -> tuple[int, int]:
    top, left, bottom, right = padding
    return (
        (size[0] + top + bottom - kernel[0]) // stride[0] + 1,
        (size[1] + left + right - kernel[1]) // stride[1] + 1,
    )


def _plain(value):
    """A metadata value as written, undoing HDF5's bytes and 0-d arrays."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _uniform(values, what: str, key: str) -> float:
    arr = np.asarray(values, np.float64)
    if arr.size and np.any(arr != arr.flat[0]):
        raise NIRImportError(f"node {key!r}: {what} differs between neurons; Loihi layers share it")
    return float(arr.flat[0])


def _snap(values):
    """Values within float rounding (1e-6 relative) of an integer, made that integer."""
    v = np.asarray(values, np.float64)
    r = np.round(v)
    return np.where(np.abs(v - r) <= 1e-6 * np.maximum(1.0, np.abs(v)), r, v)


def _integer(value: float, what: str, key: str) -> int:
    value = float(_snap(value))
    if not np.isfinite(value) or value != round(value):
        raise NIRImportError(f"node {key!r}: {what} = {value} is not an integer on Loihi's grid")
    return int(round(value))


def _time_step(nir, graph, dt, meta: dict, own: bool) -> float:
    if dt is not None:
        return float(dt)
    if "dt" in meta:
        return float(meta["dt"])
    leaky = [k for k, n in graph.nodes.items() if isinstance(n, nir.LIF | nir.CubaLIF)]
    if own or not leaky:
        return 1.0
    raise NIRImportError(
        f"nodes {leaky} are leaky and the graph does not say its time step: pass dt= "
        "(snntorch writes time constants for dt = 1e-4, sinabs in steps: dt = 1)"
    )


def _population_key(nir, graph, input_key: str, neurons) -> str | None:
    """The neuron node that is neuroemu's input population, if there is one."""
    readers = [(k, m) for k, m in neurons if input_key in m.maps]
    if len(readers) != 1:
        return None
    key, incoming = readers[0]
    node = graph.nodes[key]
    m = incoming.maps[input_key]
    n = m.shape[1]
    if (
        not isinstance(node, nir.IF)
        or len(incoming.maps) != 1
        or m.shape != (n, n)
        or (m != sp.identity(n, format="csr")).nnz
        or np.any(incoming.bias)
    ):
        return None
    ratio = np.asarray(node.v_threshold, np.float64) / np.asarray(node.r, np.float64)
    return key if np.all(ratio == INPUT_LEVELS) else None


def _input(graph, input_key: str, population: str | None) -> LoihiInput:
    node = graph.nodes[input_key]
    meta = {k: _plain(v) for k, v in (node.metadata or {}).items()}
    if population is not None:
        pop_meta = {k: _plain(v) for k, v in (graph.nodes[population].metadata or {}).items()}
        name = str(pop_meta.get("layer", population))
    else:
        name = str(meta.get("layer", _layer_name(input_key)))
    shape = input_shape(input_key, node.input_type["input"])
    return LoihiInput(shape, "bias", float(meta.get("scale", 1.0)), name)


def _layer_name(key: str) -> str:
    """A node key as a layer name that Brian2 accepts (letters, digits, underscores)."""
    name = "".join(c if c.isalnum() else "_" for c in key)
    return name if name[:1].isalpha() else f"n{name}"


def _loihi_net(graph, input_key: str, population, neurons, timing) -> LoihiNet:
    """A graph that neuroemu wrote: every value already on Loihi's grid."""
    steps, dt = timing
    net_input = _input(graph, input_key, population)
    names = {input_key: net_input.name}
    if population is not None:
        names[population] = net_input.name
    layers: list[LoihiLayer] = []
    for key, incoming in neurons:
        if key == population:
            continue
        node = graph.nodes[key]
        with _reading(key, node):
            node_meta = {k: _plain(v) for k, v in (node.metadata or {}).items()}
            names[key] = str(node_meta.get("layer", _layer_name(key)))
            dyn = _dynamics(node, incoming, dt, key)
            layers.append(_layer(key, node, node_meta, incoming, names, dyn))
    return LoihiNet(net_input, layers, steps)


def _dynamics(node, incoming: AffineMap, dt: float, key: str) -> tuple:
    """Loihi's (delta_u, delta_v, gain, bias) of a NIR neuron stepped by forward Euler.

    With ``x = M s + b`` its incoming affine map of the spikes s: ``u = (1 - delta_u / 4096) u
    + gain * M s`` and ``v = (1 - delta_v / 4096) v + u + bias`` (module docstring).
    """
    import nir

    def full(value, what: str) -> np.ndarray:
        try:
            return per_neuron(value, incoming.shape)
        except ValueError as err:
            raise NIRImportError(
                f"node {key!r}: {what} of shape {np.shape(value)} does not fit its input "
                f"of shape {incoming.shape}"
            ) from err

    if np.any(np.asarray(node.v_reset, np.float64) != 0):
        raise NIRImportError(f"node {key!r} resets to {node.v_reset}; Loihi resets to 0")
    if isinstance(node, nir.IF):
        gain = full(node.r, "r")
        return float(DECAY_ONE), 0.0, gain, incoming.bias * gain
    if isinstance(node, nir.LIF):
        a = _fraction(dt / _uniform(node.tau, "tau", key), "dt / tau", key)
        gain = a * full(node.r, "r")
        return (
            float(DECAY_ONE),
            DECAY_ONE * a,
            gain,
            incoming.bias * gain + a * full(node.v_leak, "v_leak"),
        )
    a_syn = _fraction(dt / _uniform(node.tau_syn, "tau_syn", key), "dt / tau_syn", key)
    a_mem = _fraction(dt / _uniform(node.tau_mem, "tau_mem", key), "dt / tau_mem", key)
    if np.any(incoming.bias):
        raise NIRImportError(
            f"CubaLIF {key!r}: a bias in its input edge is filtered by tau_syn, "
            "which Loihi's bias (added to v) cannot follow; use v_leak"
        )
    gain = a_syn * full(node.w_in, "w_in") * a_mem * full(node.r, "r")
    return DECAY_ONE * a_syn, DECAY_ONE * a_mem, gain, a_mem * full(node.v_leak, "v_leak")


def _fraction(value: float, what: str, key: str) -> float:
    if not 0 < value <= 1:
        raise NIRImportError(
            f"node {key!r}: {what} = {value:g} is outside (0, 1]: a Loihi decay is a fraction "
            "of the state per step; pass a dt for which the time constants span a step or more"
        )
    return value


def _layer(key, node, node_meta, incoming: AffineMap, names: dict[str, str], dyn) -> LoihiLayer:
    decay_u, decay_v, gain, bias = dyn
    vth = _uniform(node.v_threshold, "v_threshold", key)
    projections = []
    for src, m in incoming.maps.items():
        if src not in names:
            raise NIRImportError(f"node {key!r} reads {src!r}, which is not a neuron node")
        coo = sp.csr_matrix(sp.diags(gain) @ m).tocoo()
        coo.sum_duplicates()
        keep = coo.data != 0
        mant, exp = _weights(_snap(coo.data[keep]), key)
        projections.append(LoihiProjection(names[src], coo.col[keep], coo.row[keep], mant, exp))
    bias_mant, bias_exp = _bias(_snap(bias), key, node_meta.get("bias_exp"))
    return LoihiLayer(
        names[key],
        int(np.prod(incoming.shape)),
        projections,
        vth_mant=_integer(vth / MANT_SCALE, f"v_threshold / {MANT_SCALE}", key),
        bias_mant=bias_mant,
        bias_exp=bias_exp,
        decay_u=_integer(decay_u, f"{DECAY_ONE} * dt / tau_syn", key),
        decay_v=_integer(decay_v, f"{DECAY_ONE} * dt / tau", key),
        refractory=int(node_meta.get("refractory", 1)),
        reset=str(node_meta.get("reset", "zero")),
        shape=tuple(int(s) for s in np.atleast_1d(node_meta.get("shape", incoming.shape))),
    )


def _quantized_net(graph, input_key: str, neurons, timing, reset: str) -> LoihiNet:
    """A graph of float values from another tool, quantized onto Loihi's grid."""
    steps, dt = timing
    net_input = _input(graph, input_key, None)
    names = {input_key: net_input.name}
    report = QuantizationReport()
    layers: list[LoihiLayer] = []
    for key, incoming in neurons:
        names[key] = _layer_name(key)
        with _reading(key, graph.nodes[key]):
            dyn = _dynamics(graph.nodes[key], incoming, dt, key)
            layer = _quantized_layer(key, graph.nodes[key], incoming, names, dyn, report)
            layers.append(dataclasses.replace(layer, reset=reset))
    return LoihiNet(net_input, layers, steps, report)


def _quantized_layer(key, node, incoming: AffineMap, names, dyn, report) -> LoihiLayer:
    """The layer of NIR neuron ``node`` in Loihi units: its threshold becomes ``vth``."""
    decay_u, decay_v, gain, bias = dyn
    size = int(np.prod(incoming.shape))
    theta = per_neuron(node.v_threshold, incoming.shape)
    if np.any(theta <= 0):
        raise NIRImportError(f"node {key!r} has a threshold <= 0; Loihi thresholds are positive")
    maps = {}
    for src, m in incoming.maps.items():
        if src not in names:
            raise NIRImportError(f"node {key!r} reads {src!r}, which is not a neuron node")
        maps[names[src]] = sp.csr_matrix(sp.diags(gain / theta) @ m)
    vth = _threshold_units(max((abs(m).max() for m in maps.values() if m.nnz), default=0.0))
    name = names[key]
    projections = [_quantized_projection(src, vth * m, name, report) for src, m in maps.items()]
    bias_mant, bias_exp, clipped = _quantized_bias(vth * bias / theta)
    report.clipped_biases[name] = clipped
    return LoihiLayer(
        name,
        size,
        projections,
        vth_mant=vth >> MANT_SHIFT,
        bias_mant=bias_mant,
        bias_exp=bias_exp,
        decay_u=int(round(decay_u)),
        decay_v=int(round(decay_v)),
        shape=incoming.shape,
    )


def _threshold_units(largest: float) -> int:
    """``vth``: V_UNITS, or less where the largest weight (in thresholds) would not fit."""
    top = WEIGHT_MANT_RANGE[1] << (MANT_SHIFT + WEIGHT_EXP_RANGE[1])
    units = V_UNITS if largest * V_UNITS <= top else top / largest
    return max(1, int(units) >> MANT_SHIFT) << MANT_SHIFT


def _quantized_projection(source: str, w: sp.csr_matrix, layer: str, report) -> LoihiProjection:
    """Even mantissas and the smallest exponent >= 0 whose range holds the largest weight."""
    coo = w.tocoo()
    coo.sum_duplicates()
    low, high = WEIGHT_MANT_RANGE
    peak = float(np.abs(coo.data).max(initial=0.0))
    exps = range(0, WEIGHT_EXP_RANGE[1] + 1)
    exp = next((e for e in exps if peak <= high * 2.0 ** (MANT_SHIFT + e)), exps[-1])
    mant = 2 * np.round(coo.data / 2.0 ** (MANT_SHIFT + exp) / 2)
    clipped = int(np.sum((mant < low) | (mant > high)))
    mant = np.clip(mant, low, high)
    keep = mant != 0
    report.clipped_weights[layer] = report.clipped_weights.get(layer, 0) + clipped
    zeroed = int(np.sum(~keep & (coo.data != 0)))
    report.zeroed_weights[layer] = report.zeroed_weights.get(layer, 0) + zeroed
    return LoihiProjection(source, coo.col[keep], coo.row[keep], mant[keep].astype(np.int16), exp)


def _quantized_bias(bias: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Bias mantissas, the smallest exponent that holds them, and how many were clipped."""
    low, high = BIAS_MANT_RANGE
    first, last = BIAS_EXP_RANGE
    peak = float(np.abs(bias).max(initial=0.0))
    exp = next((e for e in range(first, last + 1) if peak <= high * 2.0**e), last)
    mant = np.round(bias / 2.0**exp)
    clipped = int(np.sum((mant < low) | (mant > high)))
    return np.clip(mant, low, high).astype(np.int32), exp, clipped


def _weights(w_eff: np.ndarray, key: str) -> tuple[np.ndarray, int]:
    """Mantissas and the smallest exponent that reproduce the effective weights exactly."""
    low, high = WEIGHT_MANT_RANGE
    for exp in range(WEIGHT_EXP_RANGE[0], WEIGHT_EXP_RANGE[1] + 1):
        shift = MANT_SHIFT + exp
        mant = w_eff / 2.0**shift if shift >= 0 else w_eff * 2.0**-shift
        if (
            np.all(mant == np.round(mant))
            and mant.min(initial=0) >= low
            and mant.max(initial=0) <= high
        ):
            mant = mant.astype(np.int64)
            check = mant << shift if shift >= 0 else mant >> -shift
            if np.array_equal(check, w_eff):
                return mant.astype(np.int16), exp
    raise NIRImportError(
        f"the weights into {key!r} are not on Loihi's grid (w_mant * 2**({MANT_SHIFT} + w_exp), "
        f"mantissa {low}..{high}): quantize the network first (to_graph, normalize, to_loihi)"
    )


def _bias(bias: np.ndarray, key: str, preferred) -> tuple[np.ndarray, int]:
    low, high = BIAS_MANT_RANGE
    first, last = BIAS_EXP_RANGE
    exps = ([int(preferred)] if preferred is not None else []) + list(range(first, last + 1))
    for exp in exps:
        mant = bias / 2.0**exp
        if (
            np.all(mant == np.round(mant))
            and mant.min(initial=0) >= low
            and mant.max(initial=0) <= high
        ):
            return mant.astype(np.int32), exp
    raise NIRImportError(
        f"the bias of {key!r} is not on Loihi's grid (bias_mant * 2**bias_exp, mantissa "
        f"{low}..{high}, exponent {first}..{last})"
    )


def nir_to_graph(graph) -> Graph:
    """Read a NIR graph of IF nodes and linear edges into a float layer graph, by rate.

    Affine and Linear become Dense, Conv2d Conv2d, AvgPool2d AvgPool2d, SumPool2d an
    AvgPool2d and an Add scaled by the kernel area, Flatten Flatten, several edges into one
    node an Add. An IF node becomes the ReLU of the Dense or Conv2d before it, whose weights
    and bias it scales by ``r / v_threshold``; an IF fed by the Input alone is the input
    encoding and divides the input by ``v_threshold / r`` (neuroemu's own input population:
    by the ``scale`` the Input's metadata records).

    Raises
    ------
    NIRImportError
        For leaky neurons (LIF, CubaLIF: their rate is no ReLU of the input), other node
        kinds, dilated convolutions, non-zero resets and IF nodes that follow no weighted node.
    """
    import nir

    kinds = (nir.IF, *_linear_kinds(nir)[:-1], nir.Input, nir.Output)
    unsupported = _unsupported(graph, kinds)
    if unsupported:
        raise NIRImportError(
            f"nodes {unsupported} have no layer-graph counterpart; supported: IF neurons and "
            "Affine, Linear, Conv2d, Flatten, AvgPool2d, SumPool2d edges"
        )
    preds = _predecessors(graph)
    succs: dict[str, list[str]] = {k: [] for k in graph.nodes}
    for a, b in graph.edges:
        succs[a].append(b)
    nodes: list = []
    made: dict[str, object] = {}
    name_of: dict[str, str] = {}
    output = None
    for key in _topological(graph):
        node = graph.nodes[key]
        if isinstance(node, nir.Input):
            made[key] = Input(key, input_shape(key, node.input_type["input"]))
            nodes.append(made[key])
            name_of[key] = key
            continue
        sources = [name_of[p] for p in preds[key]]
        if not sources:
            raise NIRImportError(f"node {key!r} has no input edge")
        if len(sources) > 1:
            made[f"{key}_sum"] = Add(f"{key}_sum", sources)
            nodes.append(made[f"{key}_sum"])
            sources = [f"{key}_sum"]
        if isinstance(node, nir.Output):
            output = sources[0]
            continue
        if isinstance(node, nir.IF):
            name_of[key] = _fold_if(key, node, made[sources[0]], preds, succs, graph)
            made[name_of[key]] = made[sources[0]]
            continue
        new = _graph_nodes(nir, key, node, sources[0])
        nodes += new
        made.update({n.name: n for n in new})
        name_of[key] = new[-1].name
    if output is None:
        raise NIRImportError("the graph has no Output node")
    return Graph(nodes, output)


def _graph_nodes(nir, key: str, node, source: str) -> list:
    """The layer-graph nodes of linear NIR node ``node`` (the last one carries its output)."""
    if isinstance(node, nir.Affine | nir.Linear):
        weight = np.asarray(node.weight, np.float64)
        affine = isinstance(node, nir.Affine)
        bias = np.asarray(node.bias, np.float64) if affine else np.zeros(len(weight))
        return [Dense(key, [source], weight.copy(), bias.copy())]
    if isinstance(node, nir.Flatten):
        return [Flatten(key, [source])]
    if isinstance(node, nir.Conv2d):
        if np.any(np.asarray(node.dilation) != 1):
            raise NIRImportError(f"Conv2d {key!r} is dilated; the layer graph has dilation 1 only")
        weight = np.asarray(node.weight, np.float64)
        stride = tuple(int(s) for s in np.broadcast_to(node.stride, 2))
        padding = _padding(node.padding, weight.shape[2:], key)
        bias = np.asarray(node.bias, np.float64) + np.zeros(weight.shape[0])
        return [Conv2d(key, [source], weight.copy(), bias, stride, padding, int(node.groups))]
    kernel = tuple(int(s) for s in np.broadcast_to(node.kernel_size, 2))
    stride = tuple(int(s) for s in np.broadcast_to(node.stride, 2))
    pad = tuple(int(s) for s in np.broadcast_to(node.padding, 2))
    padding = (pad[0], pad[1], pad[0], pad[1])
    if isinstance(node, nir.AvgPool2d):
        return [AvgPool2d(key, [source], kernel, stride, padding)]
    area = float(kernel[0] * kernel[1])
    return [
        AvgPool2d(f"{key}_avg", [source], kernel, stride, padding),
        Add(key, [f"{key}_avg"], scale=(area,)),
    ]


def _fold_if(key: str, node, before, preds, succs, graph) -> str:
    """Fold IF node ``key`` into the node before it, which takes the neurons' layer name."""
    if np.any(np.asarray(node.v_reset) != 0):
        raise NIRImportError(f"IF {key!r} resets to {node.v_reset}; rates assume a reset to 0")
    gain = np.asarray(node.r, np.float64) / np.asarray(node.v_threshold, np.float64)
    (pred,) = preds[key]
    if isinstance(before, Input):
        meta = {k: _plain(v) for k, v in (graph.nodes[pred].metadata or {}).items()}
        before.scale = (
            float(meta["scale"])
            if "levels" in meta
            else 1.0 / _uniform(gain, "r / v_threshold", key)
        )
        return before.name
    if not isinstance(before, Dense | Conv2d) or before.relu or len(succs[pred]) != 1:
        raise NIRImportError(
            f"IF {key!r} follows {type(before).__name__} {before.name!r}; the layer graph maps an "
            "IF onto the ReLU of the one Affine, Linear or Conv2d that feeds it alone (one IF "
            "per weighted node)"
        )
    if isinstance(before, Conv2d):
        gain = np.broadcast_to(gain, (len(before.weight), *np.shape(gain)[1:])).reshape(
            len(before.weight), -1
        )
        if np.any(gain != gain[:, :1]):
            raise NIRImportError(f"IF {key!r}: r / v_threshold differs within a channel")
        gain = gain[:, 0]
    gain = np.broadcast_to(gain.ravel(), before.bias.shape)
    before.weight = before.weight * gain.reshape(-1, *([1] * (before.weight.ndim - 1)))
    before.bias = before.bias * gain
    before.relu = True
    meta = {k: _plain(v) for k, v in (node.metadata or {}).items()}
    before.name = str(meta.get("layer", key))
    return before.name
