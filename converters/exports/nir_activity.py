"""Whether an exported NIR graph is silent where its target library runs it.

The graph's own equations (module :mod:`converters.frontends.nir_import`), in numpy, stepped by forward
Euler at the step the target library runs (``DEFAULT_EXPORT_DT``: snntorch 1e-4 s for LIF
graphs, sinabs' and Norse's step for IF graphs) whatever ``dt`` the time constants were
written for: a graph written for dt = 1 and run by snntorch at 1e-4 integrates 1e-4 of each
input and stays silent. Spikes where v > v_threshold, then v = v_reset; the input population
is fed its levels, a spike-input graph the population's spike trains.
"""

from __future__ import annotations

import numpy as np

from ..chips.loihi import INPUT_LEVELS
from ..frontends.nir_graph import neuron_inputs
from ..frontends.nir_quirks import per_neuron
from .nir_export import DEFAULT_EXPORT_DT

__all__ = ["LIBRARIES", "output_spikes", "silence_warning"]

LIBRARIES = {"IF": "sinabs and Norse run", "LIF": "snntorch runs"}


def output_spikes(graph, x: np.ndarray, steps: int, dt: float) -> np.ndarray:
    """Spike counts (samples, outputs) of the node feeding the graph's Output, inputs ``x``."""
    import nir

    neurons = neuron_inputs(graph)
    (input_key,) = [k for k, n in graph.nodes.items() if isinstance(n, nir.Input)]
    (out_key,) = [a for a, b in graph.edges if isinstance(graph.nodes[b], nir.Output)]
    levels = np.rint(np.clip(x.reshape(len(x), -1), 0, 1) * INPUT_LEVELS)
    spike_input = str(dict(graph.metadata or {}).get("input", "levels")) == "spikes"
    v = {k: np.zeros((len(x), int(np.prod(m.shape)))) for k, m in neurons}
    i = {k: np.zeros_like(a) for k, a in v.items()}
    counts = {k: np.zeros_like(a) for k, a in v.items()}
    charge = np.zeros_like(levels)
    for _ in range(steps):
        if spike_input:
            charge += levels
            drive = (charge > INPUT_LEVELS).astype(np.float64)
            charge -= INPUT_LEVELS * drive
        else:
            drive = levels
        spikes = {input_key: drive}
        for key, incoming in neurons:
            node = graph.nodes[key]
            current = incoming.bias + sum(spikes[s] @ m.T for s, m in incoming.maps.items())
            v[key], i[key] = _euler(nir, node, incoming.shape, v[key], i[key], current, dt)
            fired = v[key] > per_neuron(node.v_threshold, incoming.shape)
            v[key] = np.where(fired, per_neuron(node.v_reset, incoming.shape), v[key])
            spikes[key] = fired.astype(np.float64)
            counts[key] += fired
    return counts[out_key]


def _euler(nir, node, shape, v, i, x, dt: float):
    """One forward Euler step of an IF, LIF or CubaLIF node: (v, i) after input ``x``."""
    r = per_neuron(node.r, shape)
    if isinstance(node, nir.IF):
        return v + r * x, i
    leak = per_neuron(node.v_leak, shape)
    if isinstance(node, nir.LIF):
        return v + dt / per_neuron(node.tau, shape) * (leak - v + r * x), i
    i = i + dt / per_neuron(node.tau_syn, shape) * (per_neuron(node.w_in, shape) * x - i)
    return v + dt / per_neuron(node.tau_mem, shape) * (leak - v + r * i), i


def silence_warning(graph, neuron: str, x: np.ndarray, steps: int, what: str) -> str | None:
    """A warning naming the remedy when ``graph`` has no output spikes on ``x`` (``what``)."""
    step = DEFAULT_EXPORT_DT[neuron]
    if output_spikes(graph, x, steps, step).any():
        return None
    written = float(dict(graph.metadata or {}).get("dt", step))
    remedy = (
        f"export with --dt {step:g} (the default)"
        if written != step
        else "check that the network itself spikes on these inputs (neuroemu inspect)"
    )
    return (
        f"the exported graph is silent where {LIBRARIES[neuron]} it ({step:g} s per step; "
        f"time constants written for dt {written:g} s): no output spike on {what} in "
        f"{steps} steps; {remedy}"
    )
