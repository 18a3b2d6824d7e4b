"""NIR export of LoihiNets: the network in the chip's integer units, ``dt`` per step.

:func:`to_nir` writes the input population as an IF (r = 1, v_threshold = 255) fed the levels
0..255 (or, with ``input_population=False``, an Input of its spike trains), then per layer an
IF (r = 1, bias in the Affine or Conv2d edge; w_eff = w_mant * 2**(6 + w_exp)) or, leaky, a
CubaLIF (tau_syn = 4096 / du, w_in = tau_syn, tau_mem = r = 4096 / dv, v_leak = bias *
tau_mem, in steps times dt). ``neuron="LIF"`` writes every layer as a LIF (IF: tau = 1e12
steps, r = 1e12) for snntorch, which reads IF as a leaky neuron of beta 0.9. Exact in NIR's
semantics up to what NIR cannot say, kept in node metadata that
:func:`converters.frontends.nir_import.from_nir` reads back: reset by subtraction (sinabs
subtracts, snntorch resets to zero), refractory periods, truncated integer decays (a float
leak instead: < 1 unit per step), the 24-bit wrap and clip (unreached by converted
networks), the one-step delay per projection. Measured on 200 digits, a converted MLP's
export against neuroemu: sinabs (IF) 100% with reset by subtraction, 99.5% with reset to
zero; snntorch (LIF, spike input) 99.0% and 99.5%. Rate-coded inputs (Bernoulli generators)
and Akida networks have no NIR form and are refused.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..chips.loihi import DECAY_ONE, INPUT_LEVELS, LoihiInput, LoihiLayer, LoihiNet, LoihiProjection
from ..chips.loihi_conv import LoihiConv
from ..targets.populations import conv_matrix

__all__ = ["NEURONS", "DEFAULT_EXPORT_DT", "NIRExportError", "export_dt", "to_nir", "write_nir"]

_RESERVED = ("input", "output")
# the time step each target library runs an exported graph at (to_nir's default)
DEFAULT_EXPORT_DT = {"IF": 1.0, "LIF": 1e-4}


class NIRExportError(ValueError):
    """A network, or a part of it, that NIR cannot express."""


def _key(name: str) -> str:
    return f"{name}_neurons" if name in _RESERVED else name


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


def write_nir(net: LoihiNet, path: str | os.PathLike, strict: bool = False, **style) -> Path:
    """Export ``net`` with :func:`to_nir` (``style``: its neuron, dt, input_population)."""
    import nir

    path = Path(path)
    nir.write(path, to_nir(net, strict, **style))
    return path
