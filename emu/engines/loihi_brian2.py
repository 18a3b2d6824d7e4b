"""Brian2 code generation of Loihi compartments with integer state, exact to the chip's arithmetic.

All layers share one NeuronGroup of int64 state (layers at consecutive index offsets), updated
once per 1 ms step in the ``groups`` slot by the equations of :mod:`converters.chips.loihi`.
One Synapses object per source group carries every projection, sorted by source: a spike
adds ``w_eff`` to the target's ``inp`` in the ``synapses`` slot of the same step, which the
next step's update consumes (one-step delay). Sources with identical synapse rows (pooling
windows) are summed first and delivered once (:mod:`emu.engines.fanout`). On ``cpp_standalone``,
convolutional projections are delivered by their shared kernels instead of explicit
synapses (:mod:`emu.engines.conv_delivery`), adding the same integers in the same slot; the
runtime and ``cuda_standalone`` devices keep explicit synapses. Samples run back to back
in one simulation: every ``timesteps`` steps a ``start``-slot operation clears the state and
loads the next sample's input.

Spike-train inputs (``encoding="spikes"``) reach the input neurons as a raster packed into
16 bits per value of a TimedArray (one row per step), which a standalone build takes at
run time: one binary serves every batch of spike trains.
"""

from __future__ import annotations

import brian2
import numpy as np

from converters.chips.loihi import MANT_SCALE, LoihiNet, effective_weights, input_seeds
from converters.chips.tree import array_digest

from ..traces.records import BatchRecord
from . import loihi_equations as eq
from .brian2_engine import Brian2Engine
from .conv_delivery import ConvDelivery, conv_projection, finds_convolutions
from .fanout import share_fanout
from .loihi_engine import LoihiEngine
from .settings import RunSettings
from .standalone import StableClock

__all__ = ["LoihiBackend"]


