"""Brian2 code generation of Loihi compartments with integer state, exact to the chip's arithmetic.

Each layer is a NeuronGroup of int64 state updated once per 1 ms step in the ``groups``
slot (the equations of :mod:`emu.loihi_reference`); a spike adds ``w_eff`` to the target's
``inp`` in the ``synapses`` slot of the same step, which the next step's update consumes
(one-step delay). Samples run back to back in one simulation: every ``timesteps`` steps a
``start``-slot operation clears the state and loads the next sample's input.
"""

from __future__ import annotations

from pathlib import Path

import brian2
import numpy as np

from converters.loihi import LoihiNet

from .loihi_reference import (
    INPUT_RANGE,
    LCG_INCREMENT,
    LCG_MODULUS,
    LCG_MULTIPLIER,
    RATE_BIN,
    U_RANGE,
    V_MAX,
    input_seeds,
)
from .records import BatchRecord
from .standalone import StandaloneBuild, build_key, runtime_scope

__all__ = ["LoihiBackend"]

COMPARTMENT_MODEL = """
u : integer
v : integer
inp : integer
refractory_left : integer
bias : integer
vth : integer
decay_u : integer
decay_v : integer
refractory_delay : integer
u_wrap : integer
v_clip : integer
input_overflow : integer
"""

COMPARTMENT_UPDATE = f"""
input_overflow += int(inp < -{INPUT_RANGE}) + int(inp >= {INPUT_RANGE})
u = int(u * (4096.0 - decay_u) / 4096.0) + inp
u_wrap += int(u < -{U_RANGE}) + int(u >= {U_RANGE})
u = (u + {U_RANGE}) % {2 * U_RANGE} - {U_RANGE}
inp = 0
v_raw = int(v * (4096.0 - decay_v) / 4096.0) + u + bias
v_clip += int(v_raw > {V_MAX}) + int(v_raw < -{V_MAX})
held = int(refractory_left > 0)
v = (1 - held) * clip(v_raw, -{V_MAX}, {V_MAX})
refractory_left = refractory_left - held
"""

RESET_CODE = {
    "zero": "v = 0\nrefractory_left = refractory_delay - 1",
    "subtract": "v = v - vth",
}

GENERATOR_MODEL = """
rng : integer
level : integer
"""
GENERATOR_UPDATE = f"rng = (rng * {LCG_MULTIPLIER} + {LCG_INCREMENT}) % {LCG_MODULUS}"
GENERATOR_THRESHOLD = f"rng // {RATE_BIN} < level"

INT64 = {
    name: np.int64
    for name in (
        "u",
        "v",
        "inp",
        "bias",
        "vth",
        "u_wrap",
        "v_clip",
        "input_overflow",
        "rng",
        "level",
    )
}


