"""The chip backend contract: run settings, the methods every backend has, and a registry by target.

A backend turns a converted network into Brian2 objects on one device and runs a batch of
encoded samples at a time. :class:`Emulation` calls only the methods declared here and
finds the backend of a network by its ``target`` in the registry
(:func:`register_backend`). A standalone build is keyed by the settings that change the
generated code or its recordings, the backend's topology and the source of the modules
that generate it (:meth:`Backend.build_key`).
"""

from __future__ import annotations

import functools
import hashlib
import sys
import types
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

import brian2
import numpy as np

from .records import BatchRecord
from .standalone import (
    DEVICES,
    StandaloneBuild,
    default_cache_dir,
    device_setup,
    register_device,
    runtime_scope,
)

__all__ = [
    "Backend",
    "RunSettings",
    "backend_class",
    "code_digest",
    "digest_arrays",
    "engine_devices",
    "input_range",
    "out_of_range_counts",
    "probed_neurons",
    "make_backend",
    "register_backend",
    "registered_targets",
]

# top-level packages whose modules can shape generated code
_PROJECT_PACKAGES = ("emu", "converters")


@dataclass(frozen=True)
class RunSettings:
    """How a network is emulated: device, batch, what is recorded, seed and build cache.

    ``probe`` maps layers to the neurons whose state is recorded every step;
    ``cache_dir`` None means the default cache of the machine that builds.
    """

    device: str = "cpp_standalone"
    batch_size: int = 128
    record_events: bool = False
    probe: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    seed: int = 0
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        devices = DEVICES + engine_devices()
        if self.device not in devices:
            raise ValueError(f"unknown device {self.device!r}; choose one of {devices}")
        if int(self.batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        probe = {str(k): tuple(int(i) for i in v) for k, v in (self.probe or {}).items()}
        object.__setattr__(self, "probe", probe)
        object.__setattr__(self, "record_events", bool(self.record_events))
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))

    def recorded(self) -> dict:
        """Every setting that changes a recording, as JSON values (for shard manifests)."""
        return {
            "device": self.device,
            "batch_size": int(self.batch_size),
            "record_events": self.record_events,
            "probe": {k: list(v) for k, v in self.probe.items()},
            "seed": int(self.seed),
        }

    def build_fields(self) -> tuple:
        """The settings baked into a standalone build (the seed is a run argument)."""
        return (self.device, int(self.batch_size), self.record_events, tuple(self.probe.items()))

    def cache(self) -> Path:
        """The build cache on this machine."""
        return self.cache_dir if self.cache_dir is not None else default_cache_dir()


def probed_neurons(probe: dict, known: list[str]) -> dict[str, np.ndarray]:
    """The probed neuron indices per layer; a layer not in ``known`` is refused."""
    unknown = set(probe) - set(known)
    if unknown:
        raise ValueError(f"cannot probe unknown layers {sorted(unknown)}; layers: {known}")
    return {k: np.asarray(v, dtype=int) for k, v in probe.items()}


