"""NIR (Neuromorphic Intermediate Representation) graphs read into LoihiNets.

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
projection's largest weight (error <= 1/127 of it), biases to 13-bit mantissas (both by
Loihi's one quantizer, :mod:`converters.targets.loihi_quantizer`), decays to
1/4096 (|error of a| <= 1/8192: snntorch beta = 0.9 gives dv = 410, beta 0.89990), the
truncation of decays < 2**-18 thresholds per step; the clipped and zeroed counts go to the
net's report. What the source libraries run differently is not followed:

- Loihi delays a spike one step per projection; the libraries do not (answers come K steps
  later through K layers). Other tools' Inputs take spike trains: neuroemu's input population
  makes them from inputs x in [0, 1] (level round(255 x), regular spikes at rate level / 255).
- snntorch's default Leaky resets by subtraction, sinabs' IAF fires floor(v / theta) spikes
  (v >= theta) and subtracts: their NIR nodes say reset to v_reset, which is read, with a
  note, unless ``reset="subtract"`` (:mod:`converters.frontends.nir_quirks`, which also
  drops batch dimensions of 1 and reads files that nir's type check refuses).
- norse 1.1.0 writes ``tau = dt / tau_inv`` (dt = 1e-3: 1e-3 times the time constant):
  read its graphs with ``dt = 1e-6``.

Measured on 200 digits (tests/test_nir_libraries.py), predictions of the import emulated
against the source library's own run: snntorch Leaky 99.0% (Synaptic, as CubaLIF, 99.0%),
sinabs IAF 99.0%, norse IAF + LIFBox 98.5%. Output spike counts (200 x 10) are identical for
87-89% with snntorch and sinabs set to NIR's reset to zero (mean difference 0.14 spikes of
1.8: weight rounding and the delay), 76-79% with their default subtraction (0.8-1.7 spikes).

:func:`converters.frontends.nir_rate.nir_to_graph` reads IF graphs into the float layer graph
by rate instead; :mod:`converters.exports.nir_export` writes LoihiNets as NIR graphs.
"""

from __future__ import annotations

import dataclasses
import os
import warnings

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
from ..targets.loihi_quantizer import quantize_bias, sparse_projection
from ..targets.populations import AffineMap
from .nir_graph import (
    check_edges,
    kind_names,
    linear_kinds,
    metadata,
    neuron_inputs,
    neuron_kinds,
    reading,
    uniform,
    unsupported,
)
from .nir_quirks import NIRImportError, input_shape, per_neuron, read_graph, reset_note

__all__ = [
    "V_UNITS",
    "LIBRARY_IMPORT_DT",
    "saturation_risks",
    "NIRImportError",
    "from_nir",
    "read_nir",
]

# the dt to read other libraries' graphs at (from_nir's dt)
LIBRARY_IMPORT_DT = {"snntorch": 1e-4, "sinabs": 1.0, "norse": 1e-6}
V_UNITS = 2**18  # an imported layer's threshold in Loihi units: v clips at 32 thresholds


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
    meta = metadata(graph)
    steps = timesteps if timesteps is not None else meta.get("timesteps")
    if steps is None:
        raise NIRImportError("the graph has no 'timesteps' metadata: pass timesteps=")
    neurons_read, edges_read = neuron_kinds(nir), linear_kinds(nir)
    refused = unsupported(graph, (*neurons_read, *edges_read, nir.Input, nir.Output))
    if refused:
        raise NIRImportError(
            f"nodes {refused} have no Loihi counterpart; supported: neurons "
            f"{kind_names(neurons_read)}, edges {kind_names(edges_read)}"
        )
    inputs = [k for k, n in graph.nodes.items() if isinstance(n, nir.Input)]
    if len(inputs) != 1:
        raise NIRImportError(f"a LoihiNet has one input; the graph has {inputs}")
    check_edges(graph)
    neurons = neuron_inputs(graph)
    population = _population_key(nir, graph, inputs[0], neurons)
    own = population is not None or meta.get("target") == "loihi"
    step = _time_step(nir, graph, dt, meta, own)
    if own:
        with reading(inputs[0], graph.nodes[inputs[0]]):
            return _loihi_net(graph, inputs[0], population, neurons, (int(steps), step))
    plain = [k for k, _ in neurons if isinstance(graph.nodes[k], nir.IF | nir.LIF)]
    if reset is None and plain:
        warnings.warn(reset_note(plain), stacklevel=2)
    with reading(inputs[0], graph.nodes[inputs[0]]):
        return _quantized_net(graph, inputs[0], neurons, (int(steps), step), reset or "zero")


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
    meta = metadata(node)
    if population is not None:
        pop_meta = metadata(graph.nodes[population])
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
        with reading(key, node):
            node_meta = metadata(node)
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
        a = _fraction(dt / uniform(node.tau, "tau", key), "dt / tau", key)
        gain = a * full(node.r, "r")
        return (
            float(DECAY_ONE),
            DECAY_ONE * a,
            gain,
            incoming.bias * gain + a * full(node.v_leak, "v_leak"),
        )
    a_syn = _fraction(dt / uniform(node.tau_syn, "tau_syn", key), "dt / tau_syn", key)
    a_mem = _fraction(dt / uniform(node.tau_mem, "tau_mem", key), "dt / tau_mem", key)
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
    vth = uniform(node.v_threshold, "v_threshold", key)
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
        with reading(key, graph.nodes[key]):
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
    bias_mant, bias_exp, clipped = quantize_bias(vth * bias / theta)
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
    """Even mantissas at the smallest exponent >= 0 that holds the largest weight (Loihi's
    quantizer), its clipped and zeroed weights counted in ``report``."""
    coo = w.tocoo()
    coo.sum_duplicates()
    projection, clipped, zeroed = sparse_projection(source, coo, min_exp=0)
    report.clipped_weights[layer] = report.clipped_weights.get(layer, 0) + clipped
    report.zeroed_weights[layer] = report.zeroed_weights.get(layer, 0) + zeroed
    return projection


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
