"""NeuroBench's metrics computed from neuroemu traces, with the chip's own counts beside them.

The names and definitions are those of the ``neurobench`` package (2.3), applied to the
network the chip runs, as :class:`emu.neurobench_model.NeuroBenchEmulation` shows it to
NeuroBench (one ``Linear`` per Loihi projection, dense ``[source, target]``, float32)::

    Footprint            bytes of float32 parameters: connection matrices and one bias per neuron
    ConnectionSparsity   zero entries / all entries of the connection matrices
    ActivationSparsity   zero activations / all activations, over layers (not the input),
                         steps and samples (a Loihi compartment spikes at most once a step)
    SynapticOperations   per sample: Effective_ACs = sum over input spikes of the non-zero
                         weights they reach, when the inputs are binary (all of Loihi's,
                         Akida's 1-bit layers); Effective_MACs the same for multi-bit inputs;
                         Dense = every entry at every step, inputs and weights taken as ones
    MembraneUpdates      per sample: neurons x steps; every Loihi compartment updates every
                         step, so the chip's count (NeuroBench counts only the neurons whose
                         membrane changed, which needs the membranes; an upper bound of it)
    NeuronOperations     MembraneUpdates x NeuroBench's operations per update of the
                         matching snntorch neuron (Leaky: current lasting one step, else
                         Synaptic; by reset mode)
    ClassificationAccuracy   over the labelled samples

The chip's counts (``chip``) are what the hardware models charge: Loihi synaptic ops
(spikes x synapses stored), spikes and compartment updates; Akida events (non-zero
activations) and events x non-zero weights. Without a network only the metrics the traces
alone define are given (the others are None).
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field

import numpy as np
import xarray as xr

from converters.chips.akida import AkidaLayer, AkidaNet, potentials
from converters.chips.loihi import DECAY_ONE, LoihiNet

from .traces.stats import count_array, labelled_accuracy, layer_names

__all__ = [
    "NeuroBenchMetrics",
    "NEURON_OPERATIONS",
    "neurobench_metrics",
    "akida_synaptic_ops",
    "loihi_connections",
]

# NeuroBench 2.3's operations per membrane update (neuron_operations.py), by neuron and reset
NEURON_OPERATIONS = {
    "Leaky": {"subtract": 4, "zero": 4},
    "Synaptic": {"subtract": 6, "zero": 8},
}
FLOAT32_BYTES = 4
_NEEDS_NET = (
    "Footprint, ConnectionSparsity, SynapticOperations and NeuronOperations need the "
    "network the traces were recorded from (inspect --net NET)"
)


@dataclass
class NeuroBenchMetrics:
    """NeuroBench's metrics of one run under NeuroBench's names, and the chip's own counts."""

    target: str
    samples: int
    timesteps: int
    metrics: dict[str, object]  # NeuroBench's names; None where the traces alone cannot tell
    chip: dict[str, float] = field(default_factory=dict)  # per sample
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def loihi_connections(net: LoihiNet) -> list[tuple[str, str, np.ndarray]]:
    """(source, target, dense float weights [target, source]) of every Loihi projection."""
    sizes = {layer.name: layer.size for layer in net.all_layers()}
    out = []
    for layer in net.layers:
        for p in layer.projections:
            dense = np.zeros((layer.size, sizes[p.source]), np.float64)
            np.add.at(dense, (p.post, p.pre), p.weight_eff)
            out.append((p.source, layer.name, dense))
    return out


def _ones_layer(layer: AkidaLayer, every: bool) -> AkidaLayer:
    """``layer`` unpooled with weight 1 where it has a non-zero weight (``every``: everywhere)."""

    def ones(w: np.ndarray) -> np.ndarray:
        return (np.ones_like(w) if every else w != 0).astype(np.int8)

    return dataclasses.replace(layer, weights=ones(layer.weights), pool="none", weight_bits=8,
                               padding_value=0, pointwise=ones(layer.pointwise))  # fmt: skip


def akida_synaptic_ops(layer: AkidaLayer, inputs: np.ndarray, every: bool = False) -> np.ndarray:
    """Per sample: input events (non-zero inputs, N x H x W x C) times the non-zero weights each
    touches (``every``: times every weight it touches, zeros included)."""
    events = (np.asarray(inputs) != 0).astype(np.int64)
    touched = _ones_layer(layer, every)
    if layer.kind == "dense":
        flat = events.transpose(0, 3, 2, 1).reshape(len(events), -1)  # row h + H (w + W c)
        return flat @ touched.weights.sum(1).astype(np.int64)
    p, _ = potentials(events, touched)
    return p.reshape(len(events), -1).sum(1)


def _accuracy(tr: xr.Dataset) -> float | None:
    return labelled_accuracy(tr["prediction"].values, tr["label"].values)[0]


def neurobench_metrics(tr: xr.Dataset, net: LoihiNet | AkidaNet | None = None) -> NeuroBenchMetrics:
    """NeuroBench's metrics of the run ``tr``; those that need the weights need ``net``.

    ``net`` must be the network the traces were recorded from (same layers and sizes).
    """
    target = str(tr.attrs.get("target", ""))
    if net is not None and net.target != target:
        raise ValueError(f"the traces are for target {target!r} but the network for {net.target!r}")
    if target == "akida":
        return _akida(tr, net)
    return _loihi(tr, net)


def _per_neuron_sums(tr: xr.Dataset) -> dict[str, np.ndarray]:
    """Counts of every neuron summed over the samples, per layer."""
    return {
        name: np.asarray(tr[f"spike_count_{name}"].astype(np.float64).sum("sample").values)
        for name in layer_names(tr)
    }


