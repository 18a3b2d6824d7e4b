"""Fault injection on outputs: one run owns its output, merges are checked, resumes are versioned.

Each case asserts a one-line error with nothing lost, or traces equal to an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from fault_cases import BATCH, one_line_error, small_data, small_net

import emu.emulation
import emu.traces.store
from converters.chips.files import save_net
from emu import Emulation, load_traces, shard_directory
from emu.traces import TraceFormatError
from emu.traces.output_lock import OutputInUseError, OutputLock, lock_path


@pytest.fixture(scope="module")
def net():
    return small_net()


@pytest.fixture(scope="module")
def data():
    return small_data()


def _sim(net, cache_dir) -> Emulation:
    return Emulation(net, "native", batch_size=BATCH, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def clean(net, data, cache_dir):
    """The traces of an uninterrupted run."""
    return _sim(net, cache_dir).run(*data)


@pytest.fixture()
def files(net, data, tmp_path):
    """The network and the samples as files for the command line."""
    save_net(net, tmp_path / "net.npz")
    np.savez(tmp_path / "data.npz", x=data[0], y=data[1])
    return str(tmp_path / "net.npz"), str(tmp_path / "data.npz")


HOLDER = """
import sys, time
from emu.traces.output_lock import OutputLock
OutputLock(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(600)
"""


def test_a_second_run_on_a_held_output_is_refused_naming_the_owner(
    net, data, clean, cache_dir, tmp_path, files, capsys, monkeypatch
):
    monkeypatch.setenv("NEUROEMU_CACHE", str(cache_dir))
    out = tmp_path / "run.h5"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        argv = ["run", files[0], "--data", files[1], "--device", "native", "--out", str(out)]
        err = one_line_error([*argv, "--batch-size", str(BATCH)], capsys)
        assert f"another run is writing {out} (pid {holder.pid})" in err
        assert not out.exists() and not shard_directory(out).exists()
        with pytest.raises(OutputInUseError, match=f"pid {holder.pid}"):
            _sim(net, cache_dir).run(*data, out=out)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the owner was killed: its lock file is left, but the kernel released the lock
    assert lock_path(out).exists()
    xr.testing.assert_identical(_sim(net, cache_dir).run(*data, out=out), clean)
    assert not lock_path(out).exists() and not shard_directory(out).exists()


RACER = """
import sys
import numpy as np
from converters.chips.files import load_net
from emu import Emulation
from emu.traces.output_lock import OutputInUseError
net, data, cache, out = sys.argv[1:]
d = np.load(data)
try:
    Emulation(load_net(net), "native", batch_size=1, cache_dir=cache).run(d["x"], d["y"], out=out)
except OutputInUseError as err:
    print("refused:", err)
    sys.exit(3)
"""


@pytest.mark.slow
def test_concurrent_runs_with_different_inputs_on_one_output(net, data, cache_dir, tmp_path, files):
    """Four runs, two inputs, one output: the traces on disk are those of the run that
    exited 0 last, every other run is refused or finishes its own."""
    x, y = data
    np.savez(tmp_path / "other.npz", x=x[::-1].copy(), y=y[::-1].copy())
    out = tmp_path / "run.h5"
    inputs = [files[1], str(tmp_path / "other.npz")] * 2
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, files[0], d, str(cache_dir), str(out)],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for d in inputs
    ]
    codes = [r.wait(timeout=300) for r in runs]
    assert set(codes) <= {0, 3} and 0 in codes
    for run, code in zip(runs, codes, strict=True):
        if code == 3:
            assert "another run is writing" in run.stdout.read()
    written = load_traces(out)
    sim = Emulation(net, "native", batch_size=1, cache_dir=cache_dir)
    expected = [sim.run(x, y), sim.run(x[::-1].copy(), y[::-1].copy())]
    assert any(written.identical(e) for e in expected)


def test_a_shard_changed_before_the_merge_is_found_and_kept(
    net, data, clean, cache_dir, tmp_path, monkeypatch
):
    out = tmp_path / "run.h5"
    check = emu.traces.store.ShardStore._check_before_merge

    def damage_then_check(store, starts):
        shard = sorted(store.directory.glob("shard_*.h5"))[1]
        shard.write_bytes(shard.read_bytes()[:-100])
        return check(store, starts)

    monkeypatch.setattr(emu.traces.store.ShardStore, "_check_before_merge", damage_then_check)
    with pytest.raises(TraceFormatError, match="does not match its recorded checksum"):
        _sim(net, cache_dir).run(*data, out=out)
    assert not out.exists() and len(list(shard_directory(out).glob("shard_*.h5"))) == 4
    assert not lock_path(out).exists()
    monkeypatch.undo()
    xr.testing.assert_identical(_sim(net, cache_dir).run(*data, out=out), clean)


def _interrupted(net, data, cache_dir, out, monkeypatch) -> None:
    """A run that stops before the merge, as if killed, its shards on disk."""
    with monkeypatch.context() as m:
        m.setattr(emu.traces.store.ShardStore, "finish", lambda self: (_ for _ in ()).throw(
            KeyboardInterrupt()))  # fmt: skip
        with pytest.raises(KeyboardInterrupt):
            _sim(net, cache_dir).run(*data, out=out)
    assert len(list(shard_directory(out).glob("shard_*.h5"))) == 4


@pytest.mark.parametrize(
    ("change", "named"),
    [("version", "version: '"), ("code", "engine.code: '"), ("library", "engine.library: '")],
)
def test_a_resume_across_versions_is_refused_naming_what_differs(
    net, data, clean, cache_dir, tmp_path, monkeypatch, change, named
):
    out = tmp_path / "run.h5"
    _interrupted(net, data, cache_dir, out, monkeypatch)
    before = sorted(p.read_bytes() for p in shard_directory(out).iterdir())
    with monkeypatch.context() as m:
        if change == "version":
            m.setattr(emu.emulation, "package_versions", lambda: {"neuroemu": "99.0"})
        elif change == "code":
            m.setattr(emu.emulation, "code_digest", lambda backend: "another engine")
        else:
            sim = _sim(net, cache_dir)
            m.setattr(sim.backend, "engine", type("Build", (), {"source_digest": "other"})())
        sim = sim if change == "library" else _sim(net, cache_dir)
        with pytest.raises(ValueError, match=f"holds shards of a different run.*{named}"):
            sim.run(*data, out=out)
    assert sorted(p.read_bytes() for p in shard_directory(out).iterdir()) == before
    xr.testing.assert_identical(_sim(net, cache_dir).run(*data, out=out), clean)


def test_the_manifest_records_version_and_engine(net, data, cache_dir, tmp_path, monkeypatch):
    out = tmp_path / "run.h5"
    _interrupted(net, data, cache_dir, out, monkeypatch)
    manifest = json.loads((shard_directory(out) / "manifest.json").read_text())
    assert manifest["version"] == emu.traces.package_versions()["neuroemu"]
    assert len(manifest["engine"]["code"]) == 64 and len(manifest["engine"]["library"]) == 64


@pytest.mark.parametrize("node", ["fifo", "devnull", "directory"])
@pytest.mark.parametrize("command", ["run", "convert", "nir import", "estimate"])
def test_an_output_that_is_not_a_regular_file_is_refused(tmp_path, files, capsys, node, command):
    if node == "fifo":
        out = tmp_path / "pipe"
        os.mkfifo(out)
    elif node == "devnull":
        out = "/dev/null"
    else:
        out = tmp_path
    argv = {
        "run": ["run", files[0], "--data", files[1], "--out", str(out)],
        "convert": ["convert", files[0], "--out", str(out)],
        "nir import": ["nir", "import", files[0], "--out", str(out)],
        "estimate": ["estimate", files[1], "--net", files[0], "--out", str(out)],
    }[command]
    err = one_line_error(argv, capsys)
    assert "regular file" in err or "is a directory" in err
    if node == "fifo":
        assert stat.S_ISFIFO(os.stat(out).st_mode)
    if node == "devnull":
        assert stat.S_ISCHR(os.stat(out).st_mode)


def test_the_api_refuses_a_fifo_output(net, data, cache_dir, tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ValueError, match="not a regular file"):
        _sim(net, cache_dir).run(*data, out=tmp_path / "pipe")
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)


def test_a_foreign_shard_directory_is_refused_and_left_untouched(
    net, data, clean, cache_dir, tmp_path
):
    out = tmp_path / "run.h5"
    foreign = shard_directory(out)
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("years of work")
    (foreign / "shard_00000000_00000002.h5").write_bytes(b"not ours either")
    with pytest.raises(ValueError, match="was not made by a neuroemu run"):
        _sim(net, cache_dir).run(*data, out=out)
    assert sorted(p.name for p in foreign.iterdir()) == [
        "shard_00000000_00000002.h5",
        "thesis.tex",
    ]
    assert (foreign / "thesis.tex").read_text() == "years of work"


def test_files_put_into_a_run_directory_survive_the_merge(
    net, data, clean, cache_dir, tmp_path, monkeypatch
):
    out = tmp_path / "run.h5"
    _interrupted(net, data, cache_dir, out, monkeypatch)
    (shard_directory(out) / "notes.txt").write_text("mine")
    xr.testing.assert_identical(_sim(net, cache_dir).run(*data, out=out), clean)
    assert [p.name for p in shard_directory(out).iterdir()] == ["notes.txt"]


def test_a_lock_released_by_its_owner_can_be_taken_again(tmp_path):
    lock = OutputLock(tmp_path / "x.h5")
    lock.acquire()
    with pytest.raises(OutputInUseError, match=f"pid {os.getpid()}"):
        OutputLock(tmp_path / "x.h5").acquire()
    lock.release()
    with OutputLock(tmp_path / "x.h5"):
        assert lock_path(tmp_path / "x.h5").read_text().strip() == str(os.getpid())
    assert not lock_path(tmp_path / "x.h5").exists()
