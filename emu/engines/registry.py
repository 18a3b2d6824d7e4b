"""The engine registry: which engine emulates a network of a target on a named device.

Every device name the emulation knows comes from here (:func:`device_names`): adding a
device is one engine module and one :func:`register_engine` call. Entries may name their
class as ``"module:Class"``, imported on first use, so that listing devices imports no
simulator.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Engine
    from .settings import RunSettings

__all__ = [
    "BRIAN2_DEVICES",
    "device_names",
    "engine_class",
    "make_engine",
    "register_engine",
    "registered_targets",
]

BRIAN2_DEVICES = ("runtime", "cpp_standalone", "cuda_standalone")

_ENGINES: dict[tuple[str, str], type[Engine] | str] = {}


def register_engine(target: str, device: str, engine: type[Engine] | str) -> None:
    """Emulate networks whose ``target`` is ``target`` on ``device`` with ``engine``.

    ``engine`` is an :class:`emu.engines.base.Engine` subclass or ``"module:Class"``; the
    device is valid in :class:`~emu.engines.settings.RunSettings` from then on.
    """
    _ENGINES[(target, device)] = engine


def device_names(target: str | None = None) -> tuple[str, ...]:
    """The devices registered (for ``target``, or for any target), sorted."""
    return tuple(sorted({d for t, d in _ENGINES if target is None or t == target}))


def registered_targets() -> list[str]:
    """The targets an engine is registered for."""
    return sorted({target for target, _ in _ENGINES})


def engine_class(target: str | None, device: str) -> type[Engine]:
    """The engine registered for ``target`` on ``device``."""
    entry = _ENGINES.get((target, device)) if isinstance(target, str) else None
    if entry is None:
        devices = device_names(target) if isinstance(target, str) else ()
        known = (
            f"its devices: {devices}" if devices else f"registered targets: {registered_targets()}"
        )
        raise TypeError(f"no engine emulates target {target!r} on device {device!r}; {known}")
    if isinstance(entry, str):
        module, name = entry.split(":")
        entry = _ENGINES[(target, device)] = getattr(import_module(module), name)
    return entry


def make_engine(net, settings: RunSettings) -> Engine:
    """The engine of ``net`` (chosen by ``net.target`` and ``settings.device``)."""
    try:
        cls = engine_class(getattr(net, "target", None), settings.device)
    except TypeError as error:
        raise TypeError(f"cannot emulate a {type(net).__name__}: {error}") from None
    return cls(net, settings)


for _device in BRIAN2_DEVICES:
    register_engine("loihi", _device, "emu.engines.loihi_brian2:LoihiBackend")
    register_engine("akida", _device, "emu.engines.akida_brian2:AkidaBackend")
    register_engine("akida_v2", _device, "emu.engines.akida_v2_brian2:AkidaV2Backend")
register_engine("loihi", "native", "emu.engines.loihi_native:LoihiNativeBackend")
register_engine("akida", "tensor", "emu.engines.akida_tensor:AkidaTensorBackend")
register_engine("akida_v2", "tensor", "emu.engines.akida_v2_tensor:AkidaV2TensorBackend")
register_engine("loihi", "reference", "emu.engines.references:LoihiReferenceEngine")
register_engine("akida", "reference", "emu.engines.references:AkidaReferenceEngine")
register_engine("akida_v2", "reference", "emu.engines.references:AkidaV2ReferenceEngine")