def _loihi(tr: xr.Dataset, net: LoihiNet | None) -> NeuroBenchMetrics:
    names = layer_names(tr)
    n, steps = int(tr.sizes["sample"]), int(tr.sizes["step"])
    sums = _per_neuron_sums(tr)
    neurons = {name: len(sums[name]) for name in names[1:]}
    cells = steps * sum(neurons.values())
    spikes = sum(float(sums[name].sum()) for name in names[1:]) / n
    metrics: dict[str, object] = {
        "Footprint": None,
        "ConnectionSparsity": None,
        "ActivationSparsity": 1.0 - spikes / cells if cells else 0.0,
        "SynapticOperations": None,
        "MembraneUpdates": float(cells),
        "NeuronOperations": None,
        "ClassificationAccuracy": _accuracy(tr),
    }
    chip = {"spikes": spikes, "compartment_updates": float(cells)}
    notes = [
        "MembraneUpdates counts every compartment at every step, as Loihi updates them; "
        "NeuroBench counts a neuron only in steps its membrane changed"
    ]
    if net is None:
        notes.append(_NEEDS_NET)
        return NeuroBenchMetrics("loihi", n, steps, metrics, chip, notes)
    connections = loihi_connections(net)
    entries = sum(w.size for _, _, w in connections)
    nonzero = sum(int(np.count_nonzero(w)) for _, _, w in connections)
    effective = sum(float(sums[s] @ np.count_nonzero(w, axis=0)) for s, _, w in connections) / n
    stored = sum(
        float(sums[p.source] @ np.bincount(p.pre, minlength=len(sums[p.source])))
        for layer in net.layers
        for p in layer.projections
    )
    ops = {"Effective Neuron Ops": 0.0, "Neuron Dense Ops": 0.0}
    for layer in net.layers:
        kind = "Leaky" if layer.decay_u == DECAY_ONE else "Synaptic"
        per_update = NEURON_OPERATIONS[kind][layer.reset]
        ops["Effective Neuron Ops"] += per_update * layer.size * steps
        ops["Neuron Dense Ops"] += per_update * layer.size * steps
    metrics.update(
        Footprint=FLOAT32_BYTES * (entries + sum(neurons.values())),
        ConnectionSparsity=1.0 - nonzero / entries if entries else 0.0,
        SynapticOperations={
            "Effective_MACs": 0.0,
            "Effective_ACs": effective,
            "Dense": float(steps * entries),
        },
        NeuronOperations=ops,
    )
    chip.update(
        synaptic_ops=stored / n,
        synapses=float(sum(len(p.pre) for layer in net.layers for p in layer.projections)),
    )
    notes.append(
        "every Loihi input is a spike, so all synaptic operations are accumulates (ACs); "
        "synaptic_ops (the chip's) counts stored synapses, Effective_ACs non-zero weights"
    )
    return NeuroBenchMetrics("loihi", n, steps, metrics, chip, notes)


def _akida(tr: xr.Dataset, net: AkidaNet | None) -> NeuroBenchMetrics:
    names = layer_names(tr)
    n = int(tr.sizes["sample"])
    acts = {name: count_array(tr, name) for name in names}
    cells = sum(acts[name].shape[1] for name in names[1:])
    events = sum(float(np.count_nonzero(acts[name])) for name in names[1:]) / n
    metrics: dict[str, object] = {
        "Footprint": None,
        "ConnectionSparsity": None,
        "ActivationSparsity": 1.0 - events / cells if cells else 0.0,
        "SynapticOperations": None,
        "MembraneUpdates": float(cells),
        "NeuronOperations": None,
        "ClassificationAccuracy": _accuracy(tr),
    }
    chip = {"events": events, "input_events": float(np.count_nonzero(acts[names[0]])) / n}
    notes = [
        "Akida runs one frame per sample: an activation is a multi-bit value (1-bit "
        "layers: a spike), ActivationSparsity counts the zero ones; MembraneUpdates is "
        "one potential per neuron; NeuronOperations has no Akida counterpart (no "
        "membrane kept between frames)"
    ]
    if net is None:
        notes.append(_NEEDS_NET)
        return NeuroBenchMetrics("akida", n, 1, metrics, chip, notes)
    weights = [w for layer in net.layers for w in (layer.weights, layer.pointwise) if w.size]
    entries = sum(w.size for w in weights)
    macs = acs = dense = 0.0
    shape = net.input_shape
    for layer, prev in zip(net.layers, names[:-1], strict=True):
        x = acts[prev].reshape(n, *shape)
        ops = float(akida_synaptic_ops(layer, x).sum()) / n
        if np.isin(x, (-1, 0, 1)).all():
            acs += ops
        else:
            macs += ops
        dense += float(akida_synaptic_ops(layer, np.ones((1, *shape)), every=True)[0])
        shape = layer.output_shape
    metrics.update(
        Footprint=FLOAT32_BYTES * (entries + sum(layer.filters for layer in net.layers)),
        ConnectionSparsity=1.0 - sum(np.count_nonzero(w) for w in weights) / entries,
        SynapticOperations={"Effective_MACs": macs, "Effective_ACs": acs, "Dense": dense},
    )
    chip.update(synaptic_ops=macs + acs, weight_bytes=_akida_weight_bytes(net))
    notes.append(
        "synaptic operations are events x the non-zero weights each touches (Akida's "
        "count); NeuroBench calls them MACs where a layer's inputs are multi-bit"
    )
    return NeuroBenchMetrics("akida", n, 1, metrics, chip, notes)


def _akida_weight_bytes(net: AkidaNet) -> float:
    """Bytes of the weights at the chip's widths (the input layer's at its input bits)."""
    bits = sum(
        (layer.weights.size + layer.pointwise.size) * layer.weight_bits for layer in net.layers
    )
    return bits / 8
