"""brian2cuda: the ``cuda_standalone`` device, configured for the machine it builds on.

brian2cuda asks ``nvidia-smi`` for the GPU and its compute capability, finds the CUDA
toolkit through ``nvcc`` and links cuRAND from the toolkit. :func:`prepare_cuda_device`
makes a build work where that falls short:

- no ``nvidia-smi`` (a build machine without a GPU): GPU detection is turned off and code
  is compiled for the compute capability ``$NEUROEMU_CUDA_CC`` (default 9.0, the H100);
- the toolkit directory is taken from ``$CUDA_PATH``, ``$CUDA_HOME`` or the ``nvcc`` found
  on the ``PATH`` (a wrapper script is followed to the toolkit it runs);
- a toolkit without cuRAND (CUDA 13 installs it separately) takes headers and library from
  the PyPI package ``nvidia-curand``;
- the CUB of CUDA 13 needs C++17 where brian2cuda's makefile asks for C++11, for nvcc and
  (through Brian2's ``-std=c++11`` in ``-Xcompiler``) for the host compiler: both get C++17.

Gaps of brian2cuda 1.0b1 that the emulation's networks meet are filled here:

- atomic in-place updates exist for int, float and double only; ``inp_post += w`` on an int64
  variable needs ``_brian_atomicAdd(int64_t*, int64_t)``;
- ``%`` and ``//`` compute in double, which is wrong beyond 2**53 (the Loihi input generator's
  ``rng * 1103515245 + 12345`` reaches 2**61); Brian2's C++ target computes them in integers.
  A header (:data:`SUPPORT_CODE`, included by every generated file) supplies both;
- ``-use_fast_math`` (brian2cuda's default) is dropped and ``--fmad=false`` added, so that no
  contracted multiply-add changes a result;
- the synapses template tests ``defaultclock.timestep`` (rather than its own clock's), which
  does not compile when no object runs on ``defaultclock``; an inactive one-neuron group on
  ``defaultclock`` is added to such networks (the test compares with a delay of 0, true
  whatever the timestep).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

__all__ = ["DEFAULT_COMPUTE_CAPABILITY", "CudaSetupError", "prepare_cuda_device", "cuda_toolkit"]

DEFAULT_COMPUTE_CAPABILITY = 9.0  # NVIDIA H100
CC_VARIABLE = "NEUROEMU_CUDA_CC"
NVCC_FLAGS = ("-std=c++17",)
# brian2cuda's default adds -use_fast_math: contracted multiply-adds could change integers
NVCC_DROPPED = ("-use_fast_math",)
NVCC_EXACT = ("--fmad=false",)
SUPPORT_CODE = """\
// written by neuroemu (emu/engines/cuda.py): exact int64 arithmetic that brian2cuda 1.0b1 lacks.
// Non-template overloads win over brian2cuda's templates, which compute in double.
#pragma once
#include <stdint.h>
#ifdef __CUDACC__
inline __device__ int64_t _brian_atomicAdd(int64_t* address, int64_t val)
{
    // two's complement: the unsigned sum has the bits of the signed one
    return (int64_t)atomicAdd((unsigned long long int*)address, (unsigned long long int)val);
}
#define NEUROEMU_HD __host__ __device__
#else
#define NEUROEMU_HD
#endif
// Python's floor division and modulo (the divisor's sign), as Brian2's C++ target has them
inline NEUROEMU_HD int64_t _neuroemu_floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    int64_t r = a - q * b;
    return q - ((r != 0) & ((r ^ b) < 0));
}
inline NEUROEMU_HD int64_t _neuroemu_mod(int64_t a, int64_t b)
{
    int64_t r = a % b;
    return r + b * ((r != 0) & ((r ^ b) < 0));
}
inline NEUROEMU_HD int64_t _brian_floordiv(int64_t a, int64_t b) { return _neuroemu_floordiv(a, b); }
inline NEUROEMU_HD int64_t _brian_floordiv(int64_t a, int32_t b) { return _neuroemu_floordiv(a, b); }
inline NEUROEMU_HD int64_t _brian_floordiv(int32_t a, int64_t b) { return _neuroemu_floordiv(a, b); }
inline NEUROEMU_HD int64_t _brian_mod(int64_t a, int64_t b) { return _neuroemu_mod(a, b); }
inline NEUROEMU_HD int64_t _brian_mod(int64_t a, int32_t b) { return _neuroemu_mod(a, b); }
inline NEUROEMU_HD int64_t _brian_mod(int32_t a, int64_t b) { return _neuroemu_mod(a, b); }
"""


class CudaSetupError(RuntimeError):
    """The machine lacks something a CUDA build needs (brian2cuda, nvcc, cuRAND)."""


def prepare_cuda_device(cache_dir: Path) -> None:
    """Import brian2cuda (which registers ``cuda_standalone``) and set it up for this machine.

    Called before ``brian2.set_device("cuda_standalone")``; safe to call again. The
    support files (header, cuRAND link) go to ``<cache_dir>/cuda-support``.

    Raises
    ------
    ImportError
        brian2cuda is not installed.
    CudaSetupError
        No ``nvcc``, no cuRAND, or an invalid ``$NEUROEMU_CUDA_CC``.
    """
    try:
        import brian2cuda  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "device 'cuda_standalone' needs brian2cuda: pip install 'neuroemu[cuda]' "
            "(Python >= 3.12, brian2 2.10)"
        ) from error
    import brian2
    from brian2.devices.device import all_devices

    backend = brian2.prefs.devices.cuda_standalone.cuda_backend
    toolkit = cuda_toolkit()
    _choose_gpu(backend, toolkit)
    include, lib = _curand(toolkit)
    flags = [f for f in backend.extra_compile_args_nvcc if f not in NVCC_DROPPED]
    flags += [f for f in NVCC_FLAGS + NVCC_EXACT if f not in flags]
    device = all_devices["cuda_standalone"]
    _host_cxx17(device)
    _defaultclock_object(device)
    support = Path(cache_dir) / "cuda-support"
    support.mkdir(parents=True, exist_ok=True)
    for path in (include, support):
        if path is not None and str(path) not in device.include_dirs:
            device.include_dirs.append(str(path))  # host compiler (-Xcompiler)
            if f"-I{path}" not in flags:
                flags.append(f"-I{path}")
    backend.extra_compile_args_nvcc = flags
    # the header's name carries a digest of the configuration: every generated file
    # includes it, so a change of header, flags or compute capability recompiles them all
    settings = repr((SUPPORT_CODE, flags, backend.compute_capability))
    header = f"neuroemu_cuda_{hashlib.sha256(settings.encode()).hexdigest()[:12]}.h"
    _write_atomic(support / header, SUPPORT_CODE)
    device.headers[:] = [h for h in device.headers if not h.startswith('"neuroemu_cuda')]
    device.headers.append(f'"{header}"')
    if lib is not None:
        for dirs, path in (
            (device.library_dirs, _link_directory(lib, support)),
            (device.runtime_library_dirs, lib),
        ):
            if str(path) not in dirs:
                dirs.append(str(path))


def _choose_gpu(backend, toolkit: Path) -> None:
    """Point brian2cuda at the toolkit; without ``nvidia-smi``, at GPU 0 of a set capability."""
    backend.cuda_path = str(toolkit)
    cc = os.environ.get(CC_VARIABLE)
    if shutil.which("nvidia-smi") is None:
        backend.detect_gpus = False
        if backend.gpu_id is None:
            backend.gpu_id = 0
        cc = cc or str(DEFAULT_COMPUTE_CAPABILITY)
    if cc:
        backend.compute_capability = _compute_capability(cc)


def _host_cxx17(device) -> None:
    """Have the device's makefile pass ``-std=c++17`` instead of C++11 to the host compiler.

    The flags are Brian2's ``codegen.cpp.extra_compile_args_gcc``, shared with
    cpp_standalone builds, so they are changed for this device's makefile only.
    """
    if getattr(device, "_neuroemu_cxx17", False):
        return
    generate_makefile = device.generate_makefile

    def generate(writer, cpp_compiler, cpp_compiler_flags, *args, **kwargs):
        flags = [f for f in cpp_compiler_flags if not f.startswith("-std=")] + list(NVCC_FLAGS)
        return generate_makefile(writer, cpp_compiler, flags, *args, **kwargs)

    device.generate_makefile = generate
    device._neuroemu_cxx17 = True


def _defaultclock_object(device) -> None:
    """Give every network run on the device an object on ``defaultclock`` (see above)."""
    if getattr(device, "_neuroemu_defaultclock", False):
        return
    network_run = device.network_run

    def run(net, *args, **kwargs):
        import brian2

        if all(obj.clock is not brian2.defaultclock for obj in net.sorted_objects):
            anchor = brian2.NeuronGroup(
                1, "", clock=brian2.defaultclock, name="neuroemu_defaultclock"
            )
            anchor.active = False
            net.add(anchor)
        return network_run(net, *args, **kwargs)

    device.network_run = run
    device._neuroemu_defaultclock = True


def cuda_toolkit() -> Path:
    """The CUDA toolkit directory (the one holding ``bin/nvcc``).

    ``$CUDA_PATH`` or ``$CUDA_HOME`` if set, else derived from ``nvcc`` on the ``PATH``.
    """
    for variable in ("CUDA_PATH", "CUDA_HOME"):
        value = os.environ.get(variable)
        if value:
            path = Path(value).expanduser()
            if not (path / "bin" / "nvcc").exists():
                raise CudaSetupError(f"${variable}={value} has no bin/nvcc")
            return path
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        raise CudaSetupError(
            "device 'cuda_standalone' needs the CUDA toolkit's nvcc: put it on the PATH or "
            "set CUDA_PATH to the toolkit directory (the one holding bin/nvcc)"
        )
    nvcc_path = Path(nvcc).resolve()
    toolkit = nvcc_path.parent.parent
    if (toolkit / "include" / "cuda_runtime.h").exists():
        return toolkit
    # a wrapper script (e.g. /usr/local/bin/nvcc running /usr/local/cuda-13.0/bin/nvcc)
    try:
        text = nvcc_path.read_text(errors="replace")[:4096]
    except OSError:
        text = ""
    for match in re.finditer(r"(/\S+)/bin/nvcc\b", text):
        candidate = Path(match.group(1))
        if (candidate / "bin" / "nvcc").exists():
            return candidate
    return toolkit  # nvcc still finds its own headers; brian2cuda only needs bin/nvcc


def _compute_capability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value < 5.0:
        raise CudaSetupError(
            f"${CC_VARIABLE}={text!r}: expected a compute capability such as 9.0 (H100), "
            "8.0 (A100) or 8.9 (L4)"
        )
    return value


def _curand(toolkit: Path) -> tuple[Path | None, Path | None]:
    """Include and library directories of cuRAND; (None, None) when the toolkit has it."""
    if (toolkit / "include" / "curand.h").exists():
        return None, None
    try:
        import nvidia.cu13  # nvidia-curand >= 10.4 (CUDA 13)

        roots = [Path(p) for p in nvidia.cu13.__path__]
    except ImportError:
        roots = []
    try:
        import nvidia.curand  # nvidia-curand-cu12

        roots += [Path(p) for p in nvidia.curand.__path__]
    except ImportError:
        pass
    for root in roots:
        if (root / "include" / "curand.h").exists() and list((root / "lib").glob("libcurand.so*")):
            return root / "include", root / "lib"
    raise CudaSetupError(
        f"the CUDA toolkit at {toolkit} has no cuRAND (include/curand.h): "
        "pip install nvidia-curand, or point CUDA_PATH to a toolkit with cuRAND"
    )


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` unless the file holds it already (atomic for concurrent processes)."""
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)


def _link_directory(lib: Path, directory: Path) -> Path:
    """A directory with ``libcurand.so`` for ``-lcurand``.

    The wheel ships ``libcurand.so.10`` only; the link goes to ``directory``.
    """
    if (lib / "libcurand.so").exists():
        return lib
    target = max(lib.glob("libcurand.so.*"))
    link = directory / "libcurand.so"
    if not link.exists() or link.resolve() != target.resolve():
        tmp = directory / f".libcurand.so.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(target)
        tmp.replace(link)  # atomic: safe when several processes prepare at once
    return directory