class Backend(ABC):
    """A network's Brian2 objects on one device, run a batch of samples at a time.

    Subclasses create the objects (named, in ``self._objects``) in ``_construct``, list
    their run-time parameters in ``_parameters``, the per-batch inputs in ``_inputs``, and
    read a finished run back in ``_collect``; they call ``_make_build`` once the topology
    is known.
    """

    target: str

    def __init__(self, net, settings: RunSettings):
        self.net = net
        self.settings = settings
        self.probe = probed_neurons(settings.probe, self._probe_layers())
        self._objects: dict[str, object] = {}
        self.build: StandaloneBuild | None = None

    # --- the contract ---------------------------------------------------------------

    @abstractmethod
    def layer_names(self) -> list[str]:
        """Names of the recorded layers, in network order (the last is the output)."""

    @abstractmethod
    def encode(self, samples: np.ndarray) -> np.ndarray:
        """Integer input levels, one row per sample."""

    @abstractmethod
    def attrs(self) -> dict:
        """Trace attributes describing the network and its timing."""

    @abstractmethod
    def _topology(self) -> object:
        """Everything of the network that is baked into generated code (not weights)."""

    @abstractmethod
    def _construct(self, batch: int, inputs: dict | None = None) -> tuple[list, object]:
        """Create the Brian2 objects for ``batch`` samples; return them and the duration."""

    @abstractmethod
    def _inputs(self, levels: np.ndarray, first_sample: int) -> dict[str, np.ndarray]:
        """Values of the input TimedArrays (name -> array) for a batch."""

    @abstractmethod
    def _parameters(self) -> dict[tuple[str, str], np.ndarray]:
        """Values of every run-time parameter: (object name, variable) -> array."""

    @abstractmethod
    def _collect(self, batch: int) -> BatchRecord:
        """The recordings of the last run, ``batch`` samples long."""

    def _probe_layers(self) -> list[str]:
        return self.layer_names()

    # --- shared machinery -----------------------------------------------------------

    def build_key(self) -> str:
        """Digest of the build settings, the topology, Brian2's version and generating code."""
        parts = (self.target, self.settings.build_fields(), self._topology())
        source = _source_digest(type(self), self.settings.device)
        h = hashlib.sha256(repr((brian2.__version__, source, parts)).encode())
        return h.hexdigest()[:20]

    def _make_build(self) -> None:
        """Describe the standalone build of this backend (none on the runtime device)."""
        if self.settings.device == "runtime":
            return
        batch = self.settings.batch_size
        self.build = StandaloneBuild(
            self.build_key(),
            self.settings.cache(),
            lambda: self._construct(batch),
            self.settings.device,
        )

    def run_batch(self, levels: np.ndarray, first_sample: int = 0) -> BatchRecord:
        """Simulate a batch of encoded samples; ``first_sample`` is the first one's index."""
        levels = np.asarray(levels)
        n = len(levels)
        if self.build is None:
            with runtime_scope():
                objs, duration = self._construct(n, self._inputs(levels, first_sample))
                brian2.Network(objs).run(duration)
                return self._collect(n)
        return self._run_build(self._inputs(self._padded(levels), first_sample), n)

    def _set_parameters(self) -> None:
        for (obj, var), value in self._parameters().items():
            setattr(self._objects[obj], var, value)

    def _padded(self, levels: np.ndarray) -> np.ndarray:
        """``levels`` padded with zero rows to the build's batch size."""
        size = self.settings.batch_size
        if len(levels) > size:
            raise ValueError(
                f"batch of {len(levels)} samples exceeds the build's batch size {size}"
            )
        padded = np.zeros((size, *levels.shape[1:]), levels.dtype)
        padded[: len(levels)] = levels
        return padded

    def _run_build(self, inputs: dict[str, np.ndarray], n: int) -> BatchRecord:
        """Run the compiled build on ``inputs`` in a results directory of its own; keep ``n``."""
        self.build.activate()
        parameters = {
            getattr(self._objects[obj], var): value
            for (obj, var), value in self._parameters().items()
        }
        timed = {self._objects[name]: value for name, value in inputs.items()}
        results = self.build.new_results()
        try:
            self.build.run(parameters, timed, results)
            return self._collect(self.settings.batch_size).take(n)
        finally:
            self.build.clear_results(results)


def input_range(net) -> tuple[float, float]:
    """The input range a network was calibrated for: [0, scale] (Loihi and Akida alike)."""
    scale = net.input.scale if hasattr(net, "input") else net.input_scale
    return 0.0, float(scale)


def out_of_range_counts(samples: np.ndarray, low: float, high: float) -> np.ndarray:
    """Per sample, how many of its values lie outside [low, high] (and are clipped)."""
    x = np.asarray(samples, dtype=np.float64)
    outside = (x < low) | (x > high)
    return outside.reshape(len(x), -1).sum(axis=1).astype(np.int64)


