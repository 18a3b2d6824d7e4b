"""Runs over many samples: worker processes, resumed shards and a Dask cluster give one run's traces."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace

import h5py
import numpy as np
import pytest
import xarray as xr
from trace_examples import random_net

from converters.chips.files import save_net
from converters.chips.loihi import LoihiInput, input_seeds
from emu import Emulation, load_traces, shard_directory
from emu.engines import loihi_reference as ref
from emu.traces.store import MANIFEST, file_checksum
from neuroemu.commands import main

BATCH = 2
SAMPLES = 16

# an interrupted run: this process is killed once its first shard is on disk
CHILD = """
import sys
import numpy as np
from converters.chips.files import load_net
from emu import Emulation
net_path, data_path, cache_dir, out = sys.argv[1:]
data = np.load(data_path)
Emulation(load_net(net_path), "cpp_standalone", batch_size={batch},
          cache_dir=cache_dir, record_events=True).run(data["x"], data["y"], out=out)
"""


@pytest.fixture(scope="module")
def net():
    """A 16-24-16-5 network with rate-coded inputs (per-sample seeds must survive chunking)."""
    return replace(random_net(seed=3, timesteps=24), input=LoihiInput((1, 4, 4), "rate"))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(8)
    return rng.random((SAMPLES, 1, 4, 4)), rng.integers(0, 5, SAMPLES)


def _emulation(net, cache_dir) -> Emulation:
    return Emulation(
        net, "cpp_standalone", batch_size=BATCH, cache_dir=cache_dir, record_events=True
    )


@pytest.fixture(scope="module")
def single(net, data, cache_dir):
    """The traces of one in-process run (which also compiles the build the others reuse)."""
    x, y = data
    return _emulation(net, cache_dir).run(x, y)


def test_single_process_run_matches_the_numpy_reference(net, data, single):
    levels = net.input.levels(data[0])
    expected = ref.simulate(net, levels, seeds=input_seeds(SAMPLES, net.input.size))
    for layer in net.layer_names:
        np.testing.assert_array_equal(single[f"spike_count_{layer}"].values, expected.counts[layer])
    np.testing.assert_array_equal(single["spikes_per_step"].values, expected.spikes_per_step)
    assert single["spikes_per_step"].values.sum() > 100


def test_two_worker_processes_merge_into_the_single_process_traces(
    net, data, single, cache_dir, tmp_path
):
    out = tmp_path / "run.h5"
    traces = _emulation(net, cache_dir).run(*data, workers=2, out=out)
    xr.testing.assert_identical(traces, single)
    xr.testing.assert_identical(load_traces(out), single)
    assert not shard_directory(out).exists()


@pytest.fixture(scope="module")
def interrupted(net, data, cache_dir, tmp_path_factory):
    """The shard directory of a run killed in a child process once its first shard was written."""
    tmp = tmp_path_factory.mktemp("interrupted")
    save_net(net, tmp / "net.npz")
    np.savez(tmp / "data.npz", x=data[0], y=data[1])
    shards = shard_directory(tmp / "run.h5")
    args = [str(tmp / "net.npz"), str(tmp / "data.npz"), str(cache_dir), str(tmp / "run.h5")]
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(batch=BATCH), *args])
    deadline = time.monotonic() + 300
    while not list(shards.glob("shard_*.h5")):
        assert child.poll() is None, "the run ended before writing a shard"
        assert time.monotonic() < deadline, "no shard written in 300 s"
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    finished = sorted(shards.glob("shard_*.h5"))
    assert 1 <= len(finished) < SAMPLES // BATCH
    return shards


def _resume_from(interrupted, out) -> tuple[str, int]:
    """Copy the interrupted run's shards to ``out``'s shard directory and mark the first one."""
    shutil.copytree(interrupted, shard_directory(out))
    return _mark(sorted(shard_directory(out).glob("shard_*.h5"))[0])


def _mark(shard) -> tuple[str, int]:
    """Add 1000 to the first count of a finished shard, so that reusing it shows in the result.

    The shard's checksum in the manifest is updated, as if the run had recorded that value.
    """
    with h5py.File(shard, "r+") as f:
        name = sorted(k for k in f if k.startswith("spike_count_"))[0]
        f[name][0, 0] += 1000
    manifest_path = shard.parent / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["shards"][shard.name] = file_checksum(shard)
    manifest_path.write_text(json.dumps(manifest))
    return name, int(shard.name.split("_")[1])


def _assert_resumed(traces: xr.Dataset, single: xr.Dataset, name: str, sample: int) -> None:
    expected = single.copy(deep=True)
    expected[name][sample, 0] += 1000
    xr.testing.assert_identical(traces, expected)


def test_rerun_of_an_interrupted_run_keeps_finished_shards(
    net, data, single, interrupted, cache_dir, tmp_path
):
    name, sample = _resume_from(interrupted, tmp_path / "run.h5")
    traces = _emulation(net, cache_dir).run(*data, out=tmp_path / "run.h5")
    _assert_resumed(traces, single, name, sample)
    _assert_resumed(load_traces(tmp_path / "run.h5"), single, name, sample)


def test_shards_of_another_run_are_refused(net, data, cache_dir, tmp_path):
    out = tmp_path / "run.h5"
    shard_directory(out).mkdir()
    (shard_directory(out) / "manifest.json").write_text('{"total_samples": 3}')
    with pytest.raises(ValueError, match="holds shards of a different run"):
        _emulation(net, cache_dir).run(*data, out=out)


@pytest.mark.parametrize(
    ("change", "differs"),
    [
        ("samples", "inputs_digest"),
        ("labels", "inputs_digest"),
        ("seed", "settings.seed"),
        ("events", "settings.record_events"),
    ],
)
def test_a_resume_with_other_inputs_or_settings_is_refused_naming_the_difference(
    net, data, interrupted, cache_dir, tmp_path, change, differs
):
    shutil.copytree(interrupted, shard_directory(tmp_path / "run.h5"))
    x, y = data
    kwargs = dict(batch_size=BATCH, cache_dir=cache_dir, record_events=change != "events")
    x = x[::-1].copy() if change == "samples" else x
    y = (y + 1) % 5 if change == "labels" else y
    sim = Emulation(net, "cpp_standalone", seed=1 if change == "seed" else 0, **kwargs)
    with pytest.raises(ValueError, match=f"holds shards of a different run.*{differs}"):
        sim.run(x, y, out=tmp_path / "run.h5")


@pytest.mark.parametrize("damage", ["byte", "truncate", "unlisted", "part"])
def test_damaged_shards_and_leftovers_are_recomputed_before_the_run(
    net, data, single, interrupted, cache_dir, tmp_path, damage
):
    shards = shard_directory(tmp_path / "run.h5")
    shutil.copytree(interrupted, shards)
    first = sorted(shards.glob("shard_*.h5"))[0]
    if damage == "byte":
        with h5py.File(first, "r+") as f:
            f[sorted(k for k in f if k.startswith("spike_count_"))[0]][0, 0] += 1
    elif damage == "truncate":
        first.write_bytes(first.read_bytes()[: first.stat().st_size // 2])
    elif damage == "unlisted":
        manifest = json.loads((shards / MANIFEST).read_text())
        del manifest["shards"][first.name]
        (shards / MANIFEST).write_text(json.dumps(manifest))
    else:
        (shards / f".{first.name}.abc123.part").write_bytes(b"half a shard")
    traces = _emulation(net, cache_dir).run(*data, out=tmp_path / "run.h5")
    xr.testing.assert_identical(traces, single)
    assert not shards.exists()


def test_events_after_a_run_without_events_use_a_build_of_their_own(net, data, cache_dir):
    plain = Emulation(net, "cpp_standalone", batch_size=BATCH, cache_dir=cache_dir)
    with_events = _emulation(net, cache_dir)
    assert plain.backend.build_key() != with_events.backend.build_key()
    x, y = data
    plain.run(x[:4], y[:4])
    traces = with_events.run(x[:4], y[:4])
    assert traces.sizes["event"] == int(traces["spikes_per_step"].sum())


def test_runs_leave_no_results_directories(net, data, cache_dir):
    """Each run's results are removed once read, and so are those of killed processes."""
    sim = _emulation(net, cache_dir)
    sim.run(*data, workers=2)
    build = sim.backend.build.directory
    assert not [p.name for p in build.glob("results_*")]


