"""The native engine's shared library: compiled once per machine with g++ into the build cache, loaded by ctypes.

The library's name carries a hash of its source, the compiler, the flags and the CPU's
features, so a changed source or another machine builds its own, and a build never runs
on a CPU it was not made for. A file lock lets concurrent processes wait for one compile,
which runs in a process group of its own, ended with the process that started it
(:mod:`emu.engines.build_guard`). The library's SHA-256 is written beside it; a library that no
longer matches (truncated, damaged) is rebuilt before it is loaded. Flags are tried in
order (``-O3 -march=native`` with OpenMP first, plain ``-O2`` last); a set that fails
leaves a marker with the compiler's message, is reported on stderr when a slower set
is used instead, and is tried again by the next process.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from ..build_guard import guarded

__all__ = [
    "EngineBuild",
    "engine_library",
    "native_threads",
    "call_interruptibly",
    "SOURCE",
    "FLAG_SETS",
]

SOURCE = Path(__file__).with_name("loihi_engine.cpp")
COMMON_FLAGS = ("-std=c++17", "-shared", "-fPIC")
FLAG_SETS = (("-O3", "-march=native", "-fopenmp"), ("-O3", "-march=native"), ("-O2",))
THREADS_VARIABLE = "NEUROEMU_NATIVE_THREADS"
_POLL_S = 0.05  # how often a waiting caller looks for Ctrl-C


@dataclass(frozen=True)
class EngineBuild:
    """Where the library is, with which flags, and whether (and how long) this process compiled it."""

    path: Path
    flags: tuple[str, ...]
    compiled: bool
    seconds: float
    source_digest: str = ""

    @property
    def threaded(self) -> bool:
        """Whether the library runs samples on several OpenMP threads."""
        return "-fopenmp" in self.flags


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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _key(compiler: str, flags: tuple[str, ...]) -> str:
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout
    parts = (SOURCE.read_bytes(), compiler, version, flags, COMMON_FLAGS, _machine())
    return _sha256(repr(parts).encode())[:20]


def _compile(compiler: str, flags: tuple[str, ...], path: Path) -> str | None:
    """Compile into ``path`` (atomically) with its checksum; the compiler's message on failure."""
    tmp = path.with_suffix(f".tmp{os.getpid()}.so")
    cmd = [compiler, *COMMON_FLAGS, *flags, str(SOURCE), "-o", str(tmp)]
    result = subprocess.run(guarded(cmd), capture_output=True, text=True)
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        return f"{' '.join(cmd)} (exit status {result.returncode})\n{result.stderr}"
    _checksum_path(path).write_text(_sha256(tmp.read_bytes()))
    os.replace(tmp, path)
    return None


def _checksum_path(path: Path) -> Path:
    return path.with_suffix(".sha256")


def _intact(path: Path) -> bool:
    """Whether the library exists and matches the checksum written when it was built."""
    checksum = _checksum_path(path)
    if not path.exists() or not checksum.exists():
        return False
    return checksum.read_text().strip() == _sha256(path.read_bytes())


def _built(cache_dir: Path, compiler: str, flags: tuple[str, ...]) -> EngineBuild | None:
    """The library of ``flags`` in ``cache_dir``, (re)compiled here unless intact; None if it fails."""
    path = cache_dir / f"loihi_engine-{_key(compiler, flags)}.so"
    failed = path.with_suffix(".failed")
    source = _sha256(SOURCE.read_bytes())
    if _intact(path):
        return EngineBuild(path, flags, False, 0.0, source)
    with FileLock(str(path.with_suffix(".lock"))):
        if _intact(path):
            return EngineBuild(path, flags, False, 0.0, source)
        if path.exists():
            print(f"neuroemu: {path} does not match its checksum; rebuilding it", file=sys.stderr)
            path.unlink()
        start = time.perf_counter()
        error = _compile(compiler, flags, path)
        if error is not None:
            failed.write_text(error)
            return None
        failed.unlink(missing_ok=True)
        seconds = time.perf_counter() - start
    print(
        f"neuroemu: compiled the native Loihi engine in {seconds:.1f} s "
        f"({' '.join(flags)}) into {path}",
        file=sys.stderr,
    )
    return EngineBuild(path, flags, True, seconds, source)


@functools.cache
def engine_library(cache_dir: Path) -> tuple[ctypes.CDLL, EngineBuild]:
    """The loaded engine library of this machine, built in ``cache_dir / "native"`` on first use.

    When a faster flag set fails, the slower build used instead is reported on stderr with
    the file holding the compiler's message; the next process tries the faster set again.
    """
    directory = Path(cache_dir) / "native"
    directory.mkdir(parents=True, exist_ok=True)
    compiler = _compiler()
    failed: list[tuple[str, ...]] = []
    for flags in FLAG_SETS:
        build = _built(directory, compiler, flags)
        if build is None:
            failed.append(flags)
            continue
        if failed:
            markers = sorted(str(m) for m in directory.glob("loihi_engine-*.failed"))
            print(
                f"neuroemu: warning: the native engine did not compile with "
                f"{' or '.join(' '.join(f) for f in failed)} (messages in {markers}); this "
                f"run uses the slower {' '.join(flags)} build"
                + ("" if build.threaded else f" on one thread ({THREADS_VARIABLE} has no effect)")
                + "; the next run tries again",
                file=sys.stderr,
            )
        return ctypes.CDLL(str(build.path)), build
    markers = sorted(directory.glob("loihi_engine-*.failed"))
    raise RuntimeError(
        f"the native Loihi engine did not compile with any of {FLAG_SETS}; the compiler's "
        f"messages are in {[str(m) for m in markers]}"
    )


def native_threads(requested: int | str | None = None) -> int:
    """Threads per batch: ``requested`` or ``$NEUROEMU_NATIVE_THREADS`` (default 1), checked
    to lie in 1..the CPUs of this machine (ValueError otherwise)."""
    where = "threads"
    if requested is None:
        requested, where = os.environ.get(THREADS_VARIABLE, "1"), THREADS_VARIABLE
    cpus = os.cpu_count() or 1
    try:
        value = int(requested)
    except (TypeError, ValueError):
        value = None
    if value is None or not 1 <= value <= cpus or isinstance(requested, bool):
        raise ValueError(
            f"{where}={requested!r} is out of range: must be an integer in 1..{cpus} "
            "(the CPUs of this machine)"
        )
    return value


def _exit_if_running(done: threading.Event) -> None:
    if not done.is_set():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)


def call_interruptibly(function: Callable[..., int], *args: object, keep: object = None) -> int:
    """``function(*args)`` on a thread of its own, so that Ctrl-C reaches the caller at once.

    An interrupted call goes on in the background until it returns; ``keep`` (the arrays
    it writes into) stays referenced until then, and a process that exits meanwhile ends
    at once with status 130 rather than free memory the call still writes.
    """
    result: list[int] = []
    done = threading.Event()  # not Thread.join: an interrupted join marks the thread ended

    def call() -> None:
        try:
            result.append(function(*args))
        finally:
            done.set()

    thread = threading.Thread(target=call, daemon=True, name="neuroemu-native")
    thread.keep = keep  # type: ignore[attr-defined]
    thread.start()
    try:
        while not done.wait(_POLL_S):
            pass
    except KeyboardInterrupt:
        atexit.register(_exit_if_running, done)
        raise
    if not result:
        raise RuntimeError("the native engine call ended without a result")
    return result[0]
