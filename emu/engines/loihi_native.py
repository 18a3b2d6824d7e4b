"""The ``native`` device of Loihi networks: a C++ engine compiled once per machine, every network as run-time data.

The engine (``emu/engines/native/loihi_engine.cpp``, built by
:func:`emu.engines.native.engine_library`)
runs whole batches of samples, each through all its steps, in integer arithmetic that is
:func:`emu.engines.loihi_reference.simulate`'s integer for integer: u, v, refractory periods, both
resets, bias, rate and spike-train inputs, and the saturation counts. Convolutions are
delivered by their kernels, pooled sources once per group (:mod:`emu.engines.native.loihi_plan`).
A new topology costs only its tables (no compile); samples can run on several OpenMP
threads (``threads``, default ``$NEUROEMU_NATIVE_THREADS`` or 1, at most the CPUs); Ctrl-C
ends a batch at once (the call runs on a thread of its own).
"""

from __future__ import annotations

import ctypes

import numpy as np

from converters.chips.loihi import LoihiNet, input_seeds

from ..traces.records import BatchRecord
from .loihi_engine import LoihiEngine
from .native import engine_library
from .native.library import call_interruptibly, native_threads
from .native.loihi_plan import Net, plan
from .settings import RunSettings

__all__ = ["LoihiNativeBackend", "Batch"]

_P32 = ctypes.POINTER(ctypes.c_int32)


class Batch(ctypes.Structure):
    _fields_ = [
        ("n", ctypes.c_int32),
        ("threads", ctypes.c_int32),
        ("levels", _P32),
        ("seeds", ctypes.POINTER(ctypes.c_int64)),
        ("raster", ctypes.POINTER(ctypes.c_uint8)),
        ("counts", _P32),
        ("per_step", _P32),
        ("output", ctypes.POINTER(ctypes.c_uint8)),
        ("saturation", ctypes.POINTER(ctypes.c_int64)),
        ("probe_u", _P32),
        ("probe_v", _P32),
        ("event_capacity", ctypes.c_int64),
        ("events", _P32),
    ]


def _pointer(a: np.ndarray | None, kind):
    return None if a is None else a.ctypes.data_as(ctypes.POINTER(kind))


class LoihiNativeBackend(LoihiEngine):
    """Runs batches of a LoihiNet on the native engine; records what
    :class:`emu.engines.loihi_brian2.LoihiBackend` records.

    Nothing is built per network (``build`` is None); ``batch_size`` only caps a batch.
    """

    def __init__(self, net: LoihiNet, settings: RunSettings, threads: int | None = None):
        super().__init__(net, settings)
        self.library, self.engine = engine_library(settings.cache())
        self._run = self.library.neuroemu_loihi_run
        self._run.argtypes = [ctypes.POINTER(Net), ctypes.POINTER(Batch)]
        self._run.restype = ctypes.c_int64
        self.plan = plan(net, self.probe)
        self.threads = native_threads(threads)
        self._events_per_sample = 1024

    def run_batch(self, levels: np.ndarray, first_sample: int = 0) -> BatchRecord:
        """Simulate a batch of encoded samples; ``first_sample`` places its rate-input seeds."""
        levels = self.check_batch(levels)
        n = len(levels)
        inputs = self._inputs(levels, first_sample)
        capacity = n * self._events_per_sample if self.settings.record_events else 0
        out, total = self._call(inputs, n, capacity)
        if total > capacity and self.settings.record_events:
            out, total = self._call(inputs, n, total)  # the first guess was too small
        if self.settings.record_events:
            self._events_per_sample = max(1024, int(1.25 * total / max(n, 1)))
        return self._record(out, n, total)

    def _inputs(self, levels: np.ndarray, first_sample: int) -> dict[str, np.ndarray]:
        """The batch's input arrays in the engine's neuron order (shapes checked: the engine
        reads them unchecked)."""
        order = self.plan.order[0]
        size, steps = self.net.input.size, self.net.timesteps
        shape = (steps, size) if self.net.input.encoding == "spikes" else (size,)
        if levels.shape[1:] != shape:
            raise ValueError(
                f"encoded inputs must have shape (batch, {', '.join(map(str, shape))}), "
                f"got {levels.shape}"
            )
        if self.net.input.encoding == "spikes":
            return {"raster": np.ascontiguousarray(levels[:, :, order] != 0, np.uint8)}
        inputs = {"levels": np.ascontiguousarray(levels[:, order], np.int32)}
        if self.net.input.encoding == "rate":
            seeds = input_seeds(len(levels), self.net.input.size, self.settings.seed, first_sample)
            inputs["seeds"] = np.ascontiguousarray(seeds[:, order], np.int64)
        return inputs

    def _call(self, inputs: dict, n: int, capacity: int) -> tuple[dict, int]:
        """One engine call on fresh output arrays: the arrays and the batch's spike count."""
        T, L = self.net.timesteps, len(self.plan.order)
        n_probes = sum(len(v) for v in self.plan.probes.values())
        out = {
            "counts": np.zeros((n, int(self.plan.offsets[-1])), np.int32),
            "per_step": np.zeros((n, T, L), np.int32),
            "output": np.zeros((n, T, self.net.output.size), np.uint8),
            "saturation": np.zeros((L, 3), np.int64),
            "probe_u": np.zeros((n, T, n_probes), np.int32),
            "probe_v": np.zeros((n, T, n_probes), np.int32),
            "events": np.zeros((capacity, 4), np.int32) if capacity else None,
        }
        batch = Batch(n=n, threads=self.threads, event_capacity=capacity)
        batch.levels = _pointer(inputs.get("levels"), ctypes.c_int32)
        batch.seeds = _pointer(inputs.get("seeds"), ctypes.c_int64)
        batch.raster = _pointer(inputs.get("raster"), ctypes.c_uint8)
        for name in ("counts", "per_step", "probe_u", "probe_v", "events"):
            setattr(batch, name, _pointer(out[name], ctypes.c_int32))
        batch.output = _pointer(out["output"], ctypes.c_uint8)
        batch.saturation = _pointer(out["saturation"], ctypes.c_int64)
        net = ctypes.byref(self.plan.net)
        total = call_interruptibly(
            self._run, net, ctypes.byref(batch), keep=(out, inputs, self.plan, batch)
        )
        return out, int(total)

    def _record(self, out: dict, n: int, total: int) -> BatchRecord:
        """The engine's outputs in the network's neuron order."""
        order, offsets = self.plan.order, self.plan.offsets
        counts = {}
        for k, name in enumerate(self.net.layer_names):
            part = out["counts"][:, offsets[k] : offsets[k + 1]]
            counts[name] = np.empty_like(part)
            counts[name][:, order[k]] = part
        output = np.empty_like(out["output"])
        output[:, :, order[-1]] = out["output"]
        probes, start = {}, 0
        for name, idx in self.plan.probes.items():
            for var in ("u", "v"):
                values = out[f"probe_{var}"][:, :, start : start + len(idx)]
                probes[f"{name}.{var}"] = values.astype(np.int64)
            start += len(idx)
        events = None
        if out["events"] is not None:
            e = out["events"][:total].astype(np.int64)
            neuron = np.concatenate(order)[offsets[e[:, 2]] + e[:, 3]]
            events = (e[:, 0], e[:, 1], e[:, 2], neuron)
        return BatchRecord(counts, out["per_step"], output, out["saturation"], probes, events)
