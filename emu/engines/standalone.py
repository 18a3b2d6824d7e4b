"""Brian2 devices for the emulation: C++ standalone builds compiled once and cached, and runtime.

A build is keyed by a digest of everything that is baked into the generated code (see
:meth:`emu.engines.brian2_engine.Brian2Engine.build_key`). Parameters that may change between runs (weights,
thresholds, biases, inputs) travel as ``run_args``, so sweeps over them reuse the binary.
Each run writes its recordings to a results directory of its own, which also holds that
run's input arrays, removed once they are read. A compiled binary's SHA-256 is written
beside it after a successful build, and so are those of its object files and static
arrays (``artefacts.json``): a binary or static array that no longer matches is rebuilt,
an object file that does not is removed before ``make`` relinks. A parameter array file
is named by its MD5, checked before each use and rewritten on mismatch. ``make`` and its
compilers run in a process group of their own, ended with the process that started them
(:mod:`emu.engines.build_guard`); a failed build is retried once from clean objects. A
reader/writer file lock (``filelock``) lets any number of processes share a
cache: a build holds it exclusively, a running binary shares it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import socket
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path

import brian2
import numpy as np
from filelock import FileLock, ReadWriteLock

from ..traces.store import file_checksum
from .build_guard import guarded

__all__ = ["StableClock", "StandaloneBuild", "device_setup", "runtime_scope"]

# Brian2 device -> function preparing it for a build in a cache directory ("module:function",
# imported on first use)
_DEVICE_SETUP: dict[str, Callable[[Path], None] | str] = {
    "cuda_standalone": "emu.engines.cuda:prepare_cuda_device",
}


def device_setup(name: str) -> Callable[[Path], None] | None:
    """The function preparing the Brian2 device ``name`` for a build, if it needs one."""
    setup = _DEVICE_SETUP.get(name)
    if isinstance(setup, str):
        module, function = setup.split(":")
        setup = _DEVICE_SETUP[name] = getattr(import_module(module), function)
    return setup


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
    lock = ReadWriteLock(path, is_singleton=False)
    try:
        with lock.read_lock() if shared else lock.write_lock():
            yield
    finally:
        lock.close()


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
        self.cache_dir = Path(cache_dir)
        self.directory = self.cache_dir / f"{device}-{key}"
        self.construct = construct
        self.device_name = device
        self.objects: list = []
        self.compiled = False

    @property
    def _lock(self) -> Path:
        return self.directory.with_suffix(".lock")

    def activate(self) -> None:
        """Make this build the device's current project, compiling only if the cache lacks it."""
        if StandaloneBuild._active == self.key and self.objects:
            return
        brian2.device.reinit()
        setup = device_setup(self.device_name)
        if setup is not None:
            setup(self.cache_dir)
        brian2.set_device(self.device_name, build_on_run=False)
        # Brian2's default "make -j" starts every compiler at once; one per core is faster
        brian2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{os.cpu_count() or 1}"]
        brian2.prefs.devices.cpp_standalone.make_cmd_unix = shlex.join(guarded(["make"]))
        brian2.defaultclock.dt = 1 * brian2.ms
        objects, duration = self.construct()
        brian2.Network(objects).run(duration)
        with _locked(self._lock, shared=True):  # a build in progress holds the lock exclusively
            current = self._binary_current()
        if current and self.device_name == "cpp_standalone":
            # the key covers topology, settings and generating code: the binary is current,
            # so the project is used as it is, without writing its sources again
            brian2.get_device().project_dir = str(self.directory)
        else:
            with _locked(self._lock):
                current = self._binary_current()
                if not current:  # a damaged binary newer than its sources: make would keep it
                    self._remove_damaged()
                self._build()
                if not current:
                    self._record_artefacts()
        self.compiled = not current
        self.objects = objects
        StandaloneBuild._active = self.key

    def _build(self) -> None:
        """Write and compile the project; after a failure, once more from clean objects."""
        try:
            brian2.device.build(
                directory=str(self.directory), compile=True, run=False, with_output=False
            )
        except RuntimeError:
            for stale in [self.directory / "main", *self.directory.rglob("*.o")]:
                stale.unlink(missing_ok=True)
            brian2.device.build(
                directory=str(self.directory), compile=True, run=False, with_output=False
            )

    @property
    def _checksum_path(self) -> Path:
        return self.directory / "main.sha256"

    @property
    def _artefacts_path(self) -> Path:
        return self.directory / "artefacts.json"

    def _artefacts(self) -> list[Path]:
        """The object files and the build's own static arrays (parameter files excluded)."""
        arrays = [
            p
            for p in (self.directory / "static_arrays").glob("*")
            if not p.name.startswith("init_")
        ]
        return sorted([*self.directory.rglob("*.o"), *arrays])

    def _record_artefacts(self) -> None:
        self._checksum_path.write_text(file_checksum(self.directory / "main"))
        sums = {str(p.relative_to(self.directory)): file_checksum(p) for p in self._artefacts()}
        self._artefacts_path.write_text(json.dumps(sums, indent=0))

    def _recorded(self) -> dict[str, str]:
        try:
            sums = json.loads(self._artefacts_path.read_text())
        except (OSError, ValueError):
            return {}
        return sums if isinstance(sums, dict) else {}

    def _remove_damaged(self) -> None:
        """Remove the binary and every object file not matching its recorded checksum."""
        (self.directory / "main").unlink(missing_ok=True)
        self._checksum_path.unlink(missing_ok=True)
        sums = self._recorded()
        for path in self.directory.rglob("*.o"):
            if sums.get(str(path.relative_to(self.directory))) != file_checksum(path):
                path.unlink()
        self._artefacts_path.unlink(missing_ok=True)

    def _binary_current(self) -> bool:
        """Whether the binary and its static arrays exist and match the checksums of its build."""
        binary = self.directory / "main"
        if not binary.exists() or not self._checksum_path.exists():
            return False
        if self._checksum_path.read_text().strip() != file_checksum(binary):
            return False
        sums = self._recorded()
        arrays = {k: v for k, v in sums.items() if k.startswith("static_arrays")}
        if not sums:
            return False
        return all(
            (self.directory / k).exists() and file_checksum(self.directory / k) == v
            for k, v in arrays.items()
        )

    def new_results(self) -> str:
        """A results directory name no other run of this build uses (relative to the build).

        Directories left by killed processes of this host are removed first.
        """
        host = socket.gethostname()
        for stale in self.directory.glob(f"results_{host}_*_*"):
            pid = stale.name[len(f"results_{host}_") :].split("_")[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(stale, ignore_errors=True)
        return f"results_{host}_{os.getpid()}_{uuid.uuid4().hex[:12]}"

    def run(self, parameters: dict, inputs: dict, results: str) -> None:
        """Run the binary once, writing results to the relative directory ``results``.

        ``parameters`` (Brian2 variable -> values) are shared array files of the build,
        named by their contents; ``inputs`` (TimedArray -> values) are written into the
        run's own results directory, so concurrent runs never touch each other's inputs.
        """
        self.activate()
        (self.directory / results).mkdir(parents=True, exist_ok=True)
        args = [self._parameter_arg(var, value) for var, value in parameters.items()]
        for timed, value in inputs.items():
            path = Path(results) / f"input_{timed.name}.dat"
            np.asarray(value, dtype=timed.values.dtype).tofile(self.directory / path)
            args.append(f"{timed.name}.values={path}")
        with _locked(self._lock, shared=True):
            brian2.device.run(
                directory=str(self.directory),
                results_directory=results,
                with_output=False,
                run_args=args,
            )

    def _parameter_arg(self, var, value) -> str:
        """``group.variable=value``, a large value through an array file named by its bytes."""
        array = np.asarray(value, dtype=var.dtype)
        name = f"{var.group_name}.{var.name}"
        if array.size == 1:
            return f"{name}={array.item()!r}"
        digest = hashlib.md5(array.data, usedforsecurity=False).hexdigest()
        path = Path("static_arrays") / f"init_{var.group_name}_{var.name}_{digest}.dat"
        with FileLock(str(self.directory / path) + ".lock"):
            if not _holds(self.directory / path, digest):
                tmp = self.directory / f"{path}.{os.getpid()}.part"
                array.tofile(tmp)
                os.replace(tmp, self.directory / path)
        return f"{name}={path}"

    def clear_results(self, results: str) -> None:
        """Remove the results directory of a finished run, once its recordings are read."""
        shutil.rmtree(self.directory / results, ignore_errors=True)


_checked: set[tuple[str, int, int]] = set()  # parameter files this process verified


def _holds(path: Path, md5: str) -> bool:
    """Whether the parameter file ``path`` exists with the contents its name promises
    (read once per process while its size and modification time stay)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return False
    seen = (str(path), info.st_size, info.st_mtime_ns)
    if seen in _checked:
        return True
    if hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest() != md5:
        return False
    _checked.add(seen)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by another user (or no signals on this platform)
        return True
    return True


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
