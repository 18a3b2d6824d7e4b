"""What the chip backends share: their settings and one run of a compiled build."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable

import numpy as np

from .records import BatchRecord
from .standalone import StandaloneBuild

__all__ = ["Backend"]


class Backend(ABC):
    """A network's Brian2 objects on one device, run a batch of samples at a time.

    Subclasses create the objects (named, in ``self._objects``), list their run-time
    parameters in ``_parameters`` and read a finished run back in ``_collect``.
    """

    target: str

    def __init__(
        self,
        net,
        device: str,
        batch_size: int,
        record_events: bool,
        probe: dict[str, list[int]] | None,
        probe_layers: Iterable[str],
        seed: int,
    ):
        self.net = net
        self.device = device
        self.batch_size = batch_size
        self.record_events = record_events
        self.probe = {k: np.asarray(v, dtype=int) for k, v in (probe or {}).items()}
        probe_layers = list(probe_layers)
        unknown = set(self.probe) - set(probe_layers)
        if unknown:
            raise ValueError(
                f"cannot probe unknown layers {sorted(unknown)}; layers: {probe_layers}"
            )
        self.seed = seed
        self._objects: dict[str, object] = {}
        self.build: StandaloneBuild | None = None

    @abstractmethod
    def _parameters(self) -> dict[tuple[str, str], np.ndarray]:
        """Values of every run-time parameter: (object name, variable) -> array."""

    @abstractmethod
    def _collect(self, batch: int) -> BatchRecord:
        """The recordings of the last run, ``batch`` samples long."""

    def _set_parameters(self) -> None:
        for (obj, var), value in self._parameters().items():
            setattr(self._objects[obj], var, value)

    def _padded(self, levels: np.ndarray, dtype: type) -> np.ndarray:
        """``levels`` padded with zero rows to the build's batch size."""
        if len(levels) > self.batch_size:
            raise ValueError(
                f"batch of {len(levels)} samples exceeds the build's batch size {self.batch_size}"
            )
        padded = np.zeros((self.batch_size, levels.shape[1]), dtype)
        padded[: len(levels)] = levels
        return padded

    def _run_build(self, inputs: dict[str, np.ndarray], n: int, results: str) -> BatchRecord:
        """Run the compiled build on ``inputs`` (TimedArray name -> values); keep ``n`` samples."""
        self.build.activate()
        run_args: dict = {
            getattr(self._objects[obj], var): value
            for (obj, var), value in self._parameters().items()
        }
        for name, value in inputs.items():
            run_args[self._objects[name]] = value
        self.build.run(run_args, results, transient=len(inputs))
        return self._collect(self.batch_size).take(n)