def digest_arrays(*arrays: np.ndarray) -> str:
    """A digest of arrays' dtypes, shapes and contents (for build keys)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(repr((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:20]


@functools.cache
def _source_digest(cls: type, device: str) -> str:
    """SHA-256 of the source of every project module that ``cls``, its bases and the setup
    of ``device`` use."""
    setup = device_setup(device)
    names: set[str] = {setup.__module__} if setup is not None else set()
    for klass in cls.__mro__:
        module = sys.modules.get(klass.__module__)
        if module is None or not _in_project(module.__name__):
            continue
        names.add(module.__name__)
        for value in vars(module).values():
            used = value.__name__ if isinstance(value, types.ModuleType) else None
            used = used or getattr(value, "__module__", None)
            if isinstance(used, str) and _in_project(used):
                names.add(used)
    h = hashlib.sha256()
    for name in sorted(names):
        h.update(name.encode())
        h.update(Path(sys.modules[name].__file__).read_bytes())
    return h.hexdigest()


def code_digest(backend: object) -> str:
    """SHA-256 of the project code a backend runs (its modules and its device's setup)."""
    return _source_digest(type(backend), backend.settings.device)


def _in_project(module: str) -> bool:
    return module.split(".")[0] in _PROJECT_PACKAGES and module in sys.modules


_REGISTRY: dict[tuple[str, str | None], type[Backend] | str] = {}


def register_backend(target: str, backend: type[Backend] | str, device: str | None = None) -> None:
    """Emulate networks whose ``target`` is ``target`` with ``backend``.

    ``backend`` is a Backend subclass or ``"module:Class"``, imported on first use. With
    ``device`` it serves that device only: an engine outside Brian2's devices (a class
    with a Backend's public methods), valid in :class:`RunSettings` from then on.
    """
    _REGISTRY[(target, device)] = backend


def registered_targets() -> list[str]:
    """The targets a backend is registered for."""
    return sorted({target for target, _ in _REGISTRY})


def engine_devices() -> tuple[str, ...]:
    """Device names served by a registered engine rather than by Brian2."""
    return tuple(sorted({device for _, device in _REGISTRY if device is not None}))


def backend_class(target: str | None, device: str | None = None) -> type[Backend]:
    """The backend registered for ``target`` (on ``device``, if it names an engine)."""
    key = (target, device if device in engine_devices() else None)
    entry = _REGISTRY.get(key) if isinstance(target, str) else None
    if entry is None:
        on = f" on device {device!r}" if key[1] else ""
        raise TypeError(
            f"no backend emulates target {target!r}{on}; registered targets: {registered_targets()}"
        )
    if isinstance(entry, str):
        module, name = entry.split(":")
        entry = _REGISTRY[key] = getattr(import_module(module), name)
    return entry


def make_backend(net, settings: RunSettings) -> Backend:
    """The backend of ``net`` (chosen by ``net.target`` and the device) with ``settings``."""
    target = getattr(net, "target", None)
    try:
        cls = backend_class(target, settings.device)
    except TypeError as error:
        raise TypeError(f"cannot emulate a {type(net).__name__}: {error}") from None
    return cls(net, settings)


register_backend("loihi", "emu.loihi_backend:LoihiBackend")
register_backend("akida", "emu.akida_backend:AkidaBackend")
register_backend("akida", "emu.akida_tensor:AkidaTensorBackend", device="tensor")
register_backend("akida_v2", "emu.akida_v2_backend:AkidaV2Backend")
register_backend("akida_v2", "emu.akida_v2_tensor:AkidaV2TensorBackend", device="tensor")
register_backend("loihi", "emu.loihi_native:LoihiNativeBackend", device="native")
register_device("cuda_standalone", "emu.cuda:prepare_cuda_device")
