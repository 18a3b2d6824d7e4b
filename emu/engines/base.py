"""The engine protocol: what :class:`emu.Emulation` needs from every device of every chip.

An engine is constructed from a converted network and :class:`~emu.engines.settings.RunSettings`,
encodes samples into integer inputs, runs a batch of them into a
:class:`~emu.traces.records.BatchRecord`, describes the run in trace attributes, and names
the project code that computes its results (:func:`code_digest`, kept with sharded runs).
"""

from __future__ import annotations

import functools
import hashlib
import sys
import types
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..traces.records import BatchRecord
from .settings import RunSettings

__all__ = ["Engine", "code_digest", "probed_neurons", "source_digest"]

# top-level packages whose modules can shape an engine's results
_PROJECT_PACKAGES = ("emu", "converters")


def probed_neurons(probe: dict, known: list[str]) -> dict[str, np.ndarray]:
    """The probed neuron indices per layer; a layer not in ``known`` is refused."""
    unknown = set(probe) - set(known)
    if unknown:
        raise ValueError(f"cannot probe unknown layers {sorted(unknown)}; layers: {known}")
    return {k: np.asarray(v, dtype=int) for k, v in probe.items()}


class Engine(ABC):
    """A network emulated on one device, a batch of encoded samples at a time.

    ``probe`` holds the probed neurons per layer; ``build`` is the engine's compiled
    standalone project, None where nothing is built per network; ``batch_size`` caps every
    batch (:meth:`check_batch`). A subclass registered with
    :func:`emu.engines.registry.register_engine` is a device of :class:`emu.Emulation`.
    """

    target: ClassVar[str]
    build = None

    def __init__(self, net, settings: RunSettings):
        self.net = net
        self.settings = settings
        self.probe = probed_neurons(settings.probe, self._probe_layers())

    @abstractmethod
    def layer_names(self) -> list[str]:
        """Names of the recorded layers, in network order (the last is the output)."""

    @abstractmethod
    def encode(self, samples: np.ndarray) -> np.ndarray:
        """Integer inputs, one row per sample."""

    @abstractmethod
    def attrs(self) -> dict:
        """Trace attributes describing the network and its timing."""

    @abstractmethod
    def run_batch(self, levels: np.ndarray, first_sample: int = 0) -> BatchRecord:
        """Simulate a batch of encoded samples; ``first_sample`` is the first one's index."""

    def _probe_layers(self) -> list[str]:
        return self.layer_names()

    def check_batch(self, levels: np.ndarray) -> np.ndarray:
        """``levels`` as an array, refused when it holds more samples than the batch size."""
        levels = np.asarray(levels)
        size = self.settings.batch_size
        if len(levels) > size:
            limit = "the build's batch size" if self.build is not None else "the batch size"
            raise ValueError(f"batch of {len(levels)} samples exceeds {limit} {size}")
        return levels

    def prepare(self) -> None:  # noqa: B027 (a hook, a no-op by default)
        """Get ready to run (compile what needs compiling), e.g. before workers fork."""

    def code_modules(self) -> tuple[str, ...]:
        """Project modules beyond those of the engine's classes whose code shapes its runs."""
        return ()

    def close(self) -> None:  # noqa: B027 (a hook, a no-op by default)
        """Release what the engine holds beyond its Python objects (nothing by default)."""


def code_digest(engine: Engine) -> str:
    """SHA-256 of the project code an engine runs (its classes' modules and what they use)."""
    return source_digest(type(engine), engine.code_modules())


@functools.cache
def source_digest(cls: type, extra: tuple[str, ...] = ()) -> str:
    """SHA-256 of the source of every project module that ``cls`` and its bases use, and of
    the modules ``extra``."""
    names = set(extra)
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


def _in_project(module: str) -> bool:
    return module.split(".")[0] in _PROJECT_PACKAGES and module in sys.modules
