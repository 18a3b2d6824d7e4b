"""brian2cuda (``device="cuda_standalone"``): the CUDA project builds where nvcc exists, and on
a GPU it gives the integers of cpp_standalone.

Needs the GPU environment of the README (Python >= 3.12, ``pip install -e .[cuda]``); without
brian2cuda or nvcc every test is skipped, without ``nvidia-smi`` the run is.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from loihi_cases import random_net

from converters.chips.akida import AkidaLayer, AkidaNet, weight_range
from emu import Emulation


def _build_skip() -> str | None:
    """Why a CUDA project cannot be built here, or None."""
    try:
        import brian2cuda  # noqa: F401
    except ImportError:
        return "brian2cuda not installed (needs Python >= 3.12; see README, GPU (brian2cuda))"
    from emu.engines.cuda import CudaSetupError, cuda_toolkit

    try:
        cuda_toolkit()
    except CudaSetupError as error:
        return str(error)
    return None


BUILD_SKIP = _build_skip()
needs_nvcc = pytest.mark.skipif(BUILD_SKIP is not None, reason=BUILD_SKIP or "")
needs_gpu = pytest.mark.skipif(
    shutil.which("nvidia-smi") is None, reason="no GPU (nvidia-smi not found)"
)


def loihi_net():
    """Rate-coded input (generator group), two layers, sources sharing rows (fan-out cells)."""
    return random_net(
        np.random.default_rng(7), encoding="rate", timesteps=24, sizes=(8, 6), n_in=10,
        shared_rows=True, reset="subtract",
    )  # fmt: skip


def _akida_layer(name, kind, shape, rng, in_bits, kernel=None, units=None, act_bits=4, **kw):
    """Random 4-bit weights; thresholds and steps on the scale of the layer's potentials."""
    h, w, c = shape
    wshape = (h * w * c, units) if kind == "dense" else (kernel, kernel, c, units)
    low, high = weight_range(4)
    weights = rng.integers(low, high + 1, wshape).astype(np.int8)
    spread = np.sqrt(np.prod(wshape[:-1])) * high * (2**in_bits - 1) / 2 + 1
    threshold = rng.integers(-int(spread), int(spread) + 1, units)
    act_step = np.maximum(np.floor(rng.uniform(0, spread / 4, units) * 16) / 16, 1 / 16)
    return AkidaLayer(name, kind, shape, weights, threshold, act_step, 4, act_bits, **kw)


def akida_net():
    """Max pooling, global average pooling (saturating sum in order) and a dense output."""
    rng = np.random.default_rng(8)
    specs = [
        ("c0", "input_conv", dict(kernel=3, units=4, pool="max", pool_size=(2, 2),
                                  pool_stride=(2, 2))),
        ("c1", "conv", dict(kernel=3, units=5, pool="global_avg")),
        ("out", "dense", dict(units=3, act_bits=None)),
    ]  # fmt: skip
    layers, shape, bits = [], (8, 8, 2), 8
    for name, kind, kw in specs:
        layer = _akida_layer(name, kind, shape, rng, bits, **kw)
        layers.append(layer)
        shape, bits = layer.output_shape, layer.act_bits or 0
    return AkidaNet((8, 8, 2), 8, layers)


NETS = {"loihi": (loihi_net, {"l0": [0, 3]}), "akida": (akida_net, {"c0": [0, 5]})}
SAMPLES = 5  # two batches of 4: the second padded


@pytest.fixture(scope="module")
def cuda_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cuda_builds")


def _emulation(target: str, device: str, cache) -> Emulation:
    make, probe = NETS[target]
    return Emulation(
        make(), device=device, batch_size=4, cache_dir=cache, record_events=True, probe=probe
    )


def _samples(emulation: Emulation) -> np.ndarray:
    net = emulation.net
    rng = np.random.default_rng(3)
    if net.target == "loihi":
        return rng.random((SAMPLES, *net.input.shape))
    h, w, c = net.input_shape
    return rng.random((SAMPLES, c, h, w))


@needs_nvcc
@pytest.mark.parametrize("target", sorted(NETS))
def test_cuda_project_builds(target, cuda_cache):
    emulation = _emulation(target, "cuda_standalone", cuda_cache)
    build = emulation.backend.build
    build.activate()
    assert (build.directory / "main").exists()
    assert "-std=c++17" in (build.directory / "makefile").read_text()


@needs_nvcc
@needs_gpu
@pytest.mark.parametrize("target", sorted(NETS))
def test_cuda_matches_cpp_standalone(target, cuda_cache):
    cuda = _emulation(target, "cuda_standalone", cuda_cache)
    samples = _samples(cuda)
    on_gpu = cuda.run(samples)
    on_cpu = _emulation(target, "cpp_standalone", cuda_cache).run(samples)
    assert set(on_gpu.data_vars) == set(on_cpu.data_vars)
    events = [name for name in on_cpu.data_vars if name.startswith("event_")]
    for name in set(on_cpu.data_vars) - set(events):
        np.testing.assert_array_equal(on_gpu[name].values, on_cpu[name].values, err_msg=name)
    # brian2cuda's spike lists are unordered within a step: compare the rasters as sets
    np.testing.assert_array_equal(_sorted_events(on_gpu, events), _sorted_events(on_cpu, events))


def _sorted_events(traces, names: list[str]) -> np.ndarray:
    columns = np.stack([traces[name].values for name in names])
    return columns[:, np.lexsort(columns[::-1])]
