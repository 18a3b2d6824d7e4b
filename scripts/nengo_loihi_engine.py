"""Run a Loihi network exported by scripts/bench_nengo.py in nengo-loihi's emulator: spike counts, seconds.

nengo-loihi 1.1 needs ``numpy<2``, so this script runs in its own virtual environment and
imports nothing of neuroemu::

    python -m venv /opt/nengo-loihi-venv
    /opt/nengo-loihi-venv/bin/pip install nengo-loihi==1.1.0 nengo==3.2.0 "numpy<2" scipy
    /opt/nengo-loihi-venv/bin/python scripts/nengo_loihi_engine.py NET.npz OUT.npz

``NET.npz`` (written by ``bench.export_for_nengo``) holds the layers (``meta``: JSON of
sizes, thresholds, decays, refractory periods, reset to zero, no bias), each projection's
effective integer weights as a CSR matrix (source x target) and the input spike events
(sample, step, neuron). Each layer becomes a ``nengo_loihi.block.LoihiBlock`` of int32
compartments (``decay_u`` written as δu - 1: the emulator adds the one back), each
projection a ``Synapse`` with those integer weights fed by an ``Axon`` of its source, the
input a ``SpikeInput``; ``EmulatorInterface`` runs one sample at a time from a fresh state.
An input spike of step t enters at emulator step t + 1 and, as every spike there, reaches
its targets one step later. ``OUT.npz`` gets ``counts_<layer>`` (samples x size),
``seconds`` (the runs), ``build_s`` (the blocks) and ``warnings`` (JSON: what the
emulator warned, e.g. overflows).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import scipy.sparse as sp

__all__ = ["build", "run"]

V_MAX = 2**23 - 1  # the chip clips v to [-V_MAX, V_MAX]


def _block(layer: dict):
    """A LoihiBlock of ``layer``'s compartments, in the chip's integers."""
    from nengo_loihi.block import LoihiBlock

    block = LoihiBlock(layer["size"], label=layer["name"])
    c = block.compartment
    n = layer["size"]
    c.decay_u = np.full(n, layer["decay_u"] - 1, np.int32)
    c.decay_v = np.full(n, layer["decay_v"], np.int32)
    c.vth = np.full(n, layer["vth"], np.int32)
    c.bias = np.zeros(n, np.int32)
    c.refract_delay = np.full(n, layer["refractory"], np.int32)
    c.vmin, c.vmax = -V_MAX, V_MAX
    c.scale_u = c.scale_v = False
    return block


def _synapse(weights: sp.csr_matrix):
    """A Synapse with one axon per source neuron and the integer weights of ``weights``."""
    from nengo_loihi.block import Synapse
    from nengo_loihi.builder.discretize import array_to_int

    syn = Synapse(weights.shape[0])
    syn.set_weights(weights.astype(np.float32))
    exact = [
        weights.data[weights.indptr[i] : weights.indptr[i + 1]] for i in range(weights.shape[0])
    ]
    for w, integers in zip(syn.weights, exact, strict=True):
        array_to_int(w, integers)  # nengo-loihi's own in-place float -> int32 step
    return syn


def build(meta: dict, arrays) -> tuple:
    """The nengo-loihi Model of the exported network; its blocks by name and its SpikeInput."""
    from nengo_loihi.block import Axon
    from nengo_loihi.builder import Model
    from nengo_loihi.inputs import SpikeInput

    model = Model()
    sources = {meta["input"]["name"]: SpikeInput(meta["input"]["size"], label="input")}
    model.add_input(sources[meta["input"]["name"]])
    blocks = {}
    for layer in meta["layers"]:
        if layer["reset"] != "zero":
            raise ValueError(f"layer {layer['name']!r}: the emulator resets to zero only")
        blocks[layer["name"]] = sources[layer["name"]] = _block(layer)
        model.add_block(blocks[layer["name"]])
    for k, (target, source) in enumerate(meta["projections"]):
        weights = sp.csr_matrix(
            (arrays[f"w{k}_data"], arrays[f"w{k}_indices"], arrays[f"w{k}_indptr"]),
            shape=(sources[source].n_neurons, blocks[target].n_neurons),
        )
        syn = _synapse(weights)
        blocks[target].add_synapse(syn)
        axon = Axon(weights.shape[0], label=f"{source}->{target}")
        axon.target = syn
        sources[source].add_axon(axon)
    return model, blocks, sources[meta["input"]["name"]]


def run(model, blocks: dict, spike_input, arrays, n_samples: int, steps: int) -> tuple:
    """Spike counts per layer (samples x size) and the seconds of the runs, one sample at a time."""
    from nengo_loihi.emulator import EmulatorInterface

    counts = {name: np.zeros((n_samples, b.n_neurons), np.int32) for name, b in blocks.items()}
    sample, step, neuron = (arrays[f"input_{k}"] for k in ("sample", "step", "neuron"))
    seconds = 0.0
    for s in range(n_samples):
        start = time.perf_counter()
        spike_input.spikes.clear()
        mine = sample == s
        for t in range(steps):
            spike_input.add_spikes(t + 1, neuron[mine & (step == t)].tolist())
        emulator = EmulatorInterface(model, seed=0)
        emulator.run_steps(steps)
        seconds += time.perf_counter() - start
        for name, block in blocks.items():
            counts[name][s] = emulator.compartment.spike_count[emulator.block_info.slices[block]]
        emulator.close()
    return counts, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "net", help="the network and input spikes (npz from scripts/bench_nengo.py)"
    )
    parser.add_argument("out", help="where to write counts_<layer>, seconds and build_s (npz)")
    args = parser.parse_args()
    arrays = np.load(args.net, allow_pickle=False)
    meta = json.loads(str(arrays["meta"]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore")  # numpy's NaN-to-int casts of nengo's placeholders
        warnings.simplefilter("always", UserWarning)  # the emulator's (e.g. overflows)
        start = time.perf_counter()
        model, blocks, spike_input = build(meta, arrays)
        build_s = time.perf_counter() - start
        counts, seconds = run(
            model, blocks, spike_input, arrays, meta["samples"], meta["timesteps"]
        )
    notes = sorted({str(w.message) for w in caught})
    np.savez(
        args.out,
        seconds=seconds,
        build_s=build_s,
        warnings=json.dumps(notes),
        **{f"counts_{k}": v for k, v in counts.items()},
    )
    print(
        f"nengo-loihi emulator: {meta['samples']} samples in {seconds:.2f} s (build {build_s:.2f} s)"
    )
    for note in notes:
        print(f"  warning: {note}")


if __name__ == "__main__":
    main()