CONCURRENT = """
import sys
import numpy as np
from converters.chips.files import load_net
from emu import Emulation, save_traces
net_path, data_path, cache_dir, out = sys.argv[1:]
data = np.load(data_path)
traces = Emulation(load_net(net_path), "cpp_standalone", batch_size={batch},
                   cache_dir=cache_dir, record_events=True).run(data["x"], data["y"])
save_traces(traces, out)
"""


def test_two_processes_on_one_cache_each_get_their_own_results(
    net, data, single, cache_dir, tmp_path
):
    save_net(net, tmp_path / "net.npz")
    x, y = data
    other = np.random.default_rng(11).random(x.shape)
    np.savez(tmp_path / "a.npz", x=x, y=y)
    np.savez(tmp_path / "b.npz", x=other, y=y)
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                CONCURRENT.format(batch=BATCH),
                str(tmp_path / "net.npz"),
                str(tmp_path / f"{k}.npz"),
                str(cache_dir),
                str(tmp_path / f"{k}.h5"),
            ]
        )  # fmt: skip
        for k in ("a", "b")
    ]
    assert [child.wait(timeout=600) for child in children] == [0, 0]
    alone = _emulation(net, cache_dir).run(other, y)
    for k, expected in (("a", single), ("b", alone)):
        got = load_traces(tmp_path / f"{k}.h5")
        for var in expected.data_vars:
            np.testing.assert_array_equal(got[var].values, expected[var].values, err_msg=k)


