"""The native engines: C++ sources shipped with the package, compiled once per machine."""

from .library import EngineBuild, engine_library

__all__ = ["EngineBuild", "engine_library"]