class LoihiBackend:
    """Runs batches of samples of a LoihiNet on a Brian2 device.

    Parameters
    ----------
    net
        The network.
    device
        ``"cpp_standalone"`` (compiled once per topology and batch size) or ``"runtime"``.
    cache_dir
        Where standalone builds are kept.
    batch_size
        Samples per simulation run (the last batch is padded).
    record_events, probe
        Keep the sparse spike raster; record ``u`` and ``v`` of the given neurons per layer.
    """

    target = "loihi"

    def __init__(
        self,
        net: LoihiNet,
        device: str,
        cache_dir: Path,
        batch_size: int = 128,
        record_events: bool = False,
        probe: dict[str, list[int]] | None = None,
        seed: int = 0,
    ):
        self.net = net
        self.device = device
        self.batch_size = batch_size
        self.record_events = record_events
        self.probe = {k: np.asarray(v, dtype=int) for k, v in (probe or {}).items()}
        unknown = set(self.probe) - set(net.layer_names)
        if unknown:
            raise ValueError(
                f"cannot probe unknown layers {sorted(unknown)}; layers: {net.layer_names}"
            )
        self.seed = seed
        self.layers = net.all_layers()
        self._objects: dict[str, object] = {}
        self.build: StandaloneBuild | None = None
        if device != "runtime":
            key = build_key(
                "loihi",
                net.input.encoding,
                net.timesteps,
                batch_size,
                sorted((k, v.tobytes()) for k, v in self.probe.items()),
                [(layer.name, layer.size, layer.reset) for layer in self.layers],
                [
                    (p.source, _digest_array(p.pre), _digest_array(p.post))
                    for layer in self.layers
                    for p in layer.projections
                ],
            )
            self.build = StandaloneBuild(
                key, cache_dir, lambda: self._construct(batch_size), device
            )

    @property
    def steps(self) -> int:
        return self.net.timesteps

    def layer_names(self) -> list[str]:
        return self.net.layer_names

    def encode(self, samples: np.ndarray) -> np.ndarray:
        return self.net.input.levels(samples)

    def attrs(self) -> dict:
        return {
            "target": "loihi",
            "net_digest": self.net.digest(),
            "timesteps": self.net.timesteps,
            "dt": 1.0,
            "dt_unit": "Loihi algorithmic timestep",
            "input_encoding": self.net.input.encoding,
            "reset": sorted({layer.reset for layer in self.net.layers}),
            "seed": self.seed,
        }

    # --- Brian2 objects -------------------------------------------------------------

    def _construct(
        self, batch: int, inputs: dict[str, np.ndarray] | None = None
    ) -> tuple[list, object]:
        """Create the Brian2 objects for ``batch`` samples back to back.

        ``inputs`` fills the input TimedArrays (runtime); a standalone build gets
        placeholders that each run replaces through ``run_args``.
        """
        T = self.net.timesteps
        sample_dt = T * brian2.ms
        placeholder = np.zeros((batch, self.net.input.size))
        inputs = inputs or {}
        timed = {
            name: brian2.TimedArray(inputs.get(name, placeholder), dt=sample_dt, name=name)
            for name in ("input_levels", "input_seeds")
        }
        objs: list = []
        groups = []
        for k, layer in enumerate(self.layers):
            if k == 0 and self.net.input.encoding == "rate":
                g = brian2.NeuronGroup(
                    layer.size,
                    GENERATOR_MODEL,
                    threshold=GENERATOR_THRESHOLD,
                    reset="",
                    dtype=INT64,
                    namespace=timed,
                    name="layer0",
                )
                g.run_regularly(GENERATOR_UPDATE, when="groups", name="layer0_update")
                g.run_regularly(
                    "rng = int(input_seeds(t, i))\nlevel = int(input_levels(t, i))",
                    dt=sample_dt,
                    when="start",
                    name="layer0_load",
                )
            else:
                g = brian2.NeuronGroup(
                    layer.size,
                    COMPARTMENT_MODEL,
                    threshold="v > vth",
                    reset=RESET_CODE[layer.reset],
                    dtype=INT64,
                    namespace=timed,
                    name=f"layer{k}",
                )
                g.run_regularly(COMPARTMENT_UPDATE, when="groups", name=f"layer{k}_update")
                load = "u = 0\nv = 0\ninp = 0\nrefractory_left = 0"
                if k == 0:
                    load += "\nbias = int(input_levels(t, i)) * 64"
                g.run_regularly(load, dt=sample_dt, when="start", name=f"layer{k}_load")
            groups.append(g)
            objs.append(g)
            objs.append(brian2.SpikeMonitor(g, name=f"spikes{k}"))
            if layer.name in self.probe:
                idx = self.probe[layer.name]
                objs.append(
                    brian2.StateMonitor(g, ["u", "v"], record=idx, when="end", name=f"probe{k}")
                )
        index = {layer.name: k for k, layer in enumerate(self.layers)}
        for k, layer in enumerate(self.layers):
            for j, p in enumerate(layer.projections):
                s = brian2.Synapses(
                    groups[index[p.source]],
                    groups[k],
                    "w : integer (constant)",
                    on_pre="inp_post += w",
                    dtype={"w": np.int64},
                    name=f"proj{k}_{j}",
                )
                s.connect(i=p.pre, j=p.post)
                objs.append(s)
        self._objects = {o.name: o for o in objs} | timed
        self._set_parameters()
        return objs, batch * T * brian2.ms

    def _parameters(self) -> dict[tuple[str, str], np.ndarray]:
        """Values of every parameter variable: (object name, variable) -> array."""
        values: dict[tuple[str, str], np.ndarray] = {}
        rate = self.net.input.encoding == "rate"
        for k, layer in enumerate(self.layers):
            if k == 0 and rate:
                continue
            name = f"layer{k}"
            values[(name, "vth")] = np.full(layer.size, layer.vth, np.int64)
            values[(name, "decay_u")] = np.full(layer.size, layer.decay_u, np.int64)
            values[(name, "decay_v")] = np.full(layer.size, layer.decay_v, np.int64)
            values[(name, "refractory_delay")] = np.full(layer.size, layer.refractory, np.int64)
            if k > 0:
                values[(name, "bias")] = layer.bias.astype(np.int64)
            for j, p in enumerate(layer.projections):
                values[(f"proj{k}_{j}", "w")] = p.weight_eff.astype(np.int64)
        return values

    def _set_parameters(self) -> None:
        for (obj, var), value in self._parameters().items():
            setattr(self._objects[obj], var, value)

    def _inputs(self, levels: np.ndarray, first_sample: int) -> dict[str, np.ndarray]:
        values = {"input_levels": levels.astype(np.float64)}
        if self.net.input.encoding == "rate":
            seeds = input_seeds(len(levels), self.net.input.size, self.seed, first_sample)
            values["input_seeds"] = seeds.astype(np.float64)
        return values

    # --- running --------------------------------------------------------------------

    def run_batch(
        self, levels: np.ndarray, first_sample: int = 0, results: str = "results"
    ) -> BatchRecord:
        """Simulate a batch of encoded samples; ``first_sample`` selects rate-code seeds."""
        n = len(levels)
        if self.build is None:
            with runtime_scope():
                objs, duration = self._construct(n, self._inputs(levels, first_sample))
                brian2.Network(objs).run(duration)
                return self._collect(n)
        if n > self.batch_size:
            raise ValueError(
                f"batch of {n} samples exceeds the build's batch size {self.batch_size}"
            )
        padded = np.zeros((self.batch_size, levels.shape[1]), levels.dtype)
        padded[:n] = levels
        self.build.activate()
        run_args: dict = {
            getattr(self._objects[obj], var): value
            for (obj, var), value in self._parameters().items()
        }
        for name, value in self._inputs(padded, first_sample).items():
            run_args[self._objects[name]] = value
        self.build.run(run_args, results)
        return self._collect(self.batch_size).take(n)

    def _collect(self, batch: int) -> BatchRecord:
        T = self.net.timesteps
        n_layers = len(self.layers)
        counts = {}
        per_step = np.zeros((batch, T, n_layers), np.int32)
        out_size = self.layers[-1].size
        output_per_step = np.zeros((batch, T, out_size), np.uint8)
        events = []
        saturation = np.zeros((n_layers, 3), np.int64)
        for k, layer in enumerate(self.layers):
            mon = self._objects[f"spikes{k}"]
            neuron = np.asarray(mon.i[:], np.int64)
            step_abs = np.rint(np.asarray(mon.t_[:]) / 1e-3).astype(np.int64)
            sample, step = np.divmod(step_abs, T)
            keep = sample < batch
            sample, step, neuron = sample[keep], step[keep], neuron[keep]
            c = np.zeros((batch, layer.size), np.int32)
            np.add.at(c, (sample, neuron), 1)
            counts[layer.name] = c
            np.add.at(per_step[:, :, k], (sample, step), 1)
            if k == n_layers - 1:
                output_per_step[sample, step, neuron] = 1
            if self.record_events:
                events.append((sample, step, np.full(len(sample), k), neuron))
            g = self._objects[f"layer{k}"]
            if hasattr(g, "u_wrap"):
                saturation[k] = [
                    int(np.sum(g.u_wrap[:])),
                    int(np.sum(g.v_clip[:])),
                    int(np.sum(g.input_overflow[:])),
                ]
        probes = {}
        for k, layer in enumerate(self.layers):
            mon = self._objects.get(f"probe{k}")
            if mon is not None:
                for var in ("u", "v"):
                    values = np.asarray(getattr(mon, var)[:], np.int64)  # (probed, steps)
                    probes[f"{layer.name}.{var}"] = values.T[: batch * T].reshape(batch, T, -1)
        ev = (
            tuple(np.concatenate([e[j] for e in events]) for j in range(4))
            if self.record_events
            else None
        )
        return BatchRecord(counts, per_step, output_per_step, saturation, probes, ev)


def _digest_array(a: np.ndarray) -> str:
    return build_key(a.tobytes())