WORKERS = """
import sys
import numpy as np
from converters.chips.files import load_net
from emu import Emulation
net_path, data_path, cache_dir = sys.argv[1:]
data = np.load(data_path)
x = np.concatenate([data["x"]] * 40)
Emulation(load_net(net_path), "cpp_standalone", batch_size={batch},
          cache_dir=cache_dir).run(x, workers=2)
"""


def _children(pid: int) -> list[int]:
    path = f"/proc/{pid}/task/{pid}/children"
    return [int(p) for p in open(path).read().split()] if os.path.exists(path) else []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_worker_processes_end_when_their_parent_is_killed(net, data, single, cache_dir, tmp_path):
    save_net(net, tmp_path / "net.npz")
    np.savez(tmp_path / "data.npz", x=data[0], y=data[1])
    args = [str(tmp_path / "net.npz"), str(tmp_path / "data.npz"), str(cache_dir)]
    parent = subprocess.Popen([sys.executable, "-c", WORKERS.format(batch=BATCH), *args])
    deadline = time.monotonic() + 300
    while len(workers := _children(parent.pid)) < 2:
        assert parent.poll() is None, "the run ended before starting its workers"
        assert time.monotonic() < deadline, "no workers started in 300 s"
        time.sleep(0.05)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while alive := [w for w in workers if os.path.exists(f"/proc/{w}")]:
        assert time.monotonic() < deadline, f"workers {alive} outlived their parent"
        time.sleep(0.05)


def test_a_network_of_no_registered_target_is_refused():
    with pytest.raises(TypeError, match=r"registered targets: \['akida', 'akida_v2', 'loihi'\]"):
        Emulation(object(), "runtime")


@pytest.fixture(scope="module")
def cluster(cache_dir):
    """Two single-threaded Dask worker processes on loopback, building into the test cache.

    Every message is unpickled off the main thread, as large network descriptions are.
    """
    import dask
    from distributed import LocalCluster

    with (
        dask.config.set({"distributed.comm.offload": 1}),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
            env={"NEUROEMU_CACHE": str(cache_dir)},
        ) as cluster,
    ):
        yield cluster


def test_dask_run_gives_the_single_process_traces(net, data, single, cluster, tmp_path):
    """Workers resolve the default cache on their own machine (here NEUROEMU_CACHE)."""
    out = tmp_path / "run.h5"
    traces = Emulation(net, batch_size=BATCH, record_events=True).run(
        *data, out=out, scheduler=cluster.scheduler_address
    )
    xr.testing.assert_identical(traces, single)
    xr.testing.assert_identical(load_traces(out), single)


def test_dask_rerun_of_an_interrupted_run_keeps_finished_shards(
    net, data, single, interrupted, cluster, tmp_path
):
    from distributed import Client

    name, sample = _resume_from(interrupted, tmp_path / "run.h5")
    sim = Emulation(net, batch_size=BATCH, record_events=True)
    with Client(cluster) as client:
        traces = sim.run(*data, out=tmp_path / "run.h5", scheduler=client)
    _assert_resumed(traces, single, name, sample)
    _assert_resumed(load_traces(tmp_path / "run.h5"), single, name, sample)


def test_cli_run_on_a_dask_scheduler(net, data, single, cluster, tmp_path, capsys):
    save_net(net, tmp_path / "net.npz")
    np.savez(tmp_path / "data.npz", x=data[0], y=data[1])
    out = tmp_path / "cli.h5"
    argv = ["run", str(tmp_path / "net.npz"), "--data", str(tmp_path / "data.npz"), "--out"]
    argv += [str(out), "--events", "--batch-size", str(BATCH)]
    main(argv + ["--scheduler", cluster.scheduler_address])
    assert f"{SAMPLES} samples in" in capsys.readouterr().out
    xr.testing.assert_identical(load_traces(out), single)


def test_scheduler_with_worker_processes_is_refused(net, data, cache_dir):
    with pytest.raises(ValueError, match="Dask cluster's workers run the batches"):
        _emulation(net, cache_dir).run(*data, workers=2, scheduler="tcp://127.0.0.1:1")


def test_scheduler_of_the_wrong_type_is_refused(net, data, cache_dir):
    with pytest.raises(TypeError, match="scheduler must be an address"):
        _emulation(net, cache_dir).run(*data, scheduler=8786)
