"""Fault injection on build caches: damaged artefacts are rebuilt, failed builds retried and
reported, builds end with their parent, native batches end on Ctrl-C, threads are bounded.

Each case asserts traces equal to a run on a fresh cache, or a one-line error.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from fault_cases import BATCH, one_line_error, small_data, small_net

import emu.engines.standalone
from converters.chips.files import save_net
from emu import Emulation
from emu.engines.native import engine_library


@pytest.fixture(scope="module")
def net():
    return small_net()


@pytest.fixture(scope="module")
def data():
    return small_data()


@pytest.fixture(scope="module")
def clean(net, data, cache_dir):
    """The traces of a run on an intact cache (the native engine)."""
    return Emulation(net, "native", batch_size=BATCH, cache_dir=cache_dir).run(*data)


def _native(net, cache) -> Emulation:
    engine_library.cache_clear()  # as a new process would: look at the cache again
    return Emulation(net, "native", batch_size=BATCH, cache_dir=cache)


@pytest.mark.slow
def test_a_truncated_native_library_is_rebuilt(net, data, clean, tmp_path, capsys):
    build = "import sys; from emu.engines.native import engine_library; engine_library(sys.argv[1])"
    subprocess.run([sys.executable, "-c", build, str(tmp_path)], check=True)  # not mapped here
    (library,) = (tmp_path / "native").glob("*.so")
    library.write_bytes(library.read_bytes()[:4096])
    again = _native(net, tmp_path)
    assert again.backend.engine.compiled and again.backend.engine.path == library
    assert "does not match its checksum; rebuilding it" in capsys.readouterr().err
    xr.testing.assert_identical(again.run(*data), clean)


KILLED_ONCE = """#!/bin/sh
# a compiler killed (out of memory, full disk) while a flag file exists, else g++
case " $* " in *" -fopenmp "*) [ -e "{flag}" ] && kill -9 $$ ;; esac
exec g++ "$@"
"""


@pytest.mark.slow
def test_a_failed_native_build_is_reported_and_retried_by_the_next_run(
    net, data, clean, tmp_path, monkeypatch, capsys
):
    flag = tmp_path / "fail"
    flag.touch()
    compiler = tmp_path / "cxx"
    compiler.write_text(KILLED_ONCE.format(flag=flag))
    compiler.chmod(0o755)
    monkeypatch.setenv("CXX", str(compiler))
    slower = _native(net, tmp_path)
    assert "-fopenmp" not in slower.backend.engine.flags
    err = capsys.readouterr().err
    assert "did not compile with -O3 -march=native -fopenmp" in err
    assert "NEUROEMU_NATIVE_THREADS has no effect" in err and "the next run tries again" in err
    xr.testing.assert_identical(slower.run(*data), clean.assign_attrs(clean.attrs))
    flag.unlink()
    retried = _native(net, tmp_path)
    assert "-fopenmp" in retried.backend.engine.flags and retried.backend.engine.compiled
    assert "warning" not in capsys.readouterr().err
    assert not list((tmp_path / "native").glob("*.failed"))
    xr.testing.assert_identical(retried.run(*data), clean)


@pytest.mark.parametrize("threads", ["100000", "0", "-3", "lots"])
def test_a_thread_count_out_of_range_is_refused(net, data, cache_dir, monkeypatch, threads):
    monkeypatch.setenv("NEUROEMU_NATIVE_THREADS", threads)
    with pytest.raises(ValueError, match=r"NEUROEMU_NATIVE_THREADS=.* must be an integer in 1\.\."):
        Emulation(net, "native", batch_size=BATCH, cache_dir=cache_dir)


def test_the_command_line_reports_a_thread_bomb_in_one_line(
    net, cache_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("NEUROEMU_NATIVE_THREADS", "100000")
    monkeypatch.setenv("NEUROEMU_CACHE", str(cache_dir))
    save_net(net, tmp_path / "net.npz")
    np.save(tmp_path / "x.npy", small_data()[0])
    argv = ["run", str(tmp_path / "net.npz"), "--data", str(tmp_path / "x.npy")]
    err = one_line_error([*argv, "--device", "native", "--out", str(tmp_path / "t.h5")], capsys)
    assert "NEUROEMU_NATIVE_THREADS='100000' is out of range" in err
    assert not (tmp_path / "t.h5").exists()


# --- builds end with the process that started them ---------------------------------

SLOW_TOOL = """#!/bin/sh
# a compiler (or make) that starts a child and works for ten minutes
[ "$1" = "--version" ] && {{ echo "slow tool 1.0"; exit 0; }}
{python} -c "import time; time.sleep(600)" {marker} &
touch {started}
wait
"""

BUILDS = {
    "native": """
