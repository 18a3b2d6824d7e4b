"""The Brian2 engines' shared machinery: objects built per batch on ``runtime``, or compiled
once per topology on a standalone device and run with the batch's values as arguments.

A chip's Brian2 engine creates its objects (named, in ``self._objects``) in ``_construct``,
lists their run-time parameters in ``_parameters``, the per-batch inputs in ``_inputs``, and
reads a finished run back in ``_collect``; it calls ``_make_build`` once the topology is
known. A standalone build is keyed by the settings that change the generated code or its
recordings, the engine's topology and the source of the modules that generate it
(:meth:`Brian2Engine.build_key`).
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod

import brian2
import numpy as np

from ..traces.records import BatchRecord
from .base import Engine, source_digest
from .settings import RunSettings
from .standalone import StandaloneBuild, device_setup, runtime_scope

__all__ = ["Brian2Engine"]


class Brian2Engine(Engine):
    """A network's Brian2 objects on the Brian2 device ``settings.device``.

    ``cpp_standalone`` and ``cuda_standalone`` builds are compiled once per topology and
    build settings; ``runtime`` uses Brian2's numpy target. The last batch is padded.
    """

    def __init__(self, net, settings: RunSettings):
        super().__init__(net, settings)
        self._objects: dict[str, object] = {}
        self.build: StandaloneBuild | None = None

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

    def code_modules(self) -> tuple[str, ...]:
        """The module preparing the Brian2 device, if it has one."""
        setup = device_setup(self.settings.device)
        return (setup.__module__,) if setup is not None else ()

    def build_key(self) -> str:
        """Digest of the build settings, the topology, Brian2's version and generating code."""
        parts = (self.target, self.settings.build_fields(), self._topology())
        source = source_digest(type(self), self.code_modules())
        h = hashlib.sha256(repr((brian2.__version__, source, parts)).encode())
        return h.hexdigest()[:20]

    def _make_build(self) -> None:
        """Describe the standalone build of this engine (none on the runtime device)."""
        if self.settings.device == "runtime":
            return
        batch = self.settings.batch_size
        self.build = StandaloneBuild(
            self.build_key(),
            self.settings.cache(),
            lambda: self._construct(batch),
            self.settings.device,
        )

    def prepare(self) -> None:
        """Compile the standalone build (if any) or find it in the cache."""
        if self.build is not None:
            self.build.activate()

    def run_batch(self, levels: np.ndarray, first_sample: int = 0) -> BatchRecord:
        """Simulate a batch of encoded samples; ``first_sample`` is the first one's index."""
        levels = self.check_batch(levels)
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
        padded = np.zeros((self.settings.batch_size, *levels.shape[1:]), levels.dtype)
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
