"""Old module paths kept importable for one release after a module moved.

A package lists its moved modules (``{"trace_store": "emu.traces.store"}``) and calls
:func:`keep_old_paths`; ``import emu.trace_store`` then gives a module that forwards every
attribute to ``emu.traces.store`` and warns once with the new path. Pickles that name the
old path (whole torch models saved before the move) load through the same forwarding.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

__all__ = ["keep_old_paths", "moved_modules"]


class _Forwarding(types.ModuleType):
    """A module object whose attributes are read from the module that replaced it."""

    def __init__(self, old: str, new: str) -> None:
        super().__init__(old, f"Moved to {new}; this path is kept for one release.")
        self.__dict__["_new"] = new

    def __getattr__(self, name: str):
        return getattr(importlib.import_module(self.__dict__["_new"]), name)

    def __dir__(self) -> list[str]:
        return dir(importlib.import_module(self.__dict__["_new"]))


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old paths of one package, before any other finder."""

    def __init__(self, package: str, moves: dict[str, str]) -> None:
        self.moves = {f"{package}.{old}": new for old, new in moves.items()}

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname not in self.moves:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _Forwarding(spec.name, self.moves[spec.name])

    def exec_module(self, module: types.ModuleType) -> None:
        new = self.moves[module.__name__]
        warnings.warn(
            f"{module.__name__} moved to {new}; import it from there (the old path goes "
            "in the next release)",
            DeprecationWarning,
            stacklevel=2,
        )
        importlib.import_module(new)


def keep_old_paths(package: str, moves: dict[str, str]) -> None:
    """Make ``package.<old>`` import as a forwarder to each ``moves[old]`` module path."""
    for finder in sys.meta_path:
        if isinstance(finder, _MovedModuleFinder) and set(finder.moves) == {
            f"{package}.{old}" for old in moves
        }:
            return
    # first: an older copy of the package installed elsewhere must not answer the old paths
    sys.meta_path.insert(0, _MovedModuleFinder(package, moves))


def moved_modules() -> dict[str, str]:
    """Every old module path kept importable, with the path of the module that replaced it."""
    return {
        old: new
        for finder in sys.meta_path
        if isinstance(finder, _MovedModuleFinder)
        for old, new in finder.moves.items()
    }