import sys
from emu.engines.native import engine_library
engine_library(sys.argv[1])
""",
    "cpp_standalone": """
import sys
sys.path.insert(0, "tests")
from fault_cases import small_data, small_net
from emu import Emulation
Emulation(small_net(), "cpp_standalone", batch_size=3, cache_dir=sys.argv[1]).run(*small_data())
""",
}


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("build", ["native", "cpp_standalone"])
def test_a_killed_build_leaves_no_compiler_running(tmp_path, monkeypatch, build):
    marker = f"neuroemu-fault-marker-{os.getpid()}-{build}"
    started = tmp_path / "started"
    tools = tmp_path / "bin"
    tools.mkdir()
    tool = tools / ("make" if build == "cpp_standalone" else "cxx")
    tool.write_text(SLOW_TOOL.format(python=sys.executable, marker=marker, started=started))
    tool.chmod(0o755)
    env = os.environ | {"PATH": f"{tools}:{os.environ['PATH']}"}
    if build == "native":
        env["CXX"] = str(tool)
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(BUILDS[build]), str(tmp_path / "cache")], env=env
    )
    deadline = time.monotonic() + 300
    while not started.exists():
        assert parent.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    assert _processes_with(marker)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _processes_with(marker)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "compiler processes outlived the run"


# --- Ctrl-C during a native batch ----------------------------------------------------

LONG_BATCH = """
import sys, time
sys.path.insert(0, "tests")
import numpy as np
from trace_examples import random_net
from emu import Emulation
net = random_net(seed=1, timesteps=20000, sizes=(1500, 1500, 5))  # about 7 s a sample
sim = Emulation(net, "native", batch_size=2, cache_dir=sys.argv[1])
x = np.random.default_rng(0).random((2, 1, 4, 4))
print("running", flush=True)
try:
    sim.run(x, progress=False)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


@pytest.mark.slow
def test_ctrl_c_ends_a_native_batch_within_a_second(cache_dir):
    child = subprocess.Popen(
        [sys.executable, "-c", LONG_BATCH, str(cache_dir)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "running"
    time.sleep(1.0)  # inside the engine call
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    code = child.wait(timeout=60)
    latency = time.monotonic() - sent
    assert code == 130 and child.stdout.read().strip() == "interrupted"
    print(f"Ctrl-C latency of a native batch: {latency:.2f} s")
    assert latency < 1.0


# --- cpp_standalone builds: parameter arrays, static arrays, object files ------------


@pytest.fixture(scope="module")
def standalone(net, data, tmp_path_factory):
    """A cpp_standalone build of its own and the traces of its first run."""
    cache = tmp_path_factory.mktemp("standalone-cache")
    return cache, _standalone(net, cache).run(*data)


def _standalone(net, cache) -> Emulation:
    emu.engines.standalone._checked.clear()  # as a new process would: check the parameter files again
    return Emulation(net, "cpp_standalone", batch_size=BATCH, cache_dir=cache)


def _flip(path: Path) -> None:
    path.write_bytes(bytes(b ^ 0x5A for b in path.read_bytes()))


@pytest.mark.slow
def test_a_corrupted_parameter_array_is_rewritten(net, data, standalone):
    cache, expected = standalone
    sim = _standalone(net, cache)
    arrays = sorted((sim.backend.build.directory / "static_arrays").glob("init_*.dat"))
    assert arrays
    for path in arrays:
        _flip(path)
    xr.testing.assert_identical(sim.run(*data), expected)
    assert not sim.backend.build.compiled


@pytest.mark.slow
def test_a_corrupted_build_array_rebuilds_the_project(net, data, standalone):
    cache, expected = standalone
    sim = _standalone(net, cache)
    recorded = json.loads((sim.backend.build.directory / "artefacts.json").read_text())
    arrays = [k for k in recorded if k.startswith("static_arrays")]
    if not arrays:
        pytest.skip("this build has no static arrays of its own")
    _flip(sim.backend.build.directory / arrays[0])
    xr.testing.assert_identical(sim.run(*data), expected)
    assert sim.backend.build.compiled


@pytest.mark.slow
def test_truncated_object_files_and_binary_are_rebuilt(net, data, standalone):
    cache, expected = standalone
    sim = _standalone(net, cache)
    directory = sim.backend.build.directory
    objects = sorted(directory.rglob("*.o"))
    assert objects
    for path in [directory / "main", *objects]:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    xr.testing.assert_identical(sim.run(*data), expected)
    assert sim.backend.build.compiled
