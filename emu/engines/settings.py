"""How a network is emulated: the run settings every engine takes, and the build cache."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .registry import device_names

__all__ = ["RunSettings", "default_cache_dir"]


def default_cache_dir() -> Path:
    """Where builds are cached: ``$NEUROEMU_CACHE`` or ``~/.cache/neuroemu``."""
    return Path(os.environ.get("NEUROEMU_CACHE", Path.home() / ".cache" / "neuroemu"))


@dataclass(frozen=True)
class RunSettings:
    """How a network is emulated: device, batch, what is recorded, seed and build cache.

    ``device`` is any name of :func:`emu.engines.registry.device_names`; ``probe`` maps
    layers to the neurons whose state is recorded every step; ``cache_dir`` None means the
    default cache of the machine that builds.
    """

    device: str = "cpp_standalone"
    batch_size: int = 128
    record_events: bool = False
    probe: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    seed: int = 0
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        devices = device_names()
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
