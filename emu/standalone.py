"""Brian2 devices for the emulation: C++ standalone builds compiled once and cached, and runtime.

A build is keyed by a digest of everything that is baked into the generated code (network
topology, batch size, recording options, Brian2 version). Parameters that may change
between runs (weights, thresholds, biases, inputs) travel as ``run_args``, so sweeps over
them reuse the binary. A file lock makes a shared cache safe for several processes.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import shutil
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import brian2
import numpy as np

__all__ = [
    "DEVICES",
    "default_cache_dir",
    "build_key",
    "digest_arrays",
    "StableClock",
    "StandaloneBuild",
    "runtime_scope",
]

DEVICES = ("runtime", "cpp_standalone", "cuda_standalone")


def default_cache_dir() -> Path:
    """Where builds are cached: ``$NEUROEMU_CACHE`` or ``~/.cache/neuroemu``."""
    return Path(os.environ.get("NEUROEMU_CACHE", Path.home() / ".cache" / "neuroemu"))


# modules whose code shapes a generated project: a change to any of them makes new builds
GENERATOR_MODULES = (
    "standalone.py",
    "backend.py",
    "fanout.py",
    "loihi_backend.py",
    "loihi_reference.py",
    "akida_backend.py",
    "akida_reference.py",
    "cuda.py",
)


@functools.cache
def _generator_digest() -> str:
    h = hashlib.sha256()
    for name in GENERATOR_MODULES:
        h.update((Path(__file__).parent / name).read_bytes())
    return h.hexdigest()


def build_key(*parts: object) -> str:
    """A digest of ``parts``, Brian2's version and the code that generates projects."""
    h = hashlib.sha256(repr((brian2.__version__, _generator_digest(), *parts)).encode())
    return h.hexdigest()[:20]


def digest_arrays(*arrays: np.ndarray) -> str:
    """A digest of arrays' dtypes, shapes and contents (for build keys)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(repr((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:20]


class StableClock(brian2.Clock):
    """A Brian2 clock hashed by its name.

    Brian2 collects a network's clocks in a set and writes them into ``main.cpp`` in the
    set's order; with clocks hashed by identity that order, and so the source, changed
    from process to process and every process recompiled ``main.cpp``.
    """

    dt = brian2.Clock.dt  # Brian2 sets attributes found in the class's own __dict__

    def __init__(self, dt: brian2.Quantity, name: str):
        super().__init__(dt, name=name)
        object.__setattr__(self, "_stable_hash", zlib.crc32(name.encode()))

    def __hash__(self) -> int:
        # Brian2's instance tracking hashes the clock before __init__ (and keeps that hash)
        return self.__dict__.get("_stable_hash", id(self))


@contextmanager
def _locked(path: Path, shared: bool = False) -> Iterator[None]:
    """Hold a file lock: exclusive while (re)building, shared while a binary runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class StandaloneBuild:
    """One compiled C++ standalone project and the Brian2 objects that describe it.

    ``construct`` creates the Brian2 objects (with fixed names) and returns them together
    with the simulated duration; it is called with the standalone device active.
    """

    _active: str | None = None  # key of the build the process-wide device currently holds

    def __init__(
        self, key: str, cache_dir: Path, construct: Callable[[], tuple[list, object]], device: str
    ):
        self.key = key
        self.directory = Path(cache_dir) / f"{device}-{key}"
        self.construct = construct
        self.device_name = device
        self.objects: list = []
        self.compile_seconds = 0.0
        self.compiled = False

    def activate(self) -> None:
        """Make this build the device's current project, compiling only if the cache lacks it."""
        if StandaloneBuild._active == self.key and self.objects:
            return
        brian2.device.reinit()
        if self.device_name == "cuda_standalone":
            from .cuda import prepare_cuda_device

            prepare_cuda_device()
        brian2.set_device(self.device_name, build_on_run=False)
        # Brian2's default "make -j" starts every compiler at once; one per core is faster
        brian2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{os.cpu_count() or 1}"]
        brian2.defaultclock.dt = 1 * brian2.ms
        objects, duration = self.construct()
        network = brian2.Network(objects)
        network.run(duration)
        start = time.perf_counter()
        lock = self.directory.with_suffix(".lock")
        with _locked(lock, shared=True):  # a build in progress holds the lock exclusively
            binary_exists = (self.directory / "main").exists()
        if binary_exists and self.device_name == "cpp_standalone":
            # the key covers topology, settings and generating code: the binary is current,
            # so the project is used as it is, without writing its sources again
            brian2.get_device().project_dir = str(self.directory)
        else:
            with _locked(lock):
                binary_exists = (self.directory / "main").exists()
                brian2.device.build(
                    directory=str(self.directory), compile=True, run=False, with_output=False
                )
        self.compile_seconds = time.perf_counter() - start
        self.compiled = not binary_exists
        self.objects = objects
        StandaloneBuild._active = self.key

    def run(self, run_args: dict, results: str, transient: int = 0) -> None:
        """Run the binary once with ``run_args``, writing results to the relative dir ``results``.

        The last ``transient`` entries of ``run_args`` (per-batch inputs) have their array
        files removed afterwards; parameter arrays stay for later runs and other processes.
        """
        self.activate()
        with _locked(self.directory.with_suffix(".lock"), shared=True):
            brian2.device.run(
                directory=str(self.directory),
                results_directory=results,
                with_output=False,
                run_args=run_args,
            )
            names = list(brian2.device.run_args_arrays)
            for name in names[len(names) - transient :] if transient else []:
                (self.directory / "static_arrays" / name).unlink(missing_ok=True)

    def clear_results(self, results: str) -> None:
        shutil.rmtree(self.directory / results, ignore_errors=True)


@contextmanager
def runtime_scope() -> Iterator[None]:
    """Run Brian2's runtime device with the numpy code generation target and 1 ms steps."""
    if (
        StandaloneBuild._active is not None
        or brian2.get_device().__class__.__name__ != "RuntimeDevice"
    ):
        brian2.device.reinit()
        brian2.set_device("runtime")
        StandaloneBuild._active = None
    previous = brian2.prefs.codegen.target
    brian2.prefs.codegen.target = "numpy"
    brian2.defaultclock.dt = 1 * brian2.ms
    try:
        yield
    finally:
        brian2.prefs.codegen.target = previous
