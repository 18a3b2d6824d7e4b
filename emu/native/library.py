"""The native engine's shared library: compiled once per machine with g++ into the build cache, loaded by ctypes.

The library's name carries a hash of its source, the compiler, the flags and the CPU's
features, so a changed source or another machine builds its own, and a build never runs
on a CPU it was not made for. A file lock lets concurrent processes wait for one compile.
Flags are tried in order (``-O3 -march=native`` with OpenMP first, plain ``-O2`` last); a
set that fails leaves a marker with the compiler's message and is not tried again.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

__all__ = ["EngineBuild", "engine_library", "SOURCE", "FLAG_SETS"]

SOURCE = Path(__file__).with_name("loihi_engine.cpp")
COMMON_FLAGS = ("-std=c++17", "-shared", "-fPIC")
FLAG_SETS = (("-O3", "-march=native", "-fopenmp"), ("-O3", "-march=native"), ("-O2",))


@dataclass(frozen=True)
class EngineBuild:
    """Where the library is, with which flags, and whether (and how long) this process compiled it."""

    path: Path
    flags: tuple[str, ...]
    compiled: bool
    seconds: float


def _compiler() -> str:
    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None:
        raise RuntimeError(
            f"device 'native' compiles its engine once with a C++ compiler; {compiler!r} "
            "was not found (install g++ or set CXX)"
        )
    return compiler


def _machine() -> str:
    """The CPU's identity for ``-march=native``: its architecture and feature flags."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    flags = next((line for line in lines if line.startswith(("flags", "Features"))), "")
    return platform.machine() + flags


def _key(compiler: str, flags: tuple[str, ...]) -> str:
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout
    parts = (SOURCE.read_bytes(), compiler, version, flags, COMMON_FLAGS, _machine())
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:20]


def _compile(compiler: str, flags: tuple[str, ...], path: Path) -> str | None:
    """Compile into ``path`` (atomically); the compiler's message on failure, else None."""
    tmp = path.with_suffix(f".tmp{os.getpid()}.so")
    cmd = [compiler, *COMMON_FLAGS, *flags, str(SOURCE), "-o", str(tmp)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        return f"{' '.join(cmd)}\n{result.stderr}"
    os.replace(tmp, path)
    return None


def _built(cache_dir: Path, compiler: str, flags: tuple[str, ...]) -> EngineBuild | None:
    """The library of ``flags`` in ``cache_dir``, compiled here if missing; None if it fails."""
    path = cache_dir / f"loihi_engine-{_key(compiler, flags)}.so"
    failed = path.with_suffix(".failed")
    if path.exists():
        return EngineBuild(path, flags, False, 0.0)
    if failed.exists():
        return None
    with FileLock(str(path.with_suffix(".lock"))):
        if path.exists():
            return EngineBuild(path, flags, False, 0.0)
        start = time.perf_counter()
        error = _compile(compiler, flags, path)
        if error is not None:
            failed.write_text(error)
            return None
        seconds = time.perf_counter() - start
    print(
        f"neuroemu: compiled the native Loihi engine in {seconds:.1f} s "
        f"({' '.join(flags)}) into {path}",
        file=sys.stderr,
    )
    return EngineBuild(path, flags, True, seconds)


@functools.cache
def engine_library(cache_dir: Path) -> tuple[ctypes.CDLL, EngineBuild]:
    """The loaded engine library of this machine, built in ``cache_dir / "native"`` on first use."""
    directory = Path(cache_dir) / "native"
    directory.mkdir(parents=True, exist_ok=True)
    compiler = _compiler()
    for flags in FLAG_SETS:
        build = _built(directory, compiler, flags)
        if build is not None:
            return ctypes.CDLL(str(build.path)), build
    markers = sorted(directory.glob("loihi_engine-*.failed"))
    raise RuntimeError(
        f"the native Loihi engine did not compile with any of {FLAG_SETS}; the compiler's "
        f"messages are in {[str(m) for m in markers]}"
    )