class LoihiBackend(LoihiEngine, Brian2Engine):
    """Runs batches of samples of a LoihiNet on a Brian2 device (``settings.device``).

    ``cpp_standalone`` and ``cuda_standalone`` builds are compiled once per topology and
    build settings; ``runtime`` uses Brian2's numpy target. The last batch is padded.
    """

    def __init__(self, net: LoihiNet, settings: RunSettings):
        super().__init__(net, settings)
        self.layers = net.all_layers()
        self.index = {layer.name: k for k, layer in enumerate(self.layers)}
        self.offsets = np.cumsum([0] + [layer.size for layer in self.layers])
        # rate-coded and spike-train inputs live in their own generator group; compartments
        # start after it
        self.first_compartment = int(self.offsets[1]) if net.input.encoding != "bias" else 0
        self.conv = self._conv_delivery()
        self.synapses = self._synapses()
        self.fanout = share_fanout(*self.synapses)
        self._make_build()

    def _topology(self) -> tuple:
        # the equations and dtypes of this module are covered by the source digest
        return (
            self.net.input.encoding,
            self.net.timesteps,
            [(layer.name, layer.size, layer.reset) for layer in self.layers],
            array_digest(
                *self.synapses[:2],
                self.fanout.direct,
                self.fanout.members,
                self.fanout.cells,
                self.fanout.cell_pre,
                self.fanout.cell_post,
            ),
            array_digest(*self.conv.tables.values()) if self.conv else None,
        )

    # --- Brian2 objects -------------------------------------------------------------

    def _construct(
        self, batch: int, inputs: dict[str, np.ndarray] | None = None
    ) -> tuple[list, object]:
        """Create the Brian2 objects for ``batch`` samples back to back.

        All layers share one NeuronGroup (``compartments``, layers at consecutive offsets)
        and one Synapses object per source group, which keeps the generated code small.
        Every object runs on explicit clocks (:class:`StableClock`). ``inputs`` fills the
        input TimedArrays (runtime); a standalone build gets placeholders that each run
        replaces through ``run_args``. The run lasts one step beyond the batch so that the
        counters of the last sample are recorded.
        """
        T = self.net.timesteps
        sample_dt = T * brian2.ms
        step = StableClock(brian2.ms, name="step_clock")
        per_sample = StableClock(sample_dt, name="sample_clock")
        timed = self._timed_arrays(batch, inputs or {})
        groups = self._groups(timed, step, per_sample)
        comp = groups[-1]
        objs = [comp, *groups[:-1]] + self._monitors(groups, step, per_sample)
        objs += self._projections(groups, comp, step)
        if self.conv:
            objs += self.conv.objects(groups, step)
        self._objects = {o.name: o for o in objs} | timed
        self._set_parameters()
        return objs, (batch * T + 1) * brian2.ms

    def _groups(self, timed: dict, step: brian2.Clock, per_sample: brian2.Clock) -> list:
        """The input generator (if any) and the compartments, in global index order."""
        encoding = self.net.input.encoding
        n_in = self.net.input.size
        comp = brian2.NeuronGroup(
            self.offsets[-1] - self.first_compartment,
            eq.COMPARTMENT_MODEL,
            threshold="v > vth",
            reset=eq.RESET_CODE,
            dtype=eq.INT64,
            namespace=timed,
            clock=step,
            name="compartments",
        )
        comp.run_regularly(eq.COMPARTMENT_UPDATE, when="groups", name="compartments_update")
        load = "u = 0\nv = 0\ninp = 0\nrefractory_left = 0\ncount = 0"
        if encoding == "bias":
            load += f"\nbias = int(i < {n_in}) * int(input_levels(t, i % {n_in})) * {MANT_SCALE} + int(i >= {n_in}) * bias"
        comp.run_regularly(load, clock=per_sample, when="start", order=1, name="compartments_load")
        if encoding == "bias":
            return [comp]
        return [self._generator(timed, step, per_sample), comp]

    def _timed_arrays(self, batch: int, inputs: dict[str, np.ndarray]) -> dict:
        """The input TimedArrays: per sample levels (and seeds), or per step packed spikes."""
        T, n_in = self.net.timesteps, self.net.input.size
        if self.net.input.encoding == "spikes":
            shape = (batch * T + 1, -(-n_in // eq.SPIKE_WORD_BITS))
            values = inputs.get("input_spike_bits", np.zeros(shape))
            return {
                "input_spike_bits": brian2.TimedArray(values, dt=brian2.ms, name="input_spike_bits")
            }
        placeholder = np.zeros((batch, n_in))
        return {
            name: brian2.TimedArray(inputs.get(name, placeholder), dt=T * brian2.ms, name=name)
            for name in ("input_levels", "input_seeds")
        }

    def _generator(self, timed: dict, step, per_sample) -> brian2.NeuronGroup:
        """The input neurons of a rate-coded or spike-train input."""
        rate = self.net.input.encoding == "rate"
        gen = brian2.NeuronGroup(
            self.net.input.size,
            eq.GENERATOR_MODEL if rate else "count : integer",
            threshold=eq.GENERATOR_THRESHOLD if rate else eq.SPIKE_THRESHOLD,
            reset="count += 1",
            dtype=eq.INT64,
            namespace=timed,
            clock=step,
            name="generator",
        )
        if rate:
            gen.run_regularly(eq.GENERATOR_UPDATE, when="groups", name="generator_update")
        load = "rng = int(input_seeds(t, i))\nlevel = int(input_levels(t, i))\n" if rate else ""
        gen.run_regularly(
            load + "count = 0", clock=per_sample, when="start", order=1, name="generator_load"
        )
        return gen

    def _monitors(self, groups: list, step: brian2.Clock, per_sample: brian2.Clock) -> list:
        """Per-step spike tallies, per-sample counts, output spikes, events and probes."""
        comp = groups[-1]
        tally = brian2.NeuronGroup(
            len(self.layers), "spikes_now : integer", clock=step, name="tally"
        )
        tally.run_regularly("spikes_now = 0", when="start", name="tally_clear")
        objs: list = [
            tally,
            brian2.StateMonitor(tally, "spikes_now", record=True, when="end", name="tally_monitor"),
        ]
        for g in groups:
            objs.append(
                brian2.StateMonitor(
                    g, "count", record=True, clock=per_sample, when="start", order=0,
                    name=f"{g.name}_counts",
                )
            )  # fmt: skip
            index = np.arange(g.N) + self._group_offset(g.name)
            layer_of = np.searchsorted(self.offsets, index, side="right") - 1
            to_tally = brian2.Synapses(
                g, tally, on_pre="spikes_now_post += 1", clock=step, name=f"{g.name}_tally"
            )
            to_tally.connect(i=np.arange(g.N), j=layer_of)
            objs.append(to_tally)
            if self.settings.record_events:
                objs.append(brian2.SpikeMonitor(g, name=f"{g.name}_spikes"))
        out_start = self.offsets[-2] - self.first_compartment
        out_stop = out_start + self.layers[-1].size
        objs.append(brian2.SpikeMonitor(comp[out_start:out_stop], name="output_spikes"))
        if self.probe:
            first = self.first_compartment
            idx = np.concatenate(
                [self.offsets[self.index[k]] - first + v for k, v in self.probe.items()]
            )
            objs.append(
                brian2.StateMonitor(comp, ["u", "v"], record=idx, when="end", name="probes")
            )
        return objs

    def _projections(self, groups: list, comp: brian2.NeuronGroup, step: brian2.Clock) -> list:
        """Synapses of every projection: direct ones, and those shared through fan-out cells.

        A cell sums its sources' spikes after the ``synapses`` slot and delivers the sum
        times its weights in the same step (see :mod:`emu.engines.fanout`).
        """
        pre, post, _ = self.synapses
        fan = self.fanout
        objs: list = []
        for g in groups:
            offset = self._group_offset(g.name)
            sel = fan.direct & (pre >= offset) & (pre < offset + g.N)
            if sel.any():
                syn = brian2.Synapses(
                    g,
                    comp,
                    "w : integer (constant)",
                    on_pre="inp_post += w",
                    dtype={"w": eq.SYNAPSE_DTYPE},
                    clock=step,
                    name=f"{g.name}_synapses",
                )
                syn.connect(i=pre[sel] - offset, j=post[sel] - self.first_compartment)
                objs.append(syn)
        if not fan.n_cells:
            return objs
        cells = brian2.NeuronGroup(
            fan.n_cells,
            "acc : integer",
            threshold="acc > 0",
            reset="acc = 0",
            dtype={"acc": np.int64},
            clock=step,
            name="fanout",
        )
        cells.thresholder["spike"].when = "after_synapses"
        objs.append(cells)
        for g in groups:
            offset = self._group_offset(g.name)
            sel = (fan.members >= offset) & (fan.members < offset + g.N)
            if sel.any():
                gather = brian2.Synapses(
                    g, cells, on_pre="acc_post += 1", clock=step, name=f"{g.name}_gather"
                )
                gather.connect(i=fan.members[sel] - offset, j=fan.cells[sel])
                objs.append(gather)
        deliver = brian2.Synapses(
            cells,
            comp,
            "w : integer (constant)",
            on_pre="inp_post += w * acc_pre",
            dtype={"w": eq.SYNAPSE_DTYPE},
            clock=step,
            name="fanout_synapses",
        )
        deliver.connect(i=fan.cell_pre, j=fan.cell_post - self.first_compartment)
        deliver.pre.when = "after_synapses"
        deliver.pre.order = 1
        objs.append(deliver)
        return objs

    def _group_offset(self, name: str) -> int:
        return 0 if name == "generator" else self.first_compartment

    def _conv_delivery(self) -> ConvDelivery | None:
        """The convolutional projections, delivered by their kernels (``cpp_standalone`` only).

        Other devices, and projections that are no convolution, keep explicit synapses.
        """
        if self.settings.device != "cpp_standalone":
            return None
        found = {}
        search = finds_convolutions(self.layers)
        for k, layer in enumerate(self.layers):
            for j, p in enumerate(layer.projections):
                source = self.index[p.source]
                conv = conv_projection(
                    p, self.layers[source].shape, layer.shape,
                    int(self.offsets[source]), int(self.offsets[k]), search,
                )  # fmt: skip
                if conv is not None:
                    found[(k, j)] = conv
        if not found:
            return None
        return ConvDelivery(found, int(self.offsets[-1]), self.first_compartment)

    def _synapses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Global (pre, post, weight) of every explicit synapse, sorted by source then target.

        A spike then reads its synapses' targets and weights from one contiguous block,
        which makes propagation several times faster than the projections' target order.
        """
        kernel_driven = self.conv.projections if self.conv else {}
        parts = [
            _global_synapses(p, self.offsets[self.index[p.source]], self.offsets[k])
            for k, layer in enumerate(self.layers)
            for j, p in enumerate(layer.projections)
            if (k, j) not in kernel_driven
        ]
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
        pre, post, weight = (np.concatenate(column) for column in zip(*parts, strict=True))
        order = np.lexsort((post, pre))
        return pre[order], post[order], weight[order]

    def _synapse_weights(self) -> dict[str, np.ndarray]:
        pre, _, w = self.synapses
        direct = self.fanout.direct
        from_generator = pre < self.first_compartment
        out = {
            "compartments_synapses": w[direct & ~from_generator],
            "generator_synapses": w[direct & from_generator],
            "fanout_synapses": self.fanout.cell_weight,
        }
        return {name: weights for name, weights in out.items() if len(weights)}

    def _parameters(self) -> dict[tuple[str, str], np.ndarray]:
        """Values of every parameter variable: (object name, variable) -> array."""
        layers = self.layers[1:] if self.first_compartment else self.layers
        values = {
            ("compartments", "vth"): np.concatenate([np.full(x.size, x.vth) for x in layers]),
            ("compartments", "decay_u"): np.concatenate(
                [np.full(x.size, x.decay_u) for x in layers]
            ),
            ("compartments", "decay_v"): np.concatenate(
                [np.full(x.size, x.decay_v) for x in layers]
            ),
            ("compartments", "refractory_delay"): np.concatenate(
                [np.full(x.size, x.refractory) for x in layers]
            ),
            ("compartments", "reset_zero"): np.concatenate(
                [np.full(x.size, int(x.reset == "zero")) for x in layers]
            ),
            ("compartments", "bias"): np.concatenate([x.bias for x in layers]),
        }
        values = {k: v.astype(np.int64) for k, v in values.items()}
        for name, w in self._synapse_weights().items():
            values[(name, "w")] = w
        if self.conv:
            values[("conv_kernels", "w")] = self.conv.kernel_weights()
        return values

    def _inputs(self, levels: np.ndarray, first_sample: int) -> dict[str, np.ndarray]:
        if self.net.input.encoding == "spikes":
            return {"input_spike_bits": eq.pack_spikes(levels)}
        values = {"input_levels": levels.astype(np.float64)}
        if self.net.input.encoding == "rate":
            seeds = input_seeds(len(levels), self.net.input.size, self.settings.seed, first_sample)
            values["input_seeds"] = seeds.astype(np.float64)
        return values

    # --- recordings ---------------------------------------------------------------

    def _collect(self, batch: int) -> BatchRecord:
        T = self.net.timesteps
        o = self._objects
        counts_parts = []
        for name in ("generator", "compartments"):
            if f"{name}_counts" in o:
                c = np.asarray(o[f"{name}_counts"].count[:], np.int64)  # (neurons, batch + 1)
                counts_parts.append(c[:, 1 : batch + 1].T)
        all_counts = np.concatenate(counts_parts, axis=1).astype(np.int32)
        counts = {
            layer.name: all_counts[:, self.offsets[k] : self.offsets[k + 1]]
            for k, layer in enumerate(self.layers)
        }
        tally = np.asarray(o["tally_monitor"].spikes_now[:], np.int64)  # (layers, steps)
        per_step = tally[:, : batch * T].T.reshape(batch, T, len(self.layers)).astype(np.int32)
        out_mon = o["output_spikes"]
        sample, step = np.divmod(np.rint(np.asarray(out_mon.t_[:]) / 1e-3).astype(np.int64), T)
        neuron = np.asarray(out_mon.i[:], np.int64)
        keep = sample < batch
        output_per_step = np.zeros((batch, T, self.layers[-1].size), np.uint8)
        output_per_step[sample[keep], step[keep], neuron[keep]] = 1
        comp = o["compartments"]
        sat = np.stack([comp.u_wrap[:], comp.v_clip[:], comp.input_overflow[:]], axis=1).astype(
            np.int64
        )
        saturation = np.zeros((len(self.layers), 3), np.int64)
        for k in range(len(self.layers)):
            lo, hi = (
                self.offsets[k] - self.first_compartment,
                self.offsets[k + 1] - self.first_compartment,
            )
            if hi > 0:
                saturation[k] = sat[max(lo, 0) : hi].sum(axis=0)
        events = self._events(batch) if self.settings.record_events else None
        return BatchRecord(
            counts, per_step, output_per_step, saturation, self._probes(batch), events
        )

    def _probes(self, batch: int) -> dict[str, np.ndarray]:
        """``"<layer>.u"``/``"<layer>.v"`` -> (batch, steps, probed neurons)."""
        T = self.net.timesteps
        monitor = self._objects.get("probes")
        probes: dict[str, np.ndarray] = {}
        start = 0
        for name, idx in self.probe.items() if monitor is not None else ():
            for var in ("u", "v"):
                values = np.asarray(getattr(monitor, var)[:], np.int64)[start : start + len(idx)]
                probes[f"{name}.{var}"] = values.T[: batch * T].reshape(batch, T, len(idx))
            start += len(idx)
        return probes

    def _events(self, batch: int) -> tuple[np.ndarray, ...]:
        """(sample, step, layer, neuron) of every spike of the batch."""
        T = self.net.timesteps
        parts = []
        for name in ("generator", "compartments"):
            mon = self._objects.get(f"{name}_spikes")
            if mon is None:
                continue
            g_idx = np.asarray(mon.i[:], np.int64) + self._group_offset(name)
            smp, stp = np.divmod(np.rint(np.asarray(mon.t_[:]) / 1e-3).astype(np.int64), T)
            layer = np.searchsorted(self.offsets, g_idx, side="right") - 1
            keep = smp < batch
            parts.append((smp[keep], stp[keep], layer[keep], (g_idx - self.offsets[layer])[keep]))
        return tuple(np.concatenate([p[j] for p in parts]) for j in range(4))


def _global_synapses(p, source_offset: int, target_offset: int) -> tuple[np.ndarray, ...]:
    """(pre, post, effective weight) of a projection's synapses in global indices, written
    out once (a convolution record materializes them here)."""
    pre, post, mant = p.synapses()
    weight = effective_weights(mant, p.weight_exp)
    return pre.astype(np.int64) + source_offset, post.astype(np.int64) + target_offset, weight
