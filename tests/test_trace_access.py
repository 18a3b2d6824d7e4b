"""Lazy opening of trace files and shard directories, selections and their errors."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import xarray as xr
from trace_examples import random_net, reference_traces

from emu.traces import FORMAT_VERSION, TraceFormatError, save_traces
from emu.traces.access import (
    PartialRunWarning,
    SelectionError,
    layer_counts,
    missing_samples,
    open_traces,
    sample_events,
    select,
)
from emu.traces.analysis import summary
from emu.traces.store import shard_name
from neuroemu.commands.traces import format_summary


@pytest.fixture(scope="module")
def net():
    return random_net(seed=0, timesteps=24)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    return rng.random((30, 1, 4, 4)), rng.integers(0, 5, 30)


@pytest.fixture(scope="module")
def traces(net, data):
    return reference_traces(net, *data)


@pytest.fixture
def run_file(traces, tmp_path):
    return save_traces(traces, tmp_path / "run.h5")


def test_open_is_lazy_and_selections_match_the_eager_traces(traces, run_file):
    tr = open_traces(run_file)
    assert all(v.chunks is not None for v in tr.data_vars.values())
    part = select(tr, sample=[3, 7], layers="layer1", step=slice(2, 10))
    assert set(part.data_vars) >= {"spike_count_layer1", "spikes_per_step"}
    assert "spike_count_layer0" not in part
    expected = (
        traces["spikes_per_step"].sel(sample=[3, 7], layer=["layer1"]).isel(step=slice(2, 10))
    )
    np.testing.assert_array_equal(part["spikes_per_step"].values, expected.values)
    counts = layer_counts(tr, "layer0", sample=slice(4, 6), neuron=[0, 5])
    np.testing.assert_array_equal(
        counts.values, traces["spike_count_layer0"].values[4:7][:, [0, 5]]
    )
    assert missing_samples(tr) == []


def test_sample_events_rebuild_the_spike_counts(traces, run_file):
    tr = open_traces(run_file)
    raster = sample_events(tr, 11)
    for name in traces["layer"].values:
        steps, neurons = raster[str(name)]
        counts = np.bincount(neurons, minlength=tr.sizes[f"neuron_{name}"])
        np.testing.assert_array_equal(counts, traces[f"spike_count_{name}"].values[11])
        assert steps.size == 0 or steps.max() < tr.sizes["step"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sample": 30}, r"samples \[30\] are not recorded.*0\.\.29"),
        ({"sample": slice(25, 40)}, r"samples \[40\]"),
        ({"layers": ["nope"]}, r"layers \['nope'\] are not in the traces"),
        ({"step": 24}, r"step \[24\] outside the recorded 0\.\.23"),
        ({"step": slice(0, 99)}, r"step slice .* outside"),
    ],
)
def test_out_of_range_selections_say_what_is_recorded(run_file, kwargs, message):
    tr = open_traces(run_file)
    with pytest.raises(SelectionError, match=message):
        select(tr, **kwargs)


def test_out_of_range_neurons_and_event_samples(run_file, traces):
    tr = open_traces(run_file)
    with pytest.raises(SelectionError, match=r"neuron_layer2 \[5\] outside the recorded 0\.\.4"):
        layer_counts(tr, "layer2", neuron=[0, 5])
    with pytest.raises(SelectionError, match="not recorded"):
        sample_events(tr, -1)


def test_traces_without_events_say_so(traces, tmp_path):
    no_events = traces.drop_vars([v for v in traces.data_vars if str(v).startswith("event_")])
    tr = open_traces(save_traces(no_events, tmp_path / "plain.h5"))
    with pytest.raises(SelectionError, match="hold no events"):
        sample_events(tr, 0)


def test_a_file_that_is_not_a_trace_file(tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("not HDF5 at all")
    with pytest.raises(TraceFormatError, match="not a readable HDF5 trace file"):
        open_traces(text)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(TraceFormatError, match="not a neuroemu trace file"):
        open_traces(other)
    with pytest.raises(FileNotFoundError):
        open_traces(tmp_path / "absent.h5")


def test_a_newer_format_version_is_refused(traces, tmp_path):
    newer = traces.copy()
    newer.attrs["format_version"] = FORMAT_VERSION + 1
    path = save_traces(newer, tmp_path / "newer.h5")
    with pytest.raises(TraceFormatError, match=f"version {FORMAT_VERSION + 1}.*upgrade"):
        open_traces(path)


def _write_shards(traces: xr.Dataset, directory, chunk: int, keep) -> None:
    directory.mkdir()
    n = traces.sizes["sample"]
    (directory / "manifest.json").write_text(
        json.dumps({"total_samples": n, "chunk_size": chunk, "net_digest": "x"})
    )
    for first in range(0, n, chunk):
        last = min(first + chunk, n) - 1
        if first not in keep:
            continue
        part = traces.isel(sample=slice(first, last + 1))
        if "event_sample" in traces:
            hit = (traces["event_sample"].values >= first) & (traces["event_sample"].values <= last)
            part = part.isel(event=np.flatnonzero(hit))
        save_traces(part, directory / shard_name(first, last))


def test_complete_shards_open_as_the_whole_run(traces, tmp_path):
    _write_shards(traces, tmp_path / "run.h5.shards", 8, keep={0, 8, 16, 24})
    tr = open_traces(tmp_path / "run.h5")
    assert missing_samples(tr) == []
    for name in traces["layer"].values:
        var = f"spike_count_{name}"
        np.testing.assert_array_equal(tr[var].values, traces[var].values)
    np.testing.assert_array_equal(tr["saturation"].values, traces["saturation"].values)
    np.testing.assert_array_equal(
        np.sort(tr["event_neuron"].values), np.sort(traces["event_neuron"].values)
    )


def test_a_partial_run_opens_with_its_finished_part_and_names_the_rest(traces, tmp_path):
    _write_shards(traces, tmp_path / "run.h5.shards", 8, keep={0, 16})
    with pytest.warns(PartialRunWarning, match="16 of 30 samples; missing 8..15, 24..29"):
        tr = open_traces(tmp_path / "run.h5.shards")
    assert missing_samples(tr) == [(8, 15), (24, 29)]
    np.testing.assert_array_equal(tr["sample"].values, np.r_[0:8, 16:24])
    np.testing.assert_array_equal(
        tr["spike_count_layer1"].values, traces["spike_count_layer1"].values[np.r_[0:8, 16:24]]
    )
    steps, neurons = sample_events(tr, 17)["layer0"]
    np.testing.assert_array_equal(
        np.bincount(neurons, minlength=24), traces["spike_count_layer0"].values[17]
    )
    with pytest.raises(SelectionError, match=r"samples \[9\].*lacks \[\(8, 15\), \(24, 29\)\]"):
        select(tr, sample=9)
    table = format_summary(summary(tr))
    assert "missing     8..15, 24..29 (partial run)" in table
    assert "samples     16" in table


def test_a_shard_directory_without_manifest_or_shards(tmp_path):
    empty = tmp_path / "run.h5.shards"
    empty.mkdir()
    with pytest.raises(TraceFormatError, match="has no manifest.json"):
        open_traces(empty)
    (empty / "manifest.json").write_text(json.dumps({"total_samples": 4, "chunk_size": 2}))
    with pytest.raises(TraceFormatError, match="no finished shard"):
        open_traces(empty)
