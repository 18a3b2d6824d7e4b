"""Trace files: written atomically, readable by plain h5py, refused when foreign or corrupt."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from loihi_cases import random_net

from emu import Emulation, TraceFormatError, load_traces, save_traces


@pytest.fixture(scope="module")
def small_traces():
    rng = np.random.default_rng(3)
    net = random_net(rng, "bias", timesteps=12, sizes=(6, 4), n_in=5)
    samples = rng.random((7, 5))
    labels = rng.integers(0, 4, 7)
    return Emulation(net, "runtime", batch_size=4, record_events=True).run(samples, labels), net


def test_round_trip_and_plain_h5py_access(small_traces, tmp_path):
    traces, net = small_traces
    path = save_traces(traces, tmp_path / "run.h5")
    back = load_traces(path)
    for name in traces.data_vars:
        np.testing.assert_array_equal(back[name].values, traces[name].values)
    assert back.attrs["net_digest"] == net.digest()
    with h5py.File(path, "r") as f:
        counts = f[f"spike_count_{net.output.name}"][:]
        assert counts.shape == (7, net.output.size)
        assert f.attrs["format"] == "neuroemu-traces"
    assert traces.sizes["event"] == int(traces["spikes_per_step"].sum())
    assert not list(tmp_path.glob("*.part"))


def test_a_failed_write_leaves_no_file(small_traces, tmp_path):
    traces, _ = small_traces
    broken = traces.copy()
    broken.attrs["unserializable"] = object()
    with pytest.raises(Exception):  # noqa: B017 - whatever the writer raises, nothing may remain
        save_traces(broken, tmp_path / "run.h5")
    assert list(tmp_path.iterdir()) == []


def test_corrupt_and_foreign_files_are_refused(tmp_path):
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(TraceFormatError, match="not a readable HDF5"):
        load_traces(corrupt)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(TraceFormatError, match="not a neuroemu trace file"):
        load_traces(foreign)
    with pytest.raises(FileNotFoundError):
        load_traces(tmp_path / "missing.h5")


def test_labels_and_samples_must_match():
    rng = np.random.default_rng(4)
    net = random_net(rng, "bias", timesteps=5, sizes=(3,), n_in=4)
    with pytest.raises(ValueError, match="labels"):
        Emulation(net, "runtime").run(rng.random((3, 4)), np.zeros(2))
    with pytest.raises(ValueError, match="no samples"):
        Emulation(net, "runtime").run(np.zeros((0, 4)))
    with pytest.raises(ValueError, match="unknown device"):
        Emulation(net, "gpu")


def test_probed_u_and_v_are_stored_per_step(tmp_path):
    from emu.engines import loihi_reference as ref

    rng = np.random.default_rng(8)
    net = random_net(rng, "bias", timesteps=10, sizes=(5, 3), n_in=4)
    samples = rng.random((3, 4))
    probe = {"l0": [1, 3], "l1": [0]}
    Emulation(net, "runtime", probe=probe).run(samples, out=tmp_path / "p.h5")
    expected = ref.simulate(
        net, net.input.levels(samples), probe={k: np.asarray(v) for k, v in probe.items()}
    )
    stored = load_traces(tmp_path / "p.h5")
    np.testing.assert_array_equal(stored["v_l0"].values, expected.probes["l0.v"])
    np.testing.assert_array_equal(stored["u_l1"].values, expected.probes["l1.u"])
    assert list(stored["probe_l0"].values) == [1, 3]
